"""Tables for people (CSV, XLSX) show labels, names and local times, never codes or JSON; GIS formats
keep the codes. Each file is read back as a spreadsheet user gets it: CSV with the csv module, XLSX
through GDAL's own reader."""

import csv
import io
import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pyogrio
import pytest

from geo import export_labels, exports, report_exports
from geo.layers import load_layers, value_label
from tests.factories import ALL_PASS, add_report

# The writers' labels; the export queries run on both in tests/geo/test_exports.py.
pytestmark = pytest.mark.backends("sqlite")

ZONES = "sanitation_zones"
NOW = datetime(2026, 12, 8, 4, 0, tzinfo=UTC)
OBSERVED = datetime(2026, 12, 7, 13, 30, tzinfo=UTC)  # 21:30 in Jinzhou
COMMENT = "沟渠有积水"


@pytest.fixture
def filed(loaded_store):
    """Two village zones of Heishan County (210726), with an approved report (an item failed, with a
    comment, a flag) and a rejected one."""
    with loaded_store.unit_of_work(write=True) as uow:
        first, second = (s for s in uow.sites.find(layer_id=ZONES, county="210726", limit=2))
        approved = add_report(uow, first.id, "worker", observed_at=OBSERVED, status="approved",
                              flags=["off_site"], metrics={"person_times": 3},
                              checklist=ALL_PASS | {"ditches_cleared": "fail",
                                                    "comments": {"ditches_cleared": COMMENT}})
        rejected = add_report(uow, second.id, "worker", checklist=ALL_PASS | {"swept_clean": "na"},
                              observed_at=OBSERVED, status="rejected")
        uow.commit()
    return {"first": first, "second": second, "approved": approved, "rejected": rejected}


def _rows(store, path, fmt, *, reports=False, lang="zh_CN", **options) -> list[dict]:
    layer = load_layers()[ZONES]
    with store.unit_of_work() as uow:
        if reports:
            report_exports.export_reports(layer, path, fmt, uow=uow, actor="test", now=NOW, lang=lang,
                                          photo_url=lambda i: f"https://onemap.example.org/p/{i}", **options)
        else:
            exports.export_sites(layer, path, fmt, uow=uow, actor="test", now=NOW, lang=lang, **options)
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))
    table = pyogrio.read_dataframe(path, read_geometry=False)
    return [{key: (None if value != value else value) for key, value in row.items()}
            for row in table.astype(object).to_dict("records")]


def _by_id(rows, key) -> dict[int, dict]:
    return {int(row[key]): row for row in rows}


def _no_codes_or_json(rows):
    for row in rows:
        for value in row.values():
            text = str(value or "")
            assert not text.startswith(("{", "[")), text
            assert text not in ("pass", "fail", "na", "approved", "rejected", "pending", "210726", "off_site")


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_report_table_in_chinese(filed, loaded_store, tmp_path, fmt):
    rows = _by_id(_rows(loaded_store, tmp_path / f"r.{fmt}", fmt, reports=True), "编号")
    approved, rejected = rows[filed["approved"]], rows[filed["rejected"]]
    assert (approved["清沟渠"], approved["扫干净"], rejected["扫干净"]) == ("不合格", "合格", "不适用")
    assert (approved["审核状态"], rejected["审核状态"]) == ("已通过", "已退回")
    assert approved["清沟渠（说明）"] == COMMENT and not rejected["清沟渠（说明）"]
    layer = load_layers()[ZONES]
    assert {f"{item.label['zh_CN']}（说明）" for item in layer.checklist} <= set(approved)  # one per item
    assert "检查说明" not in approved  # no column of JSON
    assert approved["巡查时间"] == "2026-12-07 21:30"  # local time (Asia/Shanghai)
    assert (approved["系统提示"], approved["位置来源"]) == ("不在现场", "站点位置")
    assert str(approved["出动人工（人次）"]) in ("3", "3.0")  # a number, for sums in the spreadsheet
    _no_codes_or_json(rows.values())


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_report_table_in_english(filed, loaded_store, tmp_path, fmt):
    rows = _by_id(_rows(loaded_store, tmp_path / f"r.{fmt}", fmt, reports=True, lang="en"), "ID")
    approved, rejected = rows[filed["approved"]], rows[filed["rejected"]]
    assert (approved["Ditches cleared"], approved["Swept clean"], rejected["Swept clean"]) == (
        "Fail", "Pass", "N/A")
    assert (approved["Review status"], rejected["Review status"]) == ("Approved", "Rejected")
    assert approved["Ditches cleared (comment)"] == COMMENT
    assert approved["Observed"] == "2026-12-07 21:30" and approved["Flags"] == "Off site"
    _no_codes_or_json(rows.values())


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_site_table_names_the_county_and_labels_its_codes(filed, loaded_store, tmp_path, fmt):
    rows = _by_id(_rows(loaded_store, tmp_path / f"s.{fmt}", fmt), "编号")
    first = rows[filed["first"].id]
    assert first["县（市、区）"] == "黑山县" and first["图层"] == "农村人居环境整治"
    assert first["状态"] == "需整改" and first["最近巡查结果"] == "不合格"
    assert first["最近巡查时间"] == "2026-12-07 21:30"
    assert first["重点村"] in ("是", "否") and "状态代码" not in first
    assert first["乡镇（街道）"] == filed["first"].attributes["township"]  # a name already
    reason = filed["first"].attributes["approx_reason"]
    assert first["近似原因"] == value_label(load_layers()[ZONES].attribute("approx_reason"), reason)["zh_CN"]
    assert rows[filed["second"].id]["状态"] == "尚未巡查"  # its only report was rejected
    _no_codes_or_json(rows.values())
    english = _by_id(_rows(loaded_store, tmp_path / f"en.{fmt}", fmt, lang="en"), "ID")[filed["first"].id]
    assert (english["County"], english["Status"], english["Last result"]) == (
        "Heishan County", "Needs attention", "Fail")
    assert english["Key village"] in ("Yes", "No") and english["Why approximate"] == reason


