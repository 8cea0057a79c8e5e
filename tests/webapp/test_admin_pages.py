"""Admin pages: users — create, reset a password, deactivate / reactivate, and who may do it."""

from datetime import UTC, datetime

import pytest

from geo import accounts, services
from geo.access import system_user
from tests.conftest import PASSWORD
from tests.factories import ALL_PASS, add_report
from webapp.context import get_uow

# Pages and forms; accounts run on both in tests/geo/test_accounts.py.
pytestmark = pytest.mark.backends("sqlite")

NEW_PASSWORD = "another horse 7"


@pytest.fixture
def admin(auth):
    auth.login_as("admin")
    auth.token = auth.csrf("/admin/users")
    return auth


def _logout(auth):
    auth.client.post("/logout", data={"csrf_token": auth.csrf("/")})


def _user(app, username):
    with app.app_context(), get_uow() as uow:
        found = uow.users.by_name(username)
    return found[0] if found else None


def _row(page, username):
    return page.split(f'data-user="{username}"')[1].split("</tr>")[0]


@pytest.mark.backends("sqlite", "postgis")  # counted in SQL
def test_users_are_listed_with_role_state_and_assigned_sites(app, client, admin):
    with app.app_context(), get_uow(write=True) as uow:
        ids = [s.id for s in uow.sites.find(layer_id="sanitation_zones", limit=3)]
        accounts.assign_sites("worker", ids, uow=uow, user=system_user("test"), now=datetime.now(UTC))
    page = client.get("/admin/users").get_data(as_text=True)
    for name in ("admin", "manager", "planner", "worker", "worker2"):
        assert f'data-user="{name}"' in page
    worker = _row(page, "worker")
    assert "网格员" in worker and "启用" in worker and ">3</a>" in worker
    assert "/admin/users/worker/password" in worker and "/admin/users/worker/active" in worker
    assert "/admin/users/admin/active" not in _row(page, "admin")  # no button to lock yourself out
    english = client.get("/admin/users?lang=en").get_data(as_text=True)
    assert "Grid worker" in english and "Create user" in english


def test_created_user_can_log_in(app, client, admin):
    response = client.post("/admin/users", data={
        "csrf_token": admin.token, "username": "zhang.san", "role": "worker", "display_name": "张三",
        "password": "secret pw 123"})
    assert response.status_code == 302
    assert "已创建用户 zhang.san" in client.get("/admin/users").get_data(as_text=True)
    user = _user(app, "zhang.san")
    assert (user.role, user.display_name, user.active) == ("worker", "张三", True)
    _logout(admin)
    assert admin.login("zhang.san", "secret pw 123").status_code == 302


@pytest.mark.parametrize("data, status, words", [
    ({"username": "worker", "role": "worker", "password": "long enough 1"}, 409, "已存在"),
    ({"username": "li", "role": "worker", "password": "short"}, 422, "密码至少 8 位"),
    ({"username": "li", "role": "boss", "password": "long enough 1"}, 422, "role"),
    ({"username": "a b", "role": "worker", "password": "long enough 1"}, 422, "username"),
])
def test_bad_new_user_shows_the_message_beside_the_form(app, client, admin, data, status, words):
    response = client.post("/admin/users", data={"csrf_token": admin.token, "display_name": "李四", **data})
    assert response.status_code == status
    page = response.get_data(as_text=True)
    form = page.split('class="create-user"')[1]
    assert 'class="form-error"' in form and words in form
    assert 'value="李四"' in form  # what was typed is kept, except the password
    if data["username"] != "worker":
        assert _user(app, data["username"]) is None


def test_reset_password_old_fails_new_works(app, client, admin):
    response = client.post("/admin/users/planner/password", data={"csrf_token": admin.token,
                                                                 "password": NEW_PASSWORD})
    assert response.status_code == 302
    short = client.post("/admin/users/planner/password", data={"csrf_token": admin.token, "password": "x"})
    assert short.status_code == 422
    assert "密码至少 8 位" in _row(short.get_data(as_text=True), "planner")
    assert client.post("/admin/users/nobody/password",
                       data={"csrf_token": admin.token, "password": NEW_PASSWORD}).status_code == 404
    _logout(admin)
    assert admin.login("planner", PASSWORD).status_code == 401
    assert admin.login("planner", NEW_PASSWORD).status_code == 302


