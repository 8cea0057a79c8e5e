"""Backup and restore of an instance: its database and the photo files its rows refer to.

A backup is a folder: the store's consistent copy (``database.sqlite``, made with
SQLite's online backup API, or ``database.pgdump``, made by pg_dump from one exported
snapshot), ``media/`` (the files) and ``manifest.json`` (what is in it, with a sha256
per file). It is
built under a temporary name and renamed into place, so a folder with that name is
always complete. The database is copied first and the files after, taking only
the files the copied rows refer to: photos are written before their rows, so each
one is there; a photo filed during the backup is in neither.

A restore checks the whole backup (every file against its sha256, the database's
integrity) before it touches the instance, writes the files, then replaces the
database, so the instance never holds rows pointing to files not yet restored.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from geo.io.files import replace_atomically
from geo.messages import msg
from geo.model import Conflict, InvalidInput
from geo.storage import Store, UnitOfWork
from geo.storage.blobs import LocalBlobs

FORMAT = 1
MANIFEST = "manifest.json"
MEDIA = "media"


def _counts(uow: UnitOfWork) -> dict[str, int]:
    return {"sites": uow.sites.count(), "reports": uow.reports.count(),
            "photos": len(uow.photos.rows()), "users": len(uow.users.all()),
            "counties": uow.counties.count()}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def backup(store: Store, blobs, directory: Path, *, now: datetime) -> dict[str, Any]:
    """Write a backup of ``store`` and ``blobs`` into the new folder ``directory``; returns its manifest."""
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        raise InvalidInput(msg("backup_folder_not_empty", "{folder}: the folder is not empty; give a new one",
                               folder=directory), field="directory")
    directory.parent.mkdir(parents=True, exist_ok=True)
    with replace_atomically(directory) as partial:
        partial.mkdir()
        database = store.dump_name
        with store.snapshot(partial / database) as uow:
            keys, counts = sorted(uow.photos.keys()), _counts(uow)
        media, files, missing = LocalBlobs(partial / MEDIA), {}, []
        for key in keys:
            if not blobs.exists(key):  # a shown copy not made yet: the restored server makes it
                missing.append(key)
                continue
            data = blobs.read(key)
            media.put(key, data)
            files[key] = _sha256(data)
        manifest = {"format": FORMAT, "created_at": now.isoformat(), "database": database,
                    "backend": store.backend,
                    "database_sha256": _sha256((partial / database).read_bytes()), "counts": counts,
                    "files": files, "missing": missing}
        (partial / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1))
        if directory.exists():
            directory.rmdir()  # empty, checked above
    return manifest


def _manifest(directory: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except FileNotFoundError:
        raise InvalidInput(msg("not_a_backup", "{folder}: no {manifest}; not a OneMap backup",
                               folder=directory, manifest=MANIFEST), field="directory") from None
    except ValueError as exc:
        raise InvalidInput(msg("manifest_not_json", "{manifest}: not valid JSON ({detail})",
                               manifest=MANIFEST, detail=str(exc)), field=MANIFEST) from None
    if manifest.get("format") != FORMAT:
        raise InvalidInput(msg("backup_format", "{manifest}: backup format {value} is not {format}",
                               manifest=MANIFEST, value=repr(manifest.get("format")), format=FORMAT),
                           field=MANIFEST)
    return manifest


def verify(directory: Path) -> dict[str, Any]:
    """The manifest of a complete, undamaged backup; InvalidInput naming the first file that is not."""
    directory = Path(directory)
    manifest = _manifest(directory)
    database = directory / manifest["database"]
    if not database.is_file() or _sha256(database.read_bytes()) != manifest["database_sha256"]:
        raise InvalidInput(msg("backup_file_changed", "{file}: missing or changed since the backup",
                               file=manifest["database"]), field="database")
    for key, digest in manifest["files"].items():
        path = directory / MEDIA / key
        if not path.is_file() or _sha256(path.read_bytes()) != digest:
            raise InvalidInput(msg("backup_file_changed", "{file}: missing or changed since the backup",
                                   file=MEDIA + "/" + key), field=key)
    return manifest


def restore(store: Store, blobs, directory: Path, *, force: bool = False) -> dict[str, Any]:
    """Put a backup's photos and database into the instance; a non-empty one only with ``force``."""
    directory = Path(directory)
    manifest = verify(directory)
    made_by = manifest.get("backend", "sqlite")
    if made_by != store.backend:
        raise InvalidInput(msg("backup_backend", "{manifest}: the backup is of a {made_by} database; this "
                               "instance's database is {backend} (restore it into a {made_by} instance)",
                               manifest=MANIFEST, made_by=made_by, backend=store.backend), field="database")
    if not force and not store.is_empty():
        raise Conflict(msg("restore_not_empty", "the instance already holds data; restore into an empty "
                           "instance, or use --force to replace it"))
    for key in manifest["files"]:
        blobs.put(key, (directory / MEDIA / key).read_bytes())
    store.load(directory / manifest["database"])
    store.migrate()  # a backup made by an older version is brought up to date
    with store.unit_of_work() as uow:
        counts = _counts(uow)
    if counts != manifest["counts"]:
        raise InvalidInput(msg("restore_counts",
                               "restored counts {counts} differ from the backup's {expected}",
                               counts=str(counts), expected=str(manifest["counts"])), field="database")
    return manifest
