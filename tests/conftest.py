"""Fixtures: every test gets its own instance folder with a real SQLite database."""

from __future__ import annotations

import os
import re

import pytest

from geo import services
from geo.layers import load_layers
from geo.storage import open_store
from webapp import create_app
from webapp.cli import init_instance
from webapp.settings import load_config

PASSWORD = "correct horse 9"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, reason: str):
    """Skip a test that needs an optional tool on a laptop; in CI the tool must be there."""
    if not condition:
        if IN_CI:
            pytest.fail(f"required in CI: {reason}")
        pytest.skip(reason)


@pytest.fixture
def config(tmp_path):
    return load_config(env={"ONEMAP_INSTANCE": str(tmp_path / "instance")})


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


@pytest.fixture(scope="session")
def _loaded_template(tmp_path_factory):
    """One instance with the Jinzhou dataset and a user per role, copied for each app test."""
    folder = tmp_path_factory.mktemp("template")
    config = load_config(env={"ONEMAP_INSTANCE": str(folder)})
    store, _ = init_instance(config)
    from datetime import UTC, datetime

    with store.unit_of_work(write=True) as uow:
        for role in ("planner", "worker", "manager", "admin"):
            services.add_user(role, role, PASSWORD, uow=uow, actor="test", now=datetime.now(UTC))
    with store.unit_of_work(write=True) as uow:  # a second worker, for "own sites only" rules
        services.add_user("worker2", "worker", PASSWORD, uow=uow, actor="test", now=datetime.now(UTC))
    store.close()
    return folder


@pytest.fixture
def app_env():
    """Extra ONEMAP_* settings for the app under test; override in a module to change them."""
    return {}


@pytest.fixture
def app(tmp_path, _loaded_template, app_env):
    import shutil

    folder = tmp_path / "instance"
    shutil.copytree(_loaded_template, folder)
    app = create_app(load_config(env={"ONEMAP_INSTANCE": str(folder), **app_env}))
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