def test_deactivated_user_cannot_log_in_nor_use_a_token_and_their_reports_stay(app, client, admin):
    with app.app_context(), get_uow(write=True) as uow:
        token = services.issue_token("worker", uow=uow, user=system_user("test"), now=datetime.now(UTC))
        site_id = next(uow.sites.find(layer_id="sanitation_zones")).id
        add_report(uow, site_id, "worker", checklist=ALL_PASS, observed_at=datetime.now(UTC), note="我的报告")
        uow.commit()
    bearer = {"Authorization": f"Bearer {token}"}
    script = app.test_client()  # no session cookie: the token alone
    assert script.get("/api/v1/layers", headers=bearer).status_code == 200

    response = client.post("/admin/users/worker/active", data={"csrf_token": admin.token, "active": "0"})
    assert response.status_code == 302
    assert _user(app, "worker").active is False
    assert "已停用" in _row(client.get("/admin/users").get_data(as_text=True), "worker")
    assert script.get("/api/v1/layers", headers=bearer).status_code == 401
    with app.app_context(), get_uow() as uow:
        assert [r["note"] for r in uow.reports.find(site_ids=[site_id])] == ["我的报告"]
    _logout(admin)
    assert admin.login("worker").status_code == 401

    admin.login_as("admin")
    response = client.post("/admin/users/worker/active", data={"csrf_token": admin.csrf("/admin/users"),
                                                              "active": "1"})
    assert response.status_code == 302 and _user(app, "worker").active is True
    assert script.get("/api/v1/layers", headers=bearer).status_code == 200
    actions = [(e.actor, e.action) for e in _audit(app, "user:worker")]
    assert ("admin", "user.deactivate") in actions and ("admin", "user.activate") in actions


def _audit(app, target):
    with app.app_context(), get_uow() as uow:
        return uow.audit.recent(target=target)


def test_a_deactivated_users_open_session_ends(app, client, auth):
    auth.login_as("planner")
    assert client.get("/dashboard").status_code == 200
    with app.app_context(), get_uow(write=True) as uow:
        from geo import accounts

        accounts.set_active("planner", False, uow=uow, user=system_user("admin"), now=datetime.now(UTC))
    response = client.get("/dashboard")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_admin_cannot_deactivate_themselves(app, client, admin):
    response = client.post("/admin/users/admin/active", data={"csrf_token": admin.token, "active": "0"})
    assert response.status_code == 422
    assert "不能停用自己的账号" in _row(response.get_data(as_text=True), "admin")
    assert _user(app, "admin").active is True


def test_hostile_display_name_is_escaped(app, client, admin):
    hostile = "<img src=x onerror=alert(1)>"
    client.post("/admin/users", data={"csrf_token": admin.token, "username": "evil", "role": "planner",
                                      "display_name": hostile, "password": "long enough 1"})
    page = client.get("/admin/users").get_data(as_text=True)
    assert hostile not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_posts_without_csrf_token_are_refused(app, client, admin):
    assert client.post("/admin/users", data={"username": "li", "role": "worker",
                                              "password": "long enough 1"}).status_code == 400
    assert client.post("/admin/users/worker/active", data={"active": "0"}).status_code == 400
    assert client.post("/admin/users/worker/password", data={"password": NEW_PASSWORD}).status_code == 400
    assert _user(app, "li") is None and _user(app, "worker").active is True


@pytest.mark.parametrize("role", ["manager", "planner", "worker"])
def test_only_admins_manage_users(app, client, auth, role):
    auth.login_as(role)
    token = auth.csrf("/")
    assert client.get("/admin/users").status_code == 403
    assert client.post("/admin/users", data={"csrf_token": token, "username": "li", "role": "admin",
                                             "password": "long enough 1"}).status_code == 403
    assert client.post("/admin/users/admin/active",
                       data={"csrf_token": token, "active": "0"}).status_code == 403
    assert client.post("/admin/users/admin/password", data={"csrf_token": token,
                                                            "password": NEW_PASSWORD}).status_code == 403
    assert _user(app, "li") is None and _user(app, "admin").active is True
    assert auth.login("admin").status_code in (200, 302)  # password unchanged
