"""Account use cases on a real SQLite store: passwords, deactivation, taking sites away."""

from datetime import UTC, datetime

import pytest
import shapely

from geo import accounts, services
from geo.access import system_user
from geo.model import InvalidInput, NotFound, PermissionDenied, Site, User
from tests.factories import ALL_PASS, add_report

NOW = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
OLD, NEW = "old password 1", "new password 2"


@pytest.fixture
def world(store, layers):
    """An admin, a worker with three zones assigned and an API token, and a report by the worker."""
    with store.unit_of_work(write=True) as uow:
        for layer in layers.values():
            uow.layers.save(layer, NOW)
        ids = [uow.sites.add(Site(None, "sanitation_zones", f"村{n}", shapely.box(n, 0, n + 0.5, 0.5),
                                  "never_inspected"), NOW, actor="test") for n in range(5)]
        uow.commit()
    with store.unit_of_work(write=True) as uow:
        boss = services.add_user("boss", "admin", OLD, uow=uow, user=system_user("onemap init"), now=NOW)
    with store.unit_of_work(write=True) as uow:
        services.add_user("li", "worker", OLD, uow=uow, user=boss, now=NOW)
    with store.unit_of_work(write=True) as uow:
        accounts.assign_sites("li", ids[:3], uow=uow, user=boss, now=NOW)
    with store.unit_of_work(write=True) as uow:
        token = services.issue_token("li", uow=uow, user=boss, now=NOW)
    with store.unit_of_work(write=True) as uow:
        add_report(uow, ids[0], "li", checklist=ALL_PASS, observed_at=NOW)
        uow.commit()
    return {"store": store, "ids": ids, "token": token, "boss": boss}


def _login(store, username, password):
    with store.unit_of_work() as uow:
        return services.authenticate(username, password, uow=uow)


def _audit(store, target):
    with store.unit_of_work() as uow:
        return uow.audit.recent(target=target)


def test_reset_password_replaces_the_old_one(world):
    store = world["store"]
    with store.unit_of_work(write=True) as uow:
        accounts.reset_password("li", NEW, uow=uow, user=world["boss"], now=NOW)
    assert _login(store, "li", OLD) is None
    assert _login(store, "li", NEW).username == "li"
    entry = _audit(store, "user:li")[0]
    assert (entry.actor, entry.action, entry.at) == ("boss", "user.password", NOW)
    assert NEW not in str(entry.detail)  # never the password in the log


@pytest.mark.backends("sqlite")  # refused before any write
@pytest.mark.parametrize("username, password, error", [
    ("li", "short", InvalidInput),
    ("li", "", InvalidInput),
    ("nobody", NEW, NotFound),
])
def test_reset_password_refuses_bad_input_and_changes_nothing(world, username, password, error):
    store = world["store"]
    before = len(_audit(store, None))
    with store.unit_of_work(write=True) as uow, pytest.raises(error):
        accounts.reset_password(username, password, uow=uow, user=world["boss"], now=NOW)
    assert _login(store, "li", OLD).username == "li"
    assert len(_audit(store, None)) == before


def test_deactivated_user_cannot_log_in_nor_use_tokens_but_keeps_reports(world):
    store, token = world["store"], world["token"]
    with store.unit_of_work(write=True) as uow:
        user = accounts.set_active("li", False, uow=uow, user=world["boss"], now=NOW)
    assert user.active is False
    assert _login(store, "li", OLD) is None
    with store.unit_of_work() as uow:
        assert services.user_for_token(token, uow=uow) is None
        assert [r["username"] for r in uow.reports.find()] == ["li"]
        assert uow.assignments.site_ids(user.id) == set(world["ids"][:3])
    assert _audit(store, "user:li")[0].action == "user.deactivate"

    with store.unit_of_work(write=True) as uow:
        assert accounts.set_active("li", True, uow=uow, user=world["boss"], now=NOW).active is True
    assert _login(store, "li", OLD).username == "li"
    with store.unit_of_work() as uow:
        assert services.user_for_token(token, uow=uow).username == "li"
    assert _audit(store, "user:li")[0].action == "user.activate"


def test_setting_the_same_state_again_records_nothing(world):
    store = world["store"]
    before = len(_audit(store, "user:li"))
    with store.unit_of_work(write=True) as uow:
        assert accounts.set_active("li", True, uow=uow, user=world["boss"], now=NOW).active is True
    assert len(_audit(store, "user:li")) == before


