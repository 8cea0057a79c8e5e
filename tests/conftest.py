"""Fixtures: every test gets its own instance folder with a real database.

Which tests run on both backends (the rule): a test runs on SQLite and on PostgreSQL/PostGIS
when what it asserts comes out of the store's SQL — queries and filters, bbox, exports, OGC
paging, imports, planning and versions, history and as_of, filing exactly once, reviews,
assignments and who may see which site, backups, migrations, recompute, grid cells, times and
numbers as a store gives them back, text a backend may refuse to store. A test that would assert
the same whatever the store — login and sessions, CSRF, security headers and CSP, rate limits,
messages, catalogues and languages, page markup and escaping, narrow screens, accessibility,
upload size limits, parameter checks that answer before any query, the proxy, crash pages, and
the browser tests whose storage side is tested on both elsewhere — runs once, on SQLite: it says
so with ``pytestmark = pytest.mark.backends("sqlite")`` at the top of its module or
``@pytest.mark.backends("sqlite")`` on the test, with the reason beside it; in a module marked
SQLite-only, ``@pytest.mark.backends("sqlite", "postgis")`` puts a storage test back on both.

Tests that use a store or an app (the ``backend`` fixture, directly or through ``store``,
``config``, ``app``, ``client``, ``database_url`` …) are parametrized over the backends (the
geopandas ``engine`` fixture idea): SQLite in the instance folder, and PostgreSQL/PostGIS in a
database of its own, cloned from a template made once per session. The PostgreSQL server is
``ONEMAP_TEST_POSTGRES`` (default: the one .ci/run starts); without it the PostGIS runs skip on a
laptop and fail in CI. ``pytest --backends=sqlite`` (or ``postgis``) runs the storage tests on the
backends named only, and the run ends with a line saying what each backend covered.
"""

from __future__ import annotations

import os
import re
import uuid
from datetime import UTC, datetime

import pytest

from geo import accounts, services
from geo.access import system_user
from geo.layers import load_layers
from geo.storage import open_store
from webapp import create_app
from webapp.cli import init_instance
from webapp.context import get_uow
from webapp.settings import load_config

PASSWORD = "correct horse 9"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, reason: str):
    """Skip a test that needs an optional tool on a laptop; in CI the tool must be there."""
    if not condition:
        if IN_CI:
            pytest.fail(f"required in CI: {reason}")
        pytest.skip(reason)


BACKENDS = ("sqlite", "postgis")
POSTGRES = os.environ.get("ONEMAP_TEST_POSTGRES", "postgresql+psycopg://onemap:onemap@127.0.0.1:5432/postgres")
COVERED = pytest.StashKey[dict[str, str]]()  # test id → the backend it runs on


def pytest_addoption(parser):
    parser.addoption("--backends", default=",".join(BACKENDS), metavar="NAMES",
                     help="the storage backends to run the storage tests on, comma-separated "
                          f"(default: {','.join(BACKENDS)}); the others' runs are deselected")


def _chosen(config) -> tuple[str, ...]:
    names = tuple(n.strip() for n in config.getoption("backends").split(",") if n.strip())
    unknown = [n for n in names if n not in BACKENDS]
    if unknown or not names:
        raise pytest.UsageError(f"--backends: {','.join(unknown) or 'none'} not one of {','.join(BACKENDS)}")
    return names


def pytest_configure(config):
    config.addinivalue_line("markers", "backends(*names): run only on these storage backends")
    _chosen(config)


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("backends")
        metafunc.parametrize("backend", marker.args if marker else BACKENDS)


def pytest_collection_modifyitems(config, items):
    """Deselect the runs on backends --backends leaves out; remember which backend each run is on."""
    chosen, kept, left_out = _chosen(config), [], []
    covered = config.stash.setdefault(COVERED, {})
    for item in items:
        backend = getattr(item, "callspec", None) and item.callspec.params.get("backend")
        if backend and backend not in chosen:
            left_out.append(item)
            continue
        if backend:
            covered[item.nodeid] = backend
        kept.append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept


