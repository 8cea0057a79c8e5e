"""Domain messages in the reader's language: a planning edit refused for an overlap or a stale version
and a report with a metric out of bounds say why in Chinese by default and in English when asked, for a
browser session (?lang=) and for a script with a token (Accept-Language); `error` and `field` stay codes."""

import io
import json
import re

import pytest

from tests.factories import ATTRS, free_square, jpeg, report, token_for

# Messages; the refusals behind them run on both in tests/geo/test_planning.py,
# tests/webapp/test_sites_api.py, tests/webapp/test_reports_api.py.
pytestmark = pytest.mark.backends("sqlite")

# (how the request is made, what it adds, the language the answer must be in)
MODES = [
    pytest.param("session", {}, "zh_CN", id="session-default"),
    pytest.param("session", {"lang": "en"}, "en", id="session-lang-en"),
    pytest.param("token", {}, "zh_CN", id="token-no-header"),
    pytest.param("token", {"Accept-Language": "en"}, "en", id="token-accept-en"),
    pytest.param("token", {"Accept-Language": "zh-CN,zh;q=0.9"}, "zh_CN", id="token-accept-zh"),
]


class Caller:
    """Requests as one user, by session cookie or by token, with the mode's language choice."""

    def __init__(self, app, client, auth, username, mode, extra):
        self.client, self.query, self.headers = client, {}, {}
        if mode == "session":
            auth.login_as(username)
            self.query = dict(extra)
            page = client.get("/manage/reports" if username == "manager" else "/my").get_data(as_text=True)
            self.headers["X-CSRFToken"] = re.search(r'name="csrf[-_]token"[^>]*(?:content|value)="([^"]+)"',
                                                    page).group(1)
        else:
            self.headers = {"Authorization": f"Bearer {token_for(app, username)}", **extra}

    def patch(self, path, body):
        return self.client.patch(path, json=body, headers=self.headers, query_string=self.query)

    def file(self, site_id, body):
        data = {"report": json.dumps(body, ensure_ascii=False), "photos": [(io.BytesIO(jpeg()), "p0.jpg")]}
        return self.client.post(f"/api/v1/sites/{site_id}/reports", data=data, headers=self.headers,
                                query_string=self.query, content_type="multipart/form-data")


def _manager_token(app):
    return {"Authorization": f"Bearer {token_for(app, 'manager')}"}


def _site(client, headers, geometry, name):
    answer = client.post("/api/v1/layers/sanitation_zones/sites", headers=headers,
                         json={"name": name, "geometry": geometry, "attributes": ATTRS})
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()["id"]


@pytest.mark.parametrize("mode, extra, language", MODES)
def test_an_overlap_names_the_neighbour_and_the_area_in_the_readers_language(app, client, auth, mode, extra,
                                                                             language):
    setup = _manager_token(app)
    # drawn before either site exists (free_square keeps away from every zone, these two included)
    small, beside, grown = free_square(app, 0.004), free_square(app, 0.004, dx=0.01), free_square(app, 0.012)
    mine = _site(client, setup, small, "本村")
    neighbour = _site(client, setup, beside, "邻村")
    caller = Caller(app, client, auth, "manager", mode, extra)
    answer = caller.patch(f"/api/v1/sites/{mine}", {"base_version": 1, "geometry": grown})
    body = answer.get_json()
    assert answer.status_code == 422, body
    assert body["error"] == "invalid" and body["field"] == "geometry"
    assert body["details"][0]["site"] == neighbour
    if language == "en":
        assert re.search(rf"overlaps 邻村 \(site {neighbour}\) by \d+\.\d\d ha, near ", body["message"]), body
        assert "zones of this layer may not overlap" in body["message"]
    else:
        assert re.search(rf"与“邻村”（站点 {neighbour}）重叠 \d+\.\d\d 公顷", body["message"]), body
        assert "不得相互重叠" in body["message"] and "overlap" not in body["message"]


@pytest.mark.parametrize("mode, extra, language", MODES)
def test_a_stale_version_says_who_changed_it_in_the_readers_language(app, client, auth, mode, extra,
                                                                     language):
    setup = _manager_token(app)
    site_id = _site(client, setup, free_square(app), "新村")
    assert client.patch(f"/api/v1/sites/{site_id}", headers=setup,
                        json={"base_version": 1, "name": "改名村"}).status_code == 200
    caller = Caller(app, client, auth, "manager", mode, extra)
    answer = caller.patch(f"/api/v1/sites/{site_id}", {"base_version": 1, "name": "另一个名字"})
    body = answer.get_json()
    assert answer.status_code == 409, body
    assert body["error"] == "stale_version" and body["current_version"] == 2
    assert body["changes"] == [{"field": "name", "before": "新村", "after": "改名村"}]
    if language == "en":
        assert body["message"].startswith(f"site {site_id} was changed by manager since version 1 "
                                          "(now version 2); nothing was saved"), body
    else:
        assert body["message"] == (f"站点 {site_id} 在第 1 版之后已被 manager 修改（现为第 2 版），"
                                   "本次修改未保存：请查看改动，在最新版本上重新修改")


@pytest.mark.parametrize("mode, extra, language", MODES)
def test_a_metric_out_of_bounds_names_the_field_in_the_readers_language(app, client, auth, zone, mode, extra,
                                                                        language):
    caller = Caller(app, client, auth, "worker", mode, extra)
    answer = caller.file(zone.id, report(zone, metrics={"person_times": 20000}))
    body = answer.get_json()
    assert answer.status_code == 422, body
    assert body["error"] == "invalid" and body["field"] == "metrics.person_times"
    if language == "en":
        assert body["message"] == "metrics.person_times (Labour): 20000 is outside 0…10000 人次"
    else:
        assert body["message"] == "metrics.person_times（出动人工）：20000 超出 0…10000 人次 的范围"


def test_attribute_problems_are_listed_per_field_and_translated(app, client):
    setup = _manager_token(app)
    site_id = _site(client, setup, free_square(app), "新村")
    for headers, says in (({}, "households：'many' 不是数字"), ({"Accept-Language": "en"},
                                                                 "households: 'many' is not a number")):
        answer = client.patch(f"/api/v1/sites/{site_id}", headers={**setup, **headers},
                              json={"base_version": 1, "attributes": {"households": "many"}})
        body = answer.get_json()
        assert answer.status_code == 422 and body["field"] == "attributes", body
        assert says in body["message"]
        assert body["details"] == [{"field": "attributes.households", "message": says}]


@pytest.mark.parametrize("extra, says", [({}, "规划人员"), ({"Accept-Language": "en"}, "Planner")])
def test_a_message_that_names_a_role_names_it_as_people_do(app, client, zone, extra, says):
    headers = {"Authorization": f"Bearer {token_for(app, 'planner')}", **extra}
    data = {"report": json.dumps(report(zone)), "photos": [(io.BytesIO(jpeg()), "p0.jpg")]}
    answer = client.post(f"/api/v1/sites/{zone.id}/reports", data=data, headers=headers,
                         content_type="multipart/form-data")
    assert answer.status_code == 403 and answer.get_json()["error"] == "forbidden"
    assert says in answer.get_json()["message"] and "planner" not in answer.get_json()["message"]
