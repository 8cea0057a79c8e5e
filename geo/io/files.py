"""Files that appear whole or not at all: built under a temporary name beside their place, then renamed.

A rename within one folder is atomic, so a reader finds the old file or the new one, never
half of one, and whatever fails midway (a full disk, a bad feature, a client gone) removes
the temporary name. Every file OneMap writes goes through here: exports (geo.exports,
geo.report_exports, geo.io.write), photos (geo.storage.blobs) and backups (geo.backup).
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def write_atomically(path: Path, *, durable: bool = False,
                     temporary: Path | None = None) -> Iterator[BinaryIO]:
    """A binary file to write ``path``'s new content into; it replaces ``path`` when the block ends
    without an error and is removed when the block raises.

    ``durable``: the file and then its folder are flushed to disk (fsync) before this returns,
    so a power cut cannot lose it (a photo, which a row committed afterwards points to).
    ``temporary``: the name written under, beside ``path``; else a hidden name unique to the call.
    """
    path = Path(path)
    partial = temporary or path.with_name(f".{path.name}.partial-{secrets.token_hex(4)}")
    try:
        with open(partial, "wb") as out:
            yield out
            if durable:
                out.flush()
                os.fsync(out.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)  # a full disk should not keep the half-written part
        raise
    if durable:
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


@contextmanager
def replace_atomically(path: Path) -> Iterator[Path]:
    """A path to build ``path``'s new content at, for what a library writes by name (GDAL, with any
    file it puts beside it) or for a whole folder; moved into place when the block ends without an
    error. It lies in a private temporary folder beside ``path``, removed either way. A folder
    already at ``path`` must be empty.
    """
    path = Path(path)
    # The private folder's name holds no extension of path's: GDAL would take ".x.xlsx.abc/" for an archive.
    work = Path(tempfile.mkdtemp(dir=path.parent, prefix=".partial-"))
    try:
        built = work / path.name
        yield built
        os.replace(built, path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
