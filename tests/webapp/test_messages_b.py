"""Domain messages in the reader's language: an import's rejected features (page and `onemap import`),
a file that cannot be read, and a bad query parameter (JSON `message`; `error` and `field` stay codes)."""

import re

import pytest
from click.testing import CliRunner

from geo.imports import joined
from geo.messages import msg
from tests.factories import bearer, broken_file, geojson
from tests.factories import import_zone as zone
from tests.webapp.test_import_pages import upload
from webapp.cli import main
from webapp.i18n import translate

pytestmark = pytest.mark.backends("sqlite")  # messages; imports and parameters run on both elsewhere

ZONES = "/api/v1/layers/sanitation_zones/features"


def reasons(page: str) -> dict[int, str]:
    """{feature index: reason} of the preview's table of rejected features."""
    rows = re.findall(r'<tr data-feature="(\d+)"><td>\d+</td><td>(.*?)</td></tr>',
                      page.split('class="import-rejected"')[1].split("</section>")[0])
    return {int(index): reason for index, reason in rows}


# ------------------------------------------------------------------ the preview page
def test_a_chinese_preview_lists_chinese_reasons_naming_the_feature_and_the_field(app, client, auth):
    auth.login_as("manager")
    answer = upload(client, auth, broken_file())
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422 and '<html lang="zh-CN">' in page
    assert reasons(page) == {
        0: "ref &#39;Z1&#39; 在文件中重复出现（要素 0, 2）",
        1: "name：必填（需有属性 `name`）",
        2: "ref &#39;Z1&#39; 在文件中重复出现（要素 0, 2）",
        3: "没有图形",
    }


def test_an_english_preview_lists_english_reasons(app, client, auth):
    auth.login_as("manager")
    page = upload(client, auth, broken_file(), lang="en").get_data(as_text=True)
    assert '<html lang="en">' in page
    assert reasons(page) == {
        0: "ref &#39;Z1&#39; appears more than once in the file (features 0, 2)",
        1: "name: required (a property `name`)",
        2: "ref &#39;Z1&#39; appears more than once in the file (features 0, 2)",
        3: "no geometry",
    }


def test_several_reasons_for_one_feature_are_joined_in_the_page_language(app, client, auth):
    auth.login_as("manager")
    long_name = "长" * 301
    page = upload(client, auth, geojson(zone("Z1", 0, name=long_name), zone("Z1", 1))).get_data(as_text=True)
    assert reasons(page)[0] == ("name：最多300个字符，现为301个；"
                                "ref &#39;Z1&#39; 在文件中重复出现（要素 0, 1）")
    english = upload(client, auth, geojson(zone("Z1", 0, name=long_name), zone("Z1", 1)), lang="en")
    assert reasons(english.get_data(as_text=True))[0] == (
        "name: at most 300 characters, not 301; ref &#39;Z1&#39; appears more than once in the file "
        "(features 0, 1)")


def test_a_file_that_cannot_be_read_is_named_with_the_reason_in_the_page_language(app, client, auth):
    auth.login_as("manager")
    chinese = upload(client, auth, b"", name="empty.geojson").get_data(as_text=True)
    assert "empty.geojson：文件为空（0 字节）" in chinese
    english = upload(client, auth, b"", name="empty.geojson", lang="en").get_data(as_text=True)
    assert "empty.geojson: the file is empty (0 bytes)" in english


def test_the_preview_counts_use_plural_forms(app, client, auth):
    auth.login_as("manager")
    one = upload(client, auth, geojson(zone("Z1", 0)), lang="en").get_data(as_text=True)
    assert "Import (1 site)" in one
    partly = upload(client, auth, geojson(zone("Z1", 0), zone("Z2", 1), zone("Z2", 2), zone("Z3", 3)),
                    lang="en").get_data(as_text=True)
    assert "Skip the 2 rejected features and import the other 2 sites" in partly


def test_messages_keep_their_english_for_logs_and_translate_at_the_edge(app):
    both = joined([msg("contains_nul", "{field}: contains a NUL character", field="name"),
                   msg("no_geometry", "no geometry")])
    assert str(both) == "name: contains a NUL character; no geometry"
    with app.test_request_context("/?lang=zh_CN"):
        assert translate(both) == "name：含有 NUL 字符；没有图形"


# ------------------------------------------------------------------ onemap import
@pytest.fixture
def onemap(app, monkeypatch):
    monkeypatch.setenv("ONEMAP_INSTANCE", str(app.config["ONEMAP"].instance))
    monkeypatch.setenv("ONEMAP_DATABASE_URL", app.config["ONEMAP"].database_url)
    monkeypatch.delenv("ONEMAP_LANG", raising=False)
    return lambda *args, **env: CliRunner().invoke(main, [str(a) for a in args], env=env or None)


