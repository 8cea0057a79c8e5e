"""Fifty phones file reports with photos for a minute, and the server is SIGKILLed halfway through.

What this proves, on each backend (the ``config`` fixture: SQLite and PostgreSQL/PostGIS):

- every answer is one a phone is meant to get: 201 for a new report, 200 for a report sent again
  (the same stored report), and connection errors only while the server is down;
- a report is stored once whatever the retries: the stored UUIDs are distinct, and they are exactly
  the UUIDs the phones got acknowledged (each phone sends a report until it is answered);
- after the kill and the restart, the database passes its integrity check and nothing acknowledged is
  missing; once past the orphan grace period a start leaves no photo file that no row refers to, and no
  row without its files;
- the server keeps a useful rate under this load, before and after the kill (printed and recorded as
  test properties: ``acks_per_second``, ``acks_per_second_before_kill``, ``acks_per_second_after_kill``).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import re
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from geo import accounts, inspections, services
from geo.access import system_user
from geo.storage import open_store
from tests.factories import ALL_PASS, jpeg
from tests.webapp.test_crash import (
    _free_port,
    _instance_with_worker,
    _multipart,
    _rows,
    _serve,
    wait_for_photo_files,
)

LOAD_SECONDS = 60  # the issue asks for 60 s of load: never less
CLIENTS = 50
KILL_AFTER = LOAD_SECONDS / 2
RESTART_PAUSE = 1.0  # s between the kill and the restart
RESEND_SHARE = 0.2  # of acknowledged reports sent again, as by a phone that lost the answer
BACKOFF = (0.05, 0.3)  # s a phone waits before sending again when the server does not answer
REQUEST_TIMEOUT = 30
KILL_GRACE = 2.0  # s after the restarted server listens in which a connection error is still the kill's
MIN_ACKS_PER_SECOND = 5.0  # loose: shared, noisy machines; a server that stalls is far below
# docs/deployment.md runs one machine as `onemap serve --workers 2`: gunicorn's threaded workers (8 threads
# each), so phones beyond the 16 threads wait in gunicorn's queue as they would in production.
SERVE = ("--workers", "2")


@dataclass(frozen=True)
class Attempt:
    """One sending of a report, as the phone saw it."""

    at: float  # time.monotonic() when it ended
    uuid: str
    resend: bool  # a deliberate second sending of a report already acknowledged
    status: int | None  # None: no answer (refused, reset, timed out)
    report_id: int | None = None
    body: str = ""  # kept for unintended answers only


@dataclass
class Phone:
    """A grid worker's phone: files one report after another on its site, each until it is answered."""

    number: int
    port: int
    site_id: int
    token: str
    photos: list[bytes]
    stop_at: float
    abort: threading.Event  # set when the test fails early: the phone stops at once
    attempts: list[Attempt] = field(default_factory=list)
    undelivered: list[str] = field(default_factory=list)
    crash: BaseException | None = None

    def run(self) -> None:
        rng = random.Random(self.number)
        try:
            while time.monotonic() < self.stop_at and not self.abort.is_set():
                report = {"uuid": str(uuid.uuid4()), "checklist": ALL_PASS, "metrics": {},
                          "note": f"phone {self.number}", "observed_at": datetime.now(UTC).isoformat()}
                body, content_type = _multipart(report, rng.choice(self.photos))
                answer = self._deliver(rng, report["uuid"], body, content_type)
                if answer == 201 and rng.random() < RESEND_SHARE:
                    self._deliver(rng, report["uuid"], body, content_type, resend=True)
        except BaseException as exc:  # kept for the test to fail with, rather than a dying thread
            self.crash = exc

    def _deliver(self, rng, report_uuid: str, body: bytes, content_type: str, *, resend=False) -> int | None:
        """Send until the server answers, backing off at random in between, as the phone's outbox does."""
        give_up_at = self.stop_at + 2 * REQUEST_TIMEOUT
        while time.monotonic() < give_up_at and not self.abort.is_set():
            try:
                status, text = _post(self.port, f"/api/v1/sites/{self.site_id}/reports", body, content_type,
                                     self.token)
            except (OSError, http.client.HTTPException):
                self.attempts.append(Attempt(time.monotonic(), report_uuid, resend, None))
                self.abort.wait(rng.uniform(*BACKOFF))
                continue
            intended = status in (200, 201)
            self.attempts.append(Attempt(time.monotonic(), report_uuid, resend, status,
                                         json.loads(text)["id"] if intended else None,
                                         "" if intended else text[:300]))
            return status
        self.undelivered.append(report_uuid)
        return None


