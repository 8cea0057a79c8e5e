"""Server processes for real: killed with SIGKILL while workers upload, several on one database.

Each test runs on both backends (the ``config`` fixture): SQLite in the instance
folder, and PostgreSQL/PostGIS, where the servers could as well be on several machines.
"""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from geo import accounts, services
from geo.access import system_user
from geo.storage import open_store
from tests.factories import ALL_PASS, jpeg
from webapp.cli import init_instance


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(config, port: int, log: Path, *options: str) -> subprocess.Popen:
    env = dict(os.environ, ONEMAP_INSTANCE=str(config.instance), ONEMAP_DATABASE_URL=config.database_url)
    onemap = Path(sys.executable).with_name("onemap")
    with log.open("a") as out:
        process = subprocess.Popen([str(onemap), "serve", "--port", str(port), *options], env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    process.wait()
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


def _instance_with_worker(config):
    """A new instance with the dataset and a worker assigned one village zone: (that site, a token)."""
    store, _ = init_instance(config)
    now = datetime.now(UTC)
    with store.unit_of_work(write=True) as uow:
        services.add_user("worker", "worker", "correct horse 9", uow=uow, user=system_user("t"), now=now)
    with store.unit_of_work(write=True) as uow:
        site = next(uow.sites.find(layer_id="sanitation_zones"))
        accounts.assign_sites("worker", [site.id], uow=uow, user=system_user("t"), now=now)
        token = services.issue_token("worker", uow=uow, user=system_user("t"), now=now)
    store.close()
    return site, token


def _together(threads: list[threading.Thread], servers: list[subprocess.Popen]) -> None:
    """Run the client threads to their end, then stop the servers whatever happened."""
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)


def _call(port: int, method: str, path: str, body, content_type: str, token: str) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(method, path, body, {"Authorization": f"Bearer {token}", "Content-Type": content_type})
    response = conn.getresponse()
    answer = (response.status, json.loads(response.read()))
    conn.close()
    return answer


def _rows(config, sql: str) -> list[tuple]:
    store = open_store(config.database_url)
    try:
        with store.unit_of_work() as uow:
            if config.database_url.startswith("sqlite"):
                assert uow.connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            return [tuple(row) for row in uow.connection.execute(sa.text(sql))]
    finally:
        store.close()


def test_sigkill_during_uploads_loses_nothing_acknowledged(tmp_path, config):
    instance = config.instance
    site, token = _instance_with_worker(config)

    port, log = _free_port(), tmp_path / "serve.log"
    server = _serve(config, port, log)
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

    # The restart comes after the grace period in which an unreferenced file may still be another
    # server's filing in flight (inspections.ORPHAN_AGE): the files are aged as if it did.
    aged = time.time() - 3600
    for path in (instance / "media").rglob("*"):
        os.utime(path, (aged, aged))
    server = _serve(config, _free_port(), log)  # the restart sweeps orphans, then makes missing copies
    keys, files = wait_for_photo_files(config)
    server.terminate()
    server.wait(timeout=10)

    stored = {row[0] for row in _rows(config, "SELECT uuid FROM reports")}
    assert set(acknowledged) <= stored  # every acknowledged report survived
    assert files == keys, log.read_text()  # no orphan file, no photo row without its files
    assert len([k for k in keys if ".original." in k]) == len(stored)


def wait_for_photo_files(config, timeout: float = 120) -> tuple[set[str], set[str]]:
    """(keys the photos table names, files in the photo folder), once they match or at ``timeout``: a
    started server makes the missing copies after it listens."""
    media = config.instance / "media"
    deadline = time.monotonic() + timeout
    while True:
        keys = {key for row in _rows(config, "SELECT original_key, display_key, thumbnail_key FROM photos")
                for key in row}
        files = {str(p.relative_to(media)) for p in (media / "photos").rglob("*") if p.is_file()}
        if files == keys or time.monotonic() > deadline:
            return keys, files
        time.sleep(0.2)


