"""The storage backends a benchmark runs OneMap on: SQLite in the instance folder, or PostGIS.

For PostGIS a benchmark gets a fresh database on the server of ``--postgres`` (an
admin URL), named ``bench_<topic>_<random>`` with the extension created, and the
database is dropped when the benchmark ends, whatever happened. The instance is then
built through OneMap's own code with ``ONEMAP_DATABASE_URL`` pointing at it, exactly as
for SQLite; the instance folder still holds the photos and the secret key.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

BACKENDS = ("sqlite", "postgis")
LABELS = {"sqlite": "SQLite", "postgis": "PostGIS"}
DEFAULT_POSTGRES = "postgresql+psycopg://onemap:onemap@127.0.0.1:5432/postgres"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=(*BACKENDS, "both"), default="both",
                        help="storage backend(s) to run OneMap on (default both)")
    parser.add_argument("--postgres", default=os.environ.get("ONEMAP_BENCH_POSTGRES", DEFAULT_POSTGRES),
                        help="admin URL of the PostgreSQL/PostGIS server that gets the throw-away database "
                             "(default $ONEMAP_BENCH_POSTGRES or %(default)s)")


def chosen(args: argparse.Namespace) -> list[str]:
    return list(BACKENDS) if args.backend == "both" else [args.backend]


class PostgisServer:
    """The server benchmarks create their databases on; every call is a short autocommit connection."""

    def __init__(self, admin_url: str):
        self.url = sa.make_url(admin_url)
        self.engine = sa.create_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)

    def run(self, sql: str, database: str | None = None, **params) -> list:
        engine = self.engine if database is None else sa.create_engine(
            self.url_of(database), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with engine.connect() as connection:
            result = connection.execute(sa.text(sql), params)
            return result.all() if result.returns_rows else []

    def url_of(self, database: str) -> str:
        return self.url.set(database=database).render_as_string(hide_password=False)

    def versions(self, database: str) -> str:
        """The "PostgreSQL / PostGIS" versions, asked in a database that has the extension."""
        server = self.run("SHOW server_version")[0][0].split()[0]
        return f"{server} / {self.run('SELECT postgis_lib_version()', database)[0][0]}"

    def describe(self, database: str) -> dict[str, str]:
        """Rows for the machine table of RESULTS.md."""
        return {"PostgreSQL / PostGIS": self.versions(database),
                "PostgreSQL durability (benchmark database)": self.durability(database)}

    @contextlib.contextmanager
    def database(self, topic: str, keep: bool = False) -> Iterator[str]:
        """A new database with PostGIS for the block; dropped after it (connections forced out)
        unless ``keep``."""
        name = f"bench_{topic}_{uuid.uuid4().hex[:8]}"
        self.run(f'CREATE DATABASE "{name}"')
        try:
            self.run("CREATE EXTENSION postgis", name)
            # PostgreSQL's default, which a server tuned for tests may have turned off; ours only.
            self.run(f'ALTER DATABASE "{name}" SET synchronous_commit = on')
            yield name
        finally:
            if not keep:
                self.run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def durability(self, database: str) -> str:
        """fsync (server-wide) and synchronous_commit as a connection to ``database`` sees them."""
        rows = self.run("SELECT current_setting('fsync'), current_setting('synchronous_commit')", database)
        return f"fsync={rows[0][0]}, synchronous_commit={rows[0][1]}"

    def size_mb(self, database: str) -> float:
        return self.run("SELECT pg_database_size(:d)", d=database)[0][0] / 1e6

    def backend_pids(self, database: str) -> list[int]:
        """Server processes serving connections to ``database`` (the app's pooled connections)."""
        return [row[0] for row in self.run("SELECT pid FROM pg_stat_activity WHERE datname = :d", d=database)]

    @contextlib.contextmanager
    def session_states(self, database: str, every: float = 0.02) -> Iterator[dict[str, float]]:
        """While the block runs, sample what the sessions of ``database`` are doing; afterwards the dict
        holds the average number of sessions per state (and ``samples``)."""
        averages: dict[str, float] = {}
        done = threading.Event()
        thread = threading.Thread(target=self._sample, args=(database, every, done, averages), daemon=True)
        thread.start()
        try:
            yield averages
        finally:
            done.set()
            thread.join()

    def _sample(self, database: str, every: float, done: threading.Event, averages: dict) -> None:
        counts, samples = Counter(), 0
        query = sa.text("SELECT state, wait_event_type, wait_event, count(*) FROM pg_stat_activity"
                        " WHERE datname = :d AND pid <> pg_backend_pid() GROUP BY 1, 2, 3")
        with self.engine.connect() as connection:
            while not done.wait(every):
                samples += 1
                for state, wait_type, wait, n in connection.execute(query, {"d": database}):
                    counts[_session_state(state, wait_type, wait)] += n
        averages.update({state: n / max(1, samples) for state, n in counts.items()}, samples=samples)

    def close(self) -> None:
        self.engine.dispose()


def _session_state(state: str | None, wait_type: str | None, wait: str | None) -> str:
    if state == "active" and wait == "advisory":
        return "waiting for the advisory write lock"
    if state == "active":
        return "running a statement" + (f" (waiting: {wait_type} {wait})" if wait_type else "")
    if state == "idle in transaction":
        return "in a transaction, waiting for the app's next statement"
    return "idle between units of work (pooled)" if state == "idle" else str(state)


@contextlib.contextmanager
def instance_env(backend: str, folder: Path, server: PostgisServer | None, topic: str,
                 keep: bool = False) -> Iterator[dict]:
    """The ONEMAP_* settings of an instance in ``folder`` on ``backend``, valid inside the block.

    ``database`` names the PostGIS database (None on SQLite), for its size and server CPU;
    with ``keep`` it outlives the block (``--keep``: to profile it again later).
    """
    folder.mkdir(parents=True, exist_ok=True)
    if backend == "sqlite":
        yield {"ONEMAP_INSTANCE": str(folder), "ONEMAP_DATABASE_URL": f"sqlite:///{folder / 'onemap.db'}",
               "database": None}
        return
    with server.database(topic, keep) as name:
        yield {"ONEMAP_INSTANCE": str(folder), "ONEMAP_DATABASE_URL": server.url_of(name), "database": name}


def onemap_env(env: dict) -> dict[str, str]:
    """Only the ONEMAP_* settings of an ``instance_env`` (for load_config and child processes)."""
    return {k: v for k, v in env.items() if k.startswith("ONEMAP_")}


def size_mb(env: dict, server: PostgisServer | None) -> float:
    if env["database"] is None:
        return Path(sa.make_url(env["ONEMAP_DATABASE_URL"]).database).stat().st_size / 1e6
    return server.size_mb(env["database"])
