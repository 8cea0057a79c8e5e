"""`onemap backup DIR` and `onemap restore DIR`: a consistent copy of database and photos, and back.

On both backends: SQLite's online backup, PostgreSQL's pg_dump of one snapshot.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from geo import services
from geo.access import system_user
from geo.storage import open_store
from tests.factories import ALL_PASS, add_report
from webapp.cli import init_instance, main
from webapp.settings import load_config


@dataclass(frozen=True)
class Instance:
    folder: Path
    database_url: str

    @property
    def env(self) -> dict[str, str]:
        # ONEMAP_LANG=en: these tests read the command's English (its default is Chinese)
        return {"ONEMAP_INSTANCE": str(self.folder), "ONEMAP_DATABASE_URL": self.database_url,
                "ONEMAP_LANG": "en"}


@pytest.fixture
def instance(tmp_path, new_database):
    """``instance(name)``: a new instance folder with a new, empty database on this test's backend."""
    return lambda name: Instance(tmp_path / name, new_database(tmp_path / name))


def onemap(instance: Instance, *args):
    """Run `onemap` in-process on ``instance``; (exit code, output)."""
    result = CliRunner().invoke(main, [str(a) for a in args], env=instance.env)
    return result.exit_code, result.output


@pytest.fixture
def source(instance):
    """An instance with the dataset, a worker, and two reports with photos."""
    source = instance("source")
    config = load_config(env=source.env)
    store, _ = init_instance(config)
    now = datetime.now(UTC)
    with store.unit_of_work(write=True) as uow:
        services.add_user("worker", "worker", "correct horse 9", uow=uow, user=system_user("t"), now=now)
    with store.unit_of_work(write=True) as uow:
        zones = [s.id for s in uow.sites.find(layer_id="sanitation_zones", limit=2)]
        for n, zone in enumerate(zones):
            add_report(uow, zone, "worker", checklist=ALL_PASS, note=f"第{n}次", photos=2,
                       observed_at=now - timedelta(days=n), media_url=config.media_url)
        uow.commit()
    store.close()
    return source


def snapshot(instance: Instance) -> dict:
    """What a user would compare: sites, reports with photos, users, and the photo files' bytes."""
    store = open_store(instance.database_url)
    with store.unit_of_work() as uow:
        sites = [(s.id, s.layer_id, s.name, s.status, s.geometry.wkb, s.last_report_id)
                 for s in uow.sites.find()]
        reports = uow.reports.find(limit=10_000)
        users = [(u.username, u.role, u.active) for u in uow.users.all()]
        keys = sorted(uow.photos.keys())
    store.close()
    files = {key: (instance.folder / "media" / key).read_bytes() for key in keys}
    return {"sites": sites, "reports": reports, "users": users, "files": files}


def test_a_backup_restored_into_an_empty_instance_is_the_same_instance(source, instance, tmp_path):
    code, out = onemap(source, "backup", tmp_path / "backup")
    assert code == 0, out
    assert "4 photos" in out and "12 photo file(s)" in out
    target = instance("target")
    code, out = onemap(target, "restore", tmp_path / "backup")
    assert code == 0, out
    restored = snapshot(target)
    assert restored == snapshot(source)
    assert len(restored["reports"]) == 2 and len(restored["files"]) == 12
    code, out = onemap(target, "init")  # the restored instance is a working one
    assert code == 0 and "sites: 0 new" in out


def test_restore_refuses_an_instance_that_holds_data_unless_forced(source, instance, tmp_path):
    assert onemap(source, "backup", tmp_path / "backup")[0] == 0
    other = instance("other")
    init_instance(load_config(env=other.env))[0].close()
    before = snapshot(other)
    code, out = onemap(other, "restore", tmp_path / "backup")
    assert code != 0 and "already holds data" in out
    assert snapshot(other) == before
    code, out = onemap(other, "restore", tmp_path / "backup", "--force")
    assert code == 0, out
    assert snapshot(other) == snapshot(source)


def test_a_damaged_backup_is_refused_before_anything_is_written(source, instance, tmp_path):
    backup = tmp_path / "backup"
    assert onemap(source, "backup", backup)[0] == 0
    photo = next((backup / "media").rglob("*.original.jpg"))
    photo.write_bytes(photo.read_bytes()[:-10])
    target = instance("target")
    code, out = onemap(target, "restore", backup)
    assert code != 0 and photo.name in out and "changed since the backup" in out
    assert not (target.folder / "media").exists() or not any((target.folder / "media").rglob("*.jpg"))


def test_backup_never_writes_into_a_folder_that_holds_files(source, tmp_path):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("keep me")
    code, out = onemap(source, "backup", busy)
    assert code != 0 and "not empty" in out
    assert [p.name for p in busy.iterdir()] == ["notes.txt"]
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]  # nothing left half-written


def test_a_backup_taken_while_reports_arrive_is_consistent(source, instance, tmp_path):
    """Every photo row of the copy has its file; the copy restores and passes its own checks."""
    import threading
    import time

    from webapp.settings import load_config as config_for

    config = config_for(env=source.env)
    store = open_store(config.database_url)
    stop, filed = threading.Event(), []

    def file_reports():
        with store.unit_of_work() as uow:
            zone = next(uow.sites.find(layer_id="sanitation_zones"))
        while not stop.is_set():
            with store.unit_of_work(write=True) as uow:
                filed.append(add_report(uow, zone.id, "worker", checklist=ALL_PASS, photos=1,
                                        observed_at=datetime.now(UTC), media_url=config.media_url))
                uow.commit()

    writer = threading.Thread(target=file_reports)
    writer.start()
    try:
        while len(filed) < 3:
            time.sleep(0.01)
        code, out = onemap(source, "backup", tmp_path / "backup")
    finally:
        stop.set()
        writer.join(timeout=30)
        store.close()
    assert code == 0, out
    target = instance("target")
    code, out = onemap(target, "restore", tmp_path / "backup")
    assert code == 0, out
    restored = snapshot(target)  # reads every file a photo row names: none missing
    assert 2 < len(restored["reports"]) - 2 <= len(filed)


@pytest.mark.backends("sqlite")
def test_a_backup_restores_only_into_the_same_kind_of_database(source, tmp_path, postgres):
    assert onemap(source, "backup", tmp_path / "backup")[0] == 0
    name = postgres.create()
    try:
        target = Instance(tmp_path / "pg", postgres.url_of(name))
        code, out = onemap(target, "restore", tmp_path / "backup")
        assert code != 0 and "the backup is of a sqlite database" in out
        store = open_store(target.database_url)
        try:
            assert store.is_empty()  # nothing was written
        finally:
            store.close()
    finally:
        postgres.drop(name)
