"""Fixtures of the domain tests."""

import shutil

import pytest

from geo.storage import open_store


@pytest.fixture
def loaded_store(tmp_path, _loaded_template, loaded_database_url):
    """A store on a copy of the loaded Jinzhou instance (dataset and a user per role)."""
    shutil.copytree(_loaded_template, tmp_path / "instance")
    store = open_store(loaded_database_url)
    yield store
    store.close()
