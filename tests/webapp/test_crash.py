"""Kill the server with SIGKILL while workers upload; after a restart nothing acknowledged is lost."""

import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from geo import services
from tests.factories import ALL_PASS, jpeg
from webapp.cli import init_instance
from webapp.settings import load_config


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(instance: Path, port: int, log: Path) -> subprocess.Popen:
    env = dict(os.environ, ONEMAP_INSTANCE=str(instance))
    onemap = Path(sys.executable).with_name("onemap")
    with log.open("a") as out:
        process = subprocess.Popen([str(onemap), "serve", "--port", str(port)], env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("server did not start: " + log.read_text())


def _multipart(report: dict, photo: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="report"\r\n\r\n'.encode()
        + json.dumps(report).encode() + b"\r\n",
        f'--{boundary}\r\nContent-Disposition: form-data; name="photos"; filename="p.jpg"\r\n'
        f"Content-Type: image/jpeg\r\n\r\n".encode() + photo + b"\r\n",
        f"--{boundary}--\r\n".encode(),
    ]
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def test_sigkill_during_uploads_loses_nothing_acknowledged(tmp_path):
    instance = tmp_path / "instance"
    config = load_config(env={"ONEMAP_INSTANCE": str(instance)})
    store, _ = init_instance(config)
    with store.unit_of_work(write=True) as uow:
        services.add_user("worker", "worker", "correct horse 9", uow=uow, actor="t", now=datetime.now(UTC))
    with store.unit_of_work(write=True) as uow:
        site = next(uow.sites.find(layer_id="sanitation_zones"))
        services.assign_sites("worker", [site.id], uow=uow, actor="t", now=datetime.now(UTC))
        token = services.issue_token("worker", uow=uow, actor="t", now=datetime.now(UTC))
    store.close()

    port, log = _free_port(), tmp_path / "serve.log"
    server = _serve(instance, port, log)
    photo = jpeg(size=(1600, 1200))  # big enough that a kill lands mid-request now and then
    acknowledged: list[str] = []
    stop = threading.Event()

    def upload():
        while not stop.is_set():
            report = {"uuid": str(uuid.uuid4()), "checklist": ALL_PASS, "metrics": {},
                      "observed_at": datetime.now(UTC).isoformat()}
            body, content_type = _multipart(report, photo)
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("POST", f"/api/v1/sites/{site.id}/reports", body,
                             {"Authorization": f"Bearer {token}", "Content-Type": content_type})
                if conn.getresponse().status == 201:
                    acknowledged.append(report["uuid"])
                conn.close()
            except OSError:
                return  # the server is gone

    threads = [threading.Thread(target=upload) for _ in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while len(acknowledged) < 8 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(server.pid, signal.SIGKILL)
    server.wait()
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    assert len(acknowledged) >= 8, log.read_text()

    server = _serve(instance, _free_port(), log)  # the restart recovers photos before serving
    server.terminate()
    server.wait(timeout=10)

    db = sqlite3.connect(instance / "onemap.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored = {row[0] for row in db.execute("SELECT uuid FROM reports")}
    assert set(acknowledged) <= stored  # every acknowledged report survived
    keys = {key for row in db.execute("SELECT original_key, display_key, thumbnail_key FROM photos")
            for key in row}
    db.close()
    media = instance / "media"
    files = {str(p.relative_to(media)) for p in (media / "photos").rglob("*") if p.is_file()}
    assert files == keys  # no orphan file, no photo row without its files
    assert len([k for k in keys if ".original." in k]) == len(stored)


def test_two_server_processes_store_concurrent_duplicates_once(tmp_path):
    """Phones retry against whichever server the balancer picks: the database decides, not a process lock."""
    instance = tmp_path / "instance"
    store, _ = init_instance(load_config(env={"ONEMAP_INSTANCE": str(instance)}))
    now = datetime.now(UTC)
    with store.unit_of_work(write=True) as uow:
        services.add_user("worker", "worker", "correct horse 9", uow=uow, actor="t", now=now)
    with store.unit_of_work(write=True) as uow:
        site = next(uow.sites.find(layer_id="sanitation_zones"))
        services.assign_sites("worker", [site.id], uow=uow, actor="t", now=now)
        token = services.issue_token("worker", uow=uow, actor="t", now=now)
    store.close()
    ports = [_free_port(), _free_port()]
    servers = [_serve(instance, port, tmp_path / f"serve-{port}.log") for port in ports]
    photo = jpeg(size=(800, 600))
    reports = [{"uuid": str(uuid.uuid4()), "checklist": ALL_PASS, "metrics": {},
                "observed_at": datetime.now(UTC).isoformat()} for _ in range(5)]
    answers: dict[str, list[tuple[int, int]]] = {r["uuid"]: [] for r in reports}
    start = threading.Barrier(20)

    def post(report: dict, port: int):
        body, content_type = _multipart(report, photo)
        start.wait()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", f"/api/v1/sites/{site.id}/reports", body,
                     {"Authorization": f"Bearer {token}", "Content-Type": content_type})
        response = conn.getresponse()
        answers[report["uuid"]].append((response.status, json.loads(response.read())["id"]))
        conn.close()

    try:
        threads = [threading.Thread(target=post, args=(report, ports[i % 2]))
                   for report in reports for i in range(4)]  # each report 4×, twice to each server
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)

    for report_uuid, got in answers.items():
        statuses = sorted(status for status, _ in got)
        assert statuses == [200, 200, 200, 201], (report_uuid, got)
        assert len({report_id for _, report_id in got}) == 1  # every answer names the same stored report
    db = sqlite3.connect(instance / "onemap.db")
    rows = db.execute("SELECT uuid, count(*) FROM reports GROUP BY uuid").fetchall()
    originals = db.execute("SELECT original_key FROM photos").fetchall()
    db.close()
    assert sorted(rows) == sorted((r["uuid"], 1) for r in reports)
    assert len(originals) == len(reports)
    media = instance / "media" / "photos"
    stored_originals = {str(p.relative_to(instance / "media")) for p in media.rglob("*.original.*")}
    assert stored_originals == {key for (key,) in originals}  # the losers removed the files they wrote
