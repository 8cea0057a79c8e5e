"""Every state-changing route, reached with a browser session, needs that session's CSRF token.

The routes come from the access matrix's RULES (itself checked against the app's URL map), so a new
POST, PATCH or DELETE route is covered the day it is added. Each is sent by a user allowed to use it,
once with no token and once with another session's token (what a forged cross-site form can carry):
both get 400 naming the CSRF token, and the database is byte for byte what it was.
"""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa

from tests.conftest import Auth
from tests.security.test_access_matrix import RULES, world  # noqa: F401 (a fixture)
from webapp.context import get_uow

CHANGING = sorted((key, rule) for key, rule in RULES.items() if key[1] in ("POST", "PATCH", "DELETE"))


def _who(expected: dict[str, str]) -> str | None:
    """A signed-in user the route lets past its access checks (an import token of nobody's: a manager)."""
    return next((role for role in ("manager", "admin", "worker") if expected[role] in ("in", "unseen")), None)


def _state(app) -> str:
    """A digest of every row of every table: any write, audit entry or session change shows."""
    digest = hashlib.sha256()
    with app.app_context(), get_uow() as uow:
        tables = sa.MetaData()
        tables.reflect(uow.connection)
        for table in tables.sorted_tables:
            for row in uow.connection.execute(sa.select(table).order_by(*table.columns)):
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


@pytest.mark.backends("sqlite")  # the check runs before any view; the views' own tests run on both
def test_every_state_changing_route_refuses_a_session_request_without_its_csrf_token(app, world):  # noqa: F811
    assert len(CHANGING) >= 15  # the planning, review, assignment, import, admin and filing routes
    forger = Auth(app.test_client())
    forger.login_as("planner")
    foreign = forger.csrf("/")  # a valid token, of another session
    wrong = []
    for (endpoint, method), (path, expected) in CHANGING:
        role = _who(expected)
        if endpoint in ("auth.login", "auth.logout") or role is None:
            continue  # the login form and logging out: tests/webapp/test_auth.py
        url = path.format(site=world["site"], report=world["report"], photo=world["photo"])
        client = app.test_client()
        Auth(client).login_as(role)
        before = _state(app)
        for token in (None, foreign):
            headers = {"X-CSRFToken": token} if token else {}
            response = client.open(url, method=method, headers=headers, data={"decision": "approve"})
            text = response.get_data(as_text=True)
            if response.status_code != 400 or "CSRF" not in text:
                wrong.append(f"{method} {url} as {role} with {'a foreign' if token else 'no'} token: "
                             f"HTTP {response.status_code} {text[:120]}")
        if _state(app) != before:
            wrong.append(f"{method} {url}: the database changed")
    assert not wrong, "\n".join(wrong)

