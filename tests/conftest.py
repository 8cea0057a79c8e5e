"""Fixtures: every test gets its own instance folder with a real database.

Tests that use a store or an app run on every backend (the geopandas ``engine``
fixture idea): SQLite in the instance folder, and PostgreSQL/PostGIS in a database
of its own, cloned from a template made once per session. The PostgreSQL server is
``ONEMAP_TEST_POSTGRES`` (default: the one .ci/run starts); without it the PostGIS
runs skip on a laptop and fail in CI. ``@pytest.mark.backends("sqlite")`` limits a
test to the backends it is about.
"""

from __future__ import annotations

import os
import re
import uuid
from datetime import UTC, datetime

import pytest

from geo import services
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


def pytest_configure(config):
    config.addinivalue_line("markers", "backends(*names): run only on these storage backends")


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("backends")
        metafunc.parametrize("backend", marker.args if marker else BACKENDS)


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
    try:
        server = Postgres(POSTGRES)
        server._run(f"DROP DATABASE IF EXISTS {server.empty}")
        server._run(f"CREATE DATABASE {server.empty}")
        import sqlalchemy as sa

        engine = sa.create_engine(server.url_of(server.empty), poolclass=sa.pool.NullPool)
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
        engine.dispose()
    except Exception as exc:  # no server, no driver or no PostGIS
        require(False, f"no PostgreSQL/PostGIS test server at {POSTGRES} ({type(exc).__name__}: {exc})")
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
            services.add_user(role, role, PASSWORD, uow=uow, actor="test", now=datetime.now(UTC))
    with store.unit_of_work(write=True) as uow:  # a second worker, for "own sites only" rules
        services.add_user("worker2", "worker", PASSWORD, uow=uow, actor="test", now=datetime.now(UTC))
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
        services.assign_sites("worker", [site.id], uow=uow, actor="test", now=datetime.now(UTC))
    return site