def pytest_terminal_summary(terminalreporter, config):
    """One line: how many tests ran on each backend, and why the ones skipped there were skipped,
    e.g. ``backends: sqlite 1160 tests (1160 passed), postgis 360 tests (360 skipped: no … server)``."""
    covered = config.stash.get(COVERED, {})
    if config.option.collectonly:
        counts = {name: sum(b == name for b in covered.values()) for name in _chosen(config)}
        terminalreporter.write_line("backends: " + ", ".join(f"{n} {c} tests" for n, c in counts.items()))
        return
    outcomes: dict[str, dict[str, str]] = {name: {} for name in BACKENDS}
    reasons: dict[str, set[str]] = {name: set() for name in BACKENDS}
    for outcome in ("passed", "skipped", "xfailed", "xpassed", "failed", "error"):  # the last one wins
        for report in terminalreporter.stats.get(outcome, []):
            backend = covered.get(getattr(report, "nodeid", None))
            if backend is None:
                continue
            outcomes[backend][report.nodeid] = outcome
            if outcome == "skipped" and isinstance(report.longrepr, tuple):
                reason = report.longrepr[2].removeprefix("Skipped: ").splitlines()[0]
                reasons[backend].add(reason if len(reason) <= 160 else reason[:159] + "…")
    chosen, parts = _chosen(config), []
    for name in BACKENDS:
        if name not in chosen:
            parts.append(f"{name} not run (--backends={','.join(chosen)})")
            continue
        counts: dict[str, int] = {}
        for outcome in outcomes[name].values():
            counts[outcome] = counts.get(outcome, 0) + 1
        said = ", ".join(f"{n} {'errors' if o == 'error' and n > 1 else o}"
                         for o, n in sorted(counts.items(), key=lambda c: -c[1]))
        why = "; ".join(sorted(reasons[name])[:2]) + ("; …" if len(reasons[name]) > 2 else "")
        parts.append(f"{name} {len(outcomes[name])} tests" + (f" ({said}{': ' + why if why else ''})"
                                                              if said else ""))
    terminalreporter.write_line("backends: " + ", ".join(parts))


class Postgres:
    """The test server: makes databases, each dropped when its test ends."""

    def __init__(self, admin_url: str):
        import sqlalchemy as sa

        self.url = sa.make_url(admin_url)
        self.engine = sa.create_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        self.templates: dict[str, str] = {}
        self.empty = f"onemap_template_{os.getpid()}"  # per session: test runs may overlap

    def _run(self, sql: str) -> None:
        with self.engine.connect() as connection:
            connection.exec_driver_sql(sql)

    def url_of(self, name: str) -> str:
        return self.url.set(database=name).render_as_string(hide_password=False)

    def create(self, template: str | None = None) -> str:
        name = f"onemap_test_{uuid.uuid4().hex[:12]}"
        self._run(f'CREATE DATABASE "{name}" TEMPLATE "{template or self.empty}"')
        return name

    def drop(self, name: str) -> None:
        self._run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres():
    """The PostgreSQL test server with an empty PostGIS template database."""
    import sqlalchemy as sa

    try:
        server = Postgres(POSTGRES)
        server._run(f"DROP DATABASE IF EXISTS {server.empty}")
        server._run(f"CREATE DATABASE {server.empty}")
        engine = sa.create_engine(server.url_of(server.empty), poolclass=sa.pool.NullPool)
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
        engine.dispose()
    except Exception as exc:  # no server, no driver or no PostGIS
        shown = sa.make_url(POSTGRES).render_as_string(hide_password=True)
        require(False, f"no PostgreSQL/PostGIS test server at {shown} ({type(exc).__name__}: {exc})")
    yield server
    for name in server.templates.values():
        server.drop(name)
    server.drop(server.empty)
    server.engine.dispose()