@pytest.mark.backends("sqlite")  # refused before any write
def test_an_admin_cannot_deactivate_themselves(world):
    store = world["store"]
    with store.unit_of_work(write=True) as uow, pytest.raises(InvalidInput, match="your own"):
        accounts.set_active("boss", False, uow=uow, user=world["boss"], now=NOW)
    assert _login(store, "boss", OLD).username == "boss"


@pytest.mark.backends("sqlite")  # refused before any write
def test_deactivating_an_unknown_user_is_not_found(world):
    with world["store"].unit_of_work(write=True) as uow, pytest.raises(NotFound):
        accounts.set_active("nobody", False, uow=uow, user=world["boss"], now=NOW)


def test_unassign_takes_only_the_given_sites(world):
    store, ids = world["store"], world["ids"]
    with store.unit_of_work(write=True) as uow:
        removed = accounts.unassign_sites("li", [ids[1], ids[2], ids[4]], uow=uow, user=world["boss"],
                                          now=NOW)
    assert removed == [ids[1], ids[2]]  # ids[4] was never theirs
    with store.unit_of_work() as uow:
        li = uow.users.by_name("li")[0]
        assert uow.assignments.site_ids(li.id) == {ids[0]}
        assert uow.assignments.by_user() == {li.id: 1}
        assert uow.assignments.holders(ids) == {ids[0]: ["li"]}
    entry = _audit(store, "user:li")[0]
    assert (entry.action, entry.detail) == ("sites.unassign", {"site_ids": [ids[1], ids[2]]})


@pytest.mark.backends("sqlite")  # refused before any write
@pytest.mark.parametrize("username, site_ids, error", [("nobody", [1], NotFound), ("li", [], InvalidInput)])
def test_unassign_refuses_bad_input(world, username, site_ids, error):
    store = world["store"]
    with store.unit_of_work(write=True) as uow, pytest.raises(error):
        accounts.unassign_sites(username, site_ids, uow=uow, user=world["boss"], now=NOW)
    with store.unit_of_work() as uow:
        assert len(uow.assignments.site_ids(uow.users.by_name("li")[0].id)) == 3


def test_list_users_counts_assigned_sites(world):
    with world["store"].unit_of_work() as uow:
        rows = accounts.list_users(uow=uow, user=world["boss"])
    assert [(r.user.username, r.user.role, r.user.active, r.assigned) for r in rows] == [
        ("boss", "admin", True, 0), ("li", "worker", True, 3)]


@pytest.mark.backends("sqlite")  # refused before any write
@pytest.mark.parametrize("role, role_name", [("manager", "Manager"), ("planner", "Planner"),
                                             ("worker", "Grid worker")])
def test_account_work_is_an_admins_and_a_refusal_names_the_role(world, role, role_name):
    store = world["store"]
    someone = User(world["boss"].id, "someone", role)
    before = len(_audit(store, None))
    attempts = [
        lambda uow: services.add_user("wang", "worker", NEW, uow=uow, user=someone, now=NOW),
        lambda uow: services.issue_token("li", uow=uow, user=someone, now=NOW),
        lambda uow: accounts.reset_password("li", NEW, uow=uow, user=someone, now=NOW),
        lambda uow: accounts.set_active("li", False, uow=uow, user=someone, now=NOW),
        lambda uow: accounts.list_users(uow=uow, user=someone),
    ]
    for attempt in attempts:
        with (store.unit_of_work(write=True) as uow,
              pytest.raises(PermissionDenied, match=role_name) as refused):
            attempt(uow)
        assert refused.value.code == "forbidden" and "Administrator" in str(refused.value)
    assert _login(store, "li", OLD).username == "li"
    with store.unit_of_work() as uow:
        assert uow.users.by_name("wang") is None
    assert len(_audit(store, None)) == before


@pytest.mark.backends("sqlite")  # refused before any write
@pytest.mark.parametrize("role, role_name", [("planner", "Planner"), ("worker", "Grid worker")])
def test_assigning_sites_is_a_managers_work(world, role, role_name):
    store, ids = world["store"], world["ids"]
    someone = User(world["boss"].id, "someone", role)
    for use_case in (accounts.assign_sites, accounts.unassign_sites):
        with (store.unit_of_work(write=True) as uow,
              pytest.raises(PermissionDenied, match=role_name) as refused):
            use_case("li", ids[3:], uow=uow, user=someone, now=NOW)
        assert "Manager" in str(refused.value)
    with store.unit_of_work() as uow:
        assert uow.assignments.site_ids(uow.users.by_name("li")[0].id) == set(ids[:3])
