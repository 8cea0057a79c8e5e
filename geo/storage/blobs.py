"""Where photo files live, chosen by URL: ``file://<folder>`` (embedded default).

Keys are relative paths made by OneMap itself (never from user input), so a key
cannot point outside the folder; ``path`` checks it anyway.
"""

from __future__ import annotations

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
        """Write a file whole: to a temporary name first, then renamed into place."""
        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        partial.write_bytes(data)
        partial.replace(target)


def open_blobs(url: str) -> LocalBlobs:
    if url.startswith("file://"):
        return LocalBlobs(Path(url.removeprefix("file://")))
    raise InvalidInput(f"unsupported media URL {url!r} (use file://<folder>)", field="ONEMAP_MEDIA_URL")
