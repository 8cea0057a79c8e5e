"""The baseline of the report-ingest benchmark (issue #4): bare Flask + SQLite.

One endpoint takes the same multipart request as OneMap's
``POST /api/v1/sites/<id>/reports`` (a part ``report`` with JSON, parts
``photos``), saves each photo to a folder durably (write, fsync the file, fsync
the folder) and inserts one row into a SQLite table (WAL, synchronous=FULL,
busy timeout, BEGIN IMMEDIATE, like OneMap's store), then answers 201. No
authentication, no validation beyond reading the report's uuid, no decoding of
the photo, no derived copies: the least any durable ingest has to do.

    ONEMAP_BARE_DIR=/tmp/bare gunicorn -w 2 -b 127.0.0.1:8001 --chdir benchmarks "bare_ingest:create_app()"
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask, request

SCHEMA = """CREATE TABLE IF NOT EXISTS reports (
    id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, site_id INTEGER NOT NULL,
    body TEXT NOT NULL, photo_keys TEXT NOT NULL, received_at TEXT NOT NULL)"""


def connect(folder: Path) -> sqlite3.Connection:
    db = sqlite3.connect(folder / "bare.db", isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA busy_timeout = 10000")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    return db


def init_folder(folder: Path) -> None:
    """Create the photo folder and the table (idempotent); call before starting the workers."""
    (folder / "photos").mkdir(parents=True, exist_ok=True)
    db = connect(folder)
    db.execute(SCHEMA)
    db.close()


def save(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def create_app(folder: str | Path | None = None) -> Flask:
    folder = Path(folder or os.environ.get("ONEMAP_BARE_DIR", "bare-ingest")).resolve()
    init_folder(folder)
    app = Flask(__name__)
    local = threading.local()

    def db() -> sqlite3.Connection:
        if getattr(local, "db", None) is None:
            local.db = connect(folder)
        return local.db

    @app.post("/api/v1/sites/<int:site_id>/reports")
    def file_report(site_id: int):
        body = request.form.get("report")
        if body is None:
            return {"error": "bad_request", "message": "the part `report` is missing"}, 400
        report = json.loads(body)
        keys = []
        for photo in request.files.getlist("photos"):
            key = f"photos/{uuid.uuid4().hex}.jpg"
            save(folder / key, photo.read())
            keys.append(key)
        conn = db()
        conn.execute("BEGIN IMMEDIATE")
        try:
            cursor = conn.execute(
                "INSERT INTO reports (uuid, site_id, body, photo_keys, received_at) VALUES (?, ?, ?, ?, ?)",
                (str(report["uuid"]), site_id, body, json.dumps(keys), datetime.now(UTC).isoformat()))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return {"id": cursor.lastrowid, "uuid": report["uuid"], "photos": keys}, 201

    return app
