"""Where photo files live, chosen by URL: ``file://<folder>`` (embedded default).

Keys are relative paths made by OneMap itself (never from user input), so a key
cannot point outside the folder; ``path`` checks it anyway.
"""

from __future__ import annotations

import os
from pathlib import Path

from geo.model import InvalidInput, NotFound


class LocalBlobs:
    def __init__(self, root: Path):
        self.root = root.resolve()

    def path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root not in path.parents:
            raise NotFound(f"no file {key!r}")
        if not path.is_file():
            raise NotFound(f"photo file {key!r} is missing")
        return path

    def put(self, key: str, data: bytes) -> None:
        """Write a file whole and durably: temporary name, fsync, rename, fsync the folder.

        After ``put`` returns, a power cut cannot lose the file, so a database row
        committed afterwards never points to a missing photo.
        """
        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        with open(partial, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        partial.replace(target)
        folder = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)

    def read(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return (self.root / key).is_file()

    def delete(self, key: str) -> None:
        (self.root / key).unlink(missing_ok=True)

    def keys(self, prefix: str) -> list[str]:
        """Every file below ``prefix`` (relative keys), temporary ones included."""
        base = self.root / prefix
        return sorted(str(p.relative_to(self.root)) for p in base.rglob("*") if p.is_file())


def open_blobs(url: str) -> LocalBlobs:
    if url.startswith("file://"):
        return LocalBlobs(Path(url.removeprefix("file://")))
    raise InvalidInput(f"unsupported media URL {url!r} (use file://<folder>)", field="ONEMAP_MEDIA_URL")