def test_times_are_written_in_the_zone_given(filed, loaded_store, tmp_path):
    rows = _rows(loaded_store, tmp_path / "utc.csv", "csv", reports=True, zone=ZoneInfo("UTC"))
    assert _by_id(rows, "编号")[filed["approved"]]["巡查时间"] == "2026-12-07 13:30"


def test_an_attribute_value_of_the_port_layer_by_its_label(loaded_store, tmp_path):
    layer = load_layers()["port_multimodal"]
    path = tmp_path / "port.csv"
    with loaded_store.unit_of_work() as uow:
        exports.export_sites(layer, path, "csv", uow=uow, actor="test", now=NOW)
    rows = list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))
    kinds = {row["类型"] for row in rows}
    assert "内陆港" in kinds and not kinds & {"hub", "corridor", "inland_port", "project"}


def test_gis_formats_keep_the_codes_and_iso_times(filed, loaded_store, tmp_path):
    path = tmp_path / "r.geojson"
    layer = load_layers()[ZONES]
    with loaded_store.unit_of_work() as uow:
        report_exports.export_reports(layer, path, "geojson", uow=uow, actor="test", now=NOW,
                                      photo_url=str)
    features = {f["id"]: f["properties"] for f in json.loads(path.read_bytes())["features"]}
    p = features[filed["approved"]]
    assert (p["check_ditches_cleared"], p["review_status"], p["flags"]) == ("fail", "approved", ["off_site"])
    assert p["comment_ditches_cleared"] == COMMENT and "comments" not in p
    assert datetime.fromisoformat(p["observed_at"]) == OBSERVED


def test_every_header_and_label_has_both_languages():
    for table in (export_labels.SITE_HEADERS, export_labels.REPORT_HEADERS, export_labels.ANSWERS,
                  export_labels.REVIEW, export_labels.FLAGS, export_labels.LOCATION, export_labels.YES_NO):
        for value in table.values():
            assert set(value) == set(export_labels.LANGUAGES) and all(value.values())
    for layer in load_layers().values():
        for attribute in layer.attributes:
            for code in attribute.value_labels or {}:
                assert set(attribute.value_labels[code]) == {"zh_CN", "en"}


@pytest.mark.parametrize(("labels", "problem"), [
    ("{hub: {zh_CN: 枢纽, en: Hub}}", "no label for 'corridor'"),
    ("{hub: {zh_CN: 枢纽, en: Hub}, corridor: {zh_CN: 通道, en: Corridor},"
     " inland_port: {zh_CN: 内陆港, en: x}, project: {zh_CN: 项目, en: Project},"
     " ferry: {zh_CN: 渡口, en: Ferry}}", "'ferry' not among the values"),
])
def test_labels_of_values_cover_exactly_the_values(tmp_path, labels, problem):
    from geo.layers import load_layer, shipped_layers_dir
    from geo.model import LayerDefinitionError

    text = (shipped_layers_dir() / "port_multimodal.yaml").read_text(encoding="utf-8")
    start = text.index("value_labels:")
    end = text.index("}}}", start) + 2
    path = tmp_path / "port_multimodal.yaml"
    path.write_text(text[:start] + f"value_labels: {labels}" + text[end:], encoding="utf-8")
    with pytest.raises(LayerDefinitionError, match=problem) as caught:
        load_layer(path)
    assert "attributes.0" in str(caught.value)
