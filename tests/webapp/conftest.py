"""Fixtures shared by the app's tests."""

from datetime import UTC, datetime

import pytest

from geo import services
from webapp.context import get_uow


@pytest.fixture
def zone(app):
    """A village zone assigned to `worker`."""
    with app.app_context(), get_uow(write=True) as uow:
        site = next(uow.sites.find(layer_id="sanitation_zones"))
        services.assign_sites("worker", [site.id], uow=uow, actor="test", now=datetime.now(UTC))
    return site