def _test_database(request, backend, tmp_path, template_fixture: str | None = None):
    """The database of one test: the SQLite file of its instance folder, or a PostGIS database
    cloned from a template (an empty one, or the fixture named) and dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'instance' / 'onemap.db'}"
        return
    server = request.getfixturevalue("postgres")
    name = server.create(template=request.getfixturevalue(template_fixture) if template_fixture else None)
    yield server.url_of(name)
    server.drop(name)


@pytest.fixture
def database_url(request, backend, tmp_path):
    """A new, empty database for this test."""
    yield from _test_database(request, backend, tmp_path)


@pytest.fixture
def new_database(request, backend):
    """``new_database(folder)``: the URL of another new, empty database on this test's backend (SQLite:
    ``folder/onemap.db``), for tests of more than one instance; dropped when the test ends."""
    made: list[str] = []

    def make(folder) -> str:
        if backend == "sqlite":
            return f"sqlite:///{folder / 'onemap.db'}"
        server = request.getfixturevalue("postgres")
        made.append(server.create())
        return server.url_of(made[-1])

    yield make
    for name in made:
        request.getfixturevalue("postgres").drop(name)


@pytest.fixture
def config(tmp_path, database_url):
    return load_config(env={"ONEMAP_INSTANCE": str(tmp_path / "instance"),
                            "ONEMAP_DATABASE_URL": database_url})


@pytest.fixture
def layers():
    return load_layers()


@pytest.fixture
def store(config):
    """A migrated, empty store."""
    store = open_store(config.database_url)
    store.migrate()
    yield store
    store.close()


def _load_template(config) -> None:
    store, _ = init_instance(config)
    from datetime import UTC, datetime

    with store.unit_of_work(write=True) as uow:
        for role in ("planner", "worker", "manager", "admin"):
            services.add_user(role, role, PASSWORD, uow=uow, user=system_user("test"), now=datetime.now(UTC))
    with store.unit_of_work(write=True) as uow:  # a second worker, for "own sites only" rules
        services.add_user("worker2", "worker", PASSWORD, uow=uow, user=system_user("test"),
                          now=datetime.now(UTC))
    store.close()


@pytest.fixture(scope="session")
def _loaded_template(tmp_path_factory):
    """One instance with the Jinzhou dataset and a user per role, copied for each app test."""
    folder = tmp_path_factory.mktemp("template")
    _load_template(load_config(env={"ONEMAP_INSTANCE": str(folder)}))
    return folder


@pytest.fixture(scope="session")
def _loaded_postgis(postgres, _loaded_template):
    """The same, as a PostGIS template database: cloning it is much faster than loading."""
    name = postgres.create()
    _load_template(load_config(env={"ONEMAP_INSTANCE": str(_loaded_template),
                                    "ONEMAP_DATABASE_URL": postgres.url_of(name)}))
    postgres.templates["loaded"] = name
    return name


@pytest.fixture
def loaded_database_url(request, backend, tmp_path):
    """A database holding the Jinzhou dataset and the test users (SQLite: in the copied instance)."""
    yield from _test_database(request, backend, tmp_path, "_loaded_postgis")


@pytest.fixture
def app_env():
    """Extra ONEMAP_* settings for the app under test; override in a module to change them."""
    return {}


@pytest.fixture
def app(tmp_path, _loaded_template, loaded_database_url, app_env):
    import shutil

    folder = tmp_path / "instance"
    shutil.copytree(_loaded_template, folder)
    app = create_app(load_config(env={"ONEMAP_INSTANCE": str(folder),
                                      "ONEMAP_DATABASE_URL": loaded_database_url, **app_env}))
    app.config["TESTING"] = True
    yield app
    app.extensions["onemap.store"].close()


@pytest.fixture
def client(app):
    return app.test_client()


class Auth:
    def __init__(self, client):
        self.client = client

    def csrf(self, path="/login") -> str:
        page = self.client.get(path).get_data(as_text=True)
        return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)

    def login(self, username, password=PASSWORD):
        return self.client.post("/login", data={"username": username, "password": password,
                                                "csrf_token": self.csrf()})

    def login_as(self, role):
        response = self.login(role)
        assert response.status_code == 302, response.get_data(as_text=True)
        return response


@pytest.fixture
def auth(client):
    return Auth(client)


@pytest.fixture
def zone(app):
    """A village zone assigned to `worker`."""
    with app.app_context(), get_uow(write=True) as uow:
        site = next(uow.sites.find(layer_id="sanitation_zones"))
        accounts.assign_sites("worker", [site.id], uow=uow, user=system_user("test"), now=datetime.now(UTC))
    return site