def test_onemap_import_prints_chinese_reasons_by_default_and_english_with_onemap_lang_en(onemap, tmp_path):
    path = tmp_path / "zones.geojson"
    path.write_bytes(broken_file())
    chinese = onemap("import", path, "--layer", "sanitation_zones")
    assert chinese.exit_code == 1
    assert "onemap: zones.geojson：4个要素被拒绝，未导入任何数据" in chinese.output
    assert "第 1 个要素：name：必填（需有属性 `name`）" in chinese.output
    assert "第 3 个要素：没有图形" in chinese.output

    english = onemap("import", path, "--layer", "sanitation_zones", ONEMAP_LANG="en")
    assert english.exit_code == 1
    assert "onemap: zones.geojson: 4 feature(s) rejected, nothing imported" in english.output
    assert "feature 1: name: required (a property `name`)" in english.output
    assert "feature 3: no geometry" in english.output


def test_onemap_import_dry_run_and_skip_invalid_speak_the_language_too(onemap, tmp_path):
    path = tmp_path / "zones.geojson"
    path.write_bytes(geojson(zone("Z1", 0), {**zone("Z2", 1), "name": None}))
    dry = onemap("import", path, "--layer", "sanitation_zones", "--dry-run", "--skip-invalid")
    assert dry.exit_code == 0, dry.output
    assert "试运行，未写入任何数据" in dry.output and "新增1个，更新0个，无变化0个，被拒绝1个" in dry.output
    assert "第 1 个要素被拒绝：name：必填（需有属性 `name`）" in dry.output
    done = onemap("import", path, "--layer", "sanitation_zones", "--skip-invalid", ONEMAP_LANG="en")
    assert done.exit_code == 0, done.output
    assert "rejected feature 1: name: required (a property `name`)" in done.output
    assert "sanitation_zones: 1 site(s) imported, 1 rejected" in done.output


def test_an_unknown_layer_is_named_in_the_language_of_onemap_lang(onemap, tmp_path):
    path = tmp_path / "zones.geojson"
    path.write_bytes(geojson(zone("Z1", 0)))
    assert "没有图层 'rivers'" in onemap("import", path, "--layer", "rivers").output
    assert "no layer 'rivers'" in onemap("import", path, "--layer", "rivers", ONEMAP_LANG="en").output


# ------------------------------------------------------------------ query parameters
@pytest.mark.parametrize("query, field, chinese, english", [
    ("bbox=1,2,3", "bbox", "bbox：请填写 minx,miny,maxx,maxy（4个数），而不是3个",
     "bbox: give minx,miny,maxx,maxy (4 numbers), not 3"),
    ("zoom=big", "zoom", "zoom：'big' 不是整数", "zoom: 'big' is not a whole number"),
    ("status=finished", "status", "status：无法识别 'finished'", "status: unknown 'finished'"),
])
def test_a_bad_query_parameter_is_chinese_by_default_and_english_on_request(auth, query, field, chinese,
                                                                            english):
    auth.login_as("planner")
    client = auth.client
    default = client.get(f"{ZONES}?{query}")
    body = default.get_json()
    assert default.status_code == 400 and (body["error"], body["field"]) == ("bad_parameter", field)
    assert body["message"].startswith(chinese)
    asked = client.get(f"{ZONES}?{query}&lang=en").get_json()
    assert (asked["error"], asked["field"]) == ("bad_parameter", field)
    assert asked["message"].startswith(english)


def test_a_script_gets_the_language_of_its_accept_language(app, client):
    headers = bearer(app, "planner")
    chinese = client.get(f"{ZONES}?bbox=10,10,5,5", headers=headers).get_json()
    assert chinese["message"] == "bbox：最小值大于最大值"
    english = client.get(f"{ZONES}?bbox=10,10,5,5", headers={**headers, "Accept-Language": "en"}).get_json()
    assert (english["error"], english["field"], english["message"]) == (
        "bad_parameter", "bbox", "bbox: min is greater than max")


def test_ogc_and_export_parameters_are_translated_too(auth):
    auth.login_as("manager")
    client = auth.client
    ogc = client.get("/ogc/collections/sanitation_zones/items?limit=0").get_json()
    assert (ogc["error"], ogc["field"], ogc["message"]) == ("bad_parameter", "limit", "limit：不能小于1")
    export = client.get("/api/v1/export/sanitation_zones.geojson?county=999999").get_json()
    assert (export["error"], export["field"]) == ("bad_parameter", "county")
    assert export["message"].startswith("county：没有代码为 '999999' 的区县")
    # ?lang=en is kept in the session from here on
    unknown = client.get("/ogc/collections/sanitation_zones/items?colour=red&lang=en").get_json()
    assert unknown["field"] == "colour" and unknown["message"].startswith("colour: not a parameter here (use")
    reports = client.get("/api/v1/export/sanitation_zones/reports.csv?status=ok&lang=en").get_json()
    assert reports["message"] == "status: chooses sites; a report export takes since, until and county"
