"""Guessing passwords or tokens is slowed down: failed logins and unknown tokens are counted per address."""

from datetime import UTC, datetime

import pytest

from geo import services
from geo.access import system_user
from tests.conftest import PASSWORD
from webapp.context import get_uow

pytestmark = pytest.mark.backends("sqlite")  # counted per address in memory, not in the database


def test_after_ten_failed_logins_in_a_minute_the_address_gets_429(client, auth):
    for _ in range(10):
        assert auth.login("manager", "wrong password").status_code == 401
    refused = auth.login("manager", PASSWORD)  # even the right password, for the rest of the minute
    assert refused.status_code == 429 and "Retry-After" in refused.headers


def test_successful_logins_are_not_counted(client, auth):
    for _ in range(12):
        assert auth.login("manager", PASSWORD).status_code == 302
        client.post("/logout", data={"csrf_token": auth.csrf("/")})


def test_after_twenty_unknown_tokens_in_a_minute_the_address_gets_429(app, client):
    with app.app_context(), get_uow(write=True) as uow:
        good = services.issue_token("planner", uow=uow, user=system_user("test"), now=datetime.now(UTC))
    for n in range(20):
        answer = client.get("/api/v1/layers", headers={"Authorization": f"Bearer guess-{n}"})
        assert answer.status_code == 401
    assert client.get("/api/v1/layers", headers={"Authorization": f"Bearer {good}"}).status_code == 429
    body = client.get("/api/v1/layers", headers={"Authorization": "Bearer guess-21"}).get_json()
    assert body["error"] == "too_many_requests" and "unknown token" in body["message"]