def test_two_server_processes_store_concurrent_duplicates_once(tmp_path, config):
    """Phones retry against whichever server the balancer picks: the database decides, not a process lock.

    One server is a single waitress process, the other `onemap serve --workers 2` (gunicorn)."""
    instance = config.instance
    site, token = _instance_with_worker(config)
    ports = [_free_port(), _free_port()]
    servers = [_serve(config, ports[0], tmp_path / "serve-0.log"),
               _serve(config, ports[1], tmp_path / "serve-1.log", "--workers", "2")]
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

    _together([threading.Thread(target=post, args=(report, ports[i % 2]))
               for report in reports for i in range(4)], servers)  # each report 4×, twice to each server

    for report_uuid, got in answers.items():
        statuses = sorted(status for status, _ in got)
        assert statuses == [200, 200, 200, 201], (report_uuid, got)
        assert len({report_id for _, report_id in got}) == 1  # every answer names the same stored report
    rows = _rows(config, "SELECT uuid, count(*) FROM reports GROUP BY uuid")
    originals = _rows(config, "SELECT original_key FROM photos")
    assert sorted(rows) == sorted((r["uuid"], 1) for r in reports)
    assert len(originals) == len(reports)
    media = instance / "media" / "photos"
    stored_originals = {str(p.relative_to(instance / "media")) for p in media.rglob("*.original.*")}
    assert stored_originals == {key for (key,) in originals}  # the losers removed the files they wrote


def test_two_server_processes_decide_each_review_once(tmp_path, config):
    """Two managers on two servers decide the same reports at the same moment: one decision each counts."""
    site, worker = _instance_with_worker(config)
    store = open_store(config.database_url)
    with store.unit_of_work(write=True) as uow:
        services.add_user("manager", "manager", "correct horse 9", uow=uow, user=system_user("t"),
                          now=datetime.now(UTC))
    with store.unit_of_work(write=True) as uow:
        manager = services.issue_token("manager", uow=uow, user=system_user("t"), now=datetime.now(UTC))
    store.close()
    ports = [_free_port(), _free_port()]
    servers = [_serve(config, port, tmp_path / f"serve-{port}.log") for port in ports]
    try:
        report_ids = []
        for hour in range(6):
            report = {"uuid": str(uuid.uuid4()), "checklist": ALL_PASS, "metrics": {},
                      "observed_at": datetime(2026, 5, 1, hour, tzinfo=UTC).isoformat()}
            body, content_type = _multipart(report, jpeg(size=(64, 48)))
            status, stored = _call(ports[0], "POST", f"/api/v1/sites/{site.id}/reports", body, content_type,
                                   worker)
            assert status == 201, stored
            report_ids.append(stored["id"])
    except BaseException:
        _together([], servers)
        raise
    answers: dict[int, list[tuple[str, int]]] = {i: [] for i in report_ids}
    start = threading.Barrier(2 * len(report_ids))

    def decide(report_id, decision, port):
        body = json.dumps({"decision": decision, "comment": f"{decision} from {port}"})
        start.wait()
        status, _ = _call(port, "POST", f"/api/v1/reports/{report_id}/review", body, "application/json",
                          manager)
        answers[report_id].append((decision, status))

    both = (("approve", ports[0]), ("reject", ports[1]))
    _together([threading.Thread(target=decide, args=(report_id, decision, port))
               for report_id in report_ids for decision, port in both], servers)

    stored = dict(_rows(config, "SELECT id, review_status FROM reports"))
    audited = _rows(config, "SELECT target, count(*) FROM audit_log WHERE action IN "
                            "('report.approve', 'report.reject') GROUP BY target")
    for report_id, got in answers.items():
        assert sorted(status for _, status in got) == [200, 409], got
        winner = next(decision for decision, status in got if status == 200)
        assert stored[report_id] == ("approved" if winner == "approve" else "rejected")
    assert sorted(audited) == sorted((f"report:{i}", 1) for i in report_ids)  # one decision recorded each
    # The site's latest inspection follows the decisions: the newest report that was not rejected.
    kept = [i for i in report_ids if stored[i] == "approved"]
    latest = _rows(config, f"SELECT last_report_id FROM sites WHERE id = {site.id}")[0][0]
    assert latest == (max(kept) if kept else None)


def test_start_up_sweep_spares_a_file_another_server_is_filing(app):
    """A server starting beside others removes files left by dead requests, not those of filings in flight."""
    from webapp.cli import recover_photos

    config = app.config["ONEMAP"]
    media = config.instance / "media" / "photos" / "in-flight"
    media.mkdir(parents=True)
    fresh, stale = media / "0.original.jpg", media / "1.original.jpg"
    fresh.write_bytes(jpeg())
    stale.write_bytes(jpeg())
    aged = time.time() - 3600  # written an hour ago: its request is long dead
    os.utime(stale, (aged, aged))
    recover_photos(config, app.extensions["onemap.store"])
    assert fresh.exists() and not stale.exists()