def _post(port: int, path: str, body: bytes, content_type: str, token: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        conn.request("POST", path, body, {"Authorization": f"Bearer {token}", "Content-Type": content_type})
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def _phones_of_workers(config) -> list[tuple[int, str]]:
    """One grid worker per phone, each assigned a village zone of their own: (site id, token) each."""
    site, token = _instance_with_worker(config)
    pairs = [(site.id, token)]
    store = open_store(config.database_url)
    try:
        with store.unit_of_work() as uow:
            zones = [s.id for s in uow.sites.find(layer_id="sanitation_zones") if s.id != site.id]
        assert len(zones) >= CLIENTS - 1, "the dataset has too few village zones for one per phone"
        for n, zone in enumerate(zones[:CLIENTS - 1], start=2):
            name, when = f"worker{n}", datetime.now(UTC)
            with store.unit_of_work(write=True) as uow:
                services.add_user(name, "worker", f"phone {n} password", uow=uow, user=system_user("load"),
                                  now=when)
            with store.unit_of_work(write=True) as uow:
                accounts.assign_sites(name, [zone], uow=uow, user=system_user("load"), now=when)
                pairs.append((zone, services.issue_token(name, uow=uow, user=system_user("load"), now=when)))
    finally:
        store.close()
    return pairs


def _photos() -> list[bytes]:
    """Photos as phones send them (downscaled to at most 1600 px, ONEMAP_PHOTO_SIDE): tens of KB each."""
    rng = random.Random(0)
    return [jpeg(color=(rng.randrange(256), rng.randrange(256), rng.randrange(256)),
                 size=(width, width * 3 // 4)) for width in (1280, 1360, 1440, 1520, 1600, 1600)]


def _server_processes(pid: int) -> list[int]:
    """The gunicorn workers the server forked (its children, from any of its threads)."""
    children = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children += [int(c) for c in (task / "children").read_text().split()]
    return children


def _kill(server: subprocess.Popen) -> None:
    """SIGKILL the whole server, as a power cut or the OOM killer of its cgroup would."""
    workers = _server_processes(server.pid)
    os.kill(server.pid, signal.SIGKILL)  # the master first, so that it forks no replacement
    for pid in workers:
        with contextlib.suppress(ProcessLookupError):  # gone already
            os.kill(pid, signal.SIGKILL)
    server.wait()


def _wait_until_free(port: int, seconds: float = 15) -> None:
    """Until the port can be bound again (as gunicorn binds it, with SO_REUSEADDR)."""
    deadline = time.monotonic() + seconds
    while True:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
        time.sleep(0.05)


def _copies_missing(media: Path) -> int:
    """Photos whose thumbnail (made after the acknowledgement, with the shown copy) is still to be made."""
    return len(list(media.rglob("*.original.*"))) - len(list(media.rglob("*.thumbnail.*")))


def _note(log: Path, line: str) -> None:
    with log.open("a") as out:
        out.write(f"--- test: {line} ---\n")


def _stop(server: subprocess.Popen) -> None:
    server.terminate()
    server.wait(timeout=30)


@dataclass
class Load:
    started: float
    killed: float = 0.0
    restarted: float = 0.0  # when the restarted server listened
    ended: float = 0.0
    copies_missing_at_kill: int = 0  # photos whose shown copy and thumbnail were still to be made
    phones: list[Phone] = field(default_factory=list)


def _load_with_a_kill(config, port: int, log: Path, pairs: list[tuple[int, str]]) -> Load:
    """The phones file for LOAD_SECONDS; halfway the server is killed and restarted on the same port."""
    server = _serve(config, port, log, *SERVE)
    load = Load(started=time.monotonic())
    photos, abort = _photos(), threading.Event()
    load.phones = [Phone(n, port, site_id, token, photos, load.started + LOAD_SECONDS, abort)
                   for n, (site_id, token) in enumerate(pairs)]
    threads = [threading.Thread(target=phone.run) for phone in load.phones]
    try:
        for thread in threads:
            thread.start()
        time.sleep(KILL_AFTER)
        _note(log, "SIGKILL")
        load.killed = time.monotonic()
        _kill(server)
        time.sleep(RESTART_PAUSE)
        _wait_until_free(port)
        load.copies_missing_at_kill = _copies_missing(config.instance / "media")
        # Restarted at once (systemd's Restart=always): the files of requests the kill cut off are younger
        # than inspections.ORPHAN_AGE, so this start rightly keeps them. _serve allows a start 30 s, while
        # every phone waits.
        _note(log, f"restart; {load.copies_missing_at_kill} photos without their copies")
        server = _serve(config, port, log, *SERVE)
        load.restarted = time.monotonic()
    except BaseException:
        abort.set()  # report the failure now, not once every phone has given up
        raise
    finally:
        for thread in threads:
            if thread.ident is not None:
                thread.join(timeout=LOAD_SECONDS + 3 * REQUEST_TIMEOUT)
        load.ended = time.monotonic()
        _stop(server)
    assert not any(thread.is_alive() for thread in threads), "a phone is still sending"
    return load


def _start_past_the_grace_period(config, log: Path) -> int:
    """A later start, once the orphan grace period is over: how many unreferenced files it removed.

    The files can only be aged with no server running: while phones file, an aged file may be the photo
    of a filing in flight, which the sweep must spare. So the load is over and the server stopped first.
    """
    past = time.time() - 2 * inspections.ORPHAN_AGE.total_seconds()
    for file in (config.instance / "media").rglob("*"):
        os.utime(file, (past, past))
    _note(log, "start past the grace period")
    offset = log.stat().st_size
    server = _serve(config, _free_port(), log, *SERVE)  # it sweeps, listens, then makes missing copies
    wait_for_photo_files(config, timeout=900)  # thousands of copies: minutes on a busy machine
    _stop(server)
    swept = re.search(r"photos: (\d+) unreferenced file", log.read_text()[offset:])
    return int(swept.group(1)) if swept else 0


def _unintended(load: Load) -> list[str]:
    """Every answer or failure a phone is not meant to see, counted by kind, with a sample each."""
    window = (load.killed, load.restarted + KILL_GRACE)
    kinds: Counter[str] = Counter()
    samples: dict[str, str] = {}
    created: dict[str, int] = {}
    for phone in load.phones:
        if phone.crash is not None:
            kinds["phone crashed"] += 1
            samples.setdefault("phone crashed", repr(phone.crash))
        kinds["undelivered"] += len(phone.undelivered)
        for a in phone.attempts:
            kind = None
            if a.status is None and not window[0] <= a.at <= window[1]:
                kind = "no answer outside the kill"
            elif a.status is not None and a.status not in (200, 201):
                kind = f"status {a.status}"
            elif a.status == 201 and a.uuid in created:
                kind = "201 again for an acknowledged report"
            elif a.status == 200 and created.get(a.uuid, a.report_id) != a.report_id:
                kind = "200 naming another report"
            if a.status == 201:
                created[a.uuid] = a.report_id
            if kind:
                kinds[kind] += 1
                samples.setdefault(kind, f"{a.uuid} at +{a.at - load.started:.1f} s: {a.body}")
    return [f"{kind}: {count}× e.g. {samples.get(kind, '')}" for kind, count in kinds.items() if count]


def _rates(load: Load, acks: list[float]) -> dict[str, float]:
    def per_second(start: float, end: float) -> float:
        return sum(start <= at < end for at in acks) / (end - start)

    return {"acks_per_second": round(per_second(load.started, load.ended), 1),
            "acks_per_second_before_kill": round(per_second(load.started, load.killed), 1),
            "acks_per_second_after_kill": round(per_second(load.restarted, load.ended), 1)}


def test_fifty_phones_and_a_sigkill_lose_and_duplicate_nothing(tmp_path, config, record_property):
    began = time.monotonic()
    pairs = _phones_of_workers(config)
    port, log = _free_port(), tmp_path / "serve.log"
    load = _load_with_a_kill(config, port, log, pairs)
    swept = _start_past_the_grace_period(config, log)

    attempts = [a for phone in load.phones for a in phone.attempts]
    acknowledged = {a.uuid for a in attempts if a.status in (200, 201)}
    acks = sorted(a.at for a in attempts if a.status in (200, 201))
    back_at = next((at for at in acks if at > load.restarted), load.ended)  # first answer after the restart
    figures = {"backend": config.database_url.split(":")[0], "requests_sent": len(attempts),
               "acknowledged": len(acks), "created": sum(a.status == 201 for a in attempts),
               "resends_answered_200": sum(a.resend and a.status == 200 for a in attempts),
               "no_answer": sum(a.status is None for a in attempts),
               "down_seconds": round(back_at - load.killed, 1),
               "copies_missing_at_kill": load.copies_missing_at_kill, "orphans_swept": swept,
               **_rates(load, acks),
               "test_seconds": round(time.monotonic() - began, 1)}
    for name, value in figures.items():
        record_property(name, value)
    print("\nload and faults: " + ", ".join(f"{name}={value}" for name, value in figures.items()))
    server_log = log.read_text()

    errors = _unintended(load)
    assert not errors, "\n".join(errors) + "\n--- serve.log ---\n" + server_log[-5000:]
    stored = [uuid_ for (uuid_,) in _rows(config, "SELECT uuid FROM reports")]  # integrity_check ok on SQLite
    assert len(stored) == len(set(stored)), "a report was stored twice"
    assert set(stored) == acknowledged, (  # each phone sends until answered: stored means acknowledged
        f"acknowledged, not stored: {sorted(acknowledged - set(stored))[:5]}; "
        f"stored, never acknowledged: {sorted(set(stored) - acknowledged)[:5]}")
    photo_rows = _rows(config, "SELECT report_id, original_key, display_key, thumbnail_key FROM photos")
    referenced = {key for row in photo_rows for key in row[1:]}
    media = config.instance / "media"
    on_disk = {path.relative_to(media).as_posix() for path in media.rglob("*") if path.is_file()}
    assert on_disk == referenced, (f"orphan files: {sorted(on_disk - referenced)[:5]}; "
                                   f"missing files: {sorted(referenced - on_disk)[:5]}")
    assert len(photo_rows) == len({row[0] for row in photo_rows}) == len(stored)  # one photo per report
    assert swept <= CLIENTS, "more orphans than requests the kill can have cut off"
    assert figures["acks_per_second"] > MIN_ACKS_PER_SECOND, figures
    assert figures["acks_per_second_after_kill"] > MIN_ACKS_PER_SECOND, figures
