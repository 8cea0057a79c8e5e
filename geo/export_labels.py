"""The vocabulary of the exports people read (CSV, XLSX): column headers and value labels, zh_CN and en.

The one place of this text. Every export takes a ``lang``, from the web page or
``onemap export --lang``; geo/ has no gettext, so the few words a spreadsheet needs
are kept here, beside the layer definitions' own {"zh_CN", "en"} labels.

GIS formats (GeoJSON, GeoPackage, KML) keep the stable keys, the codes and ISO 8601
times with their offset, for programs. A table for people gets, instead: headers in
the language, labels for codes (合格 / 不合格, 已通过 / 已退回, the status, an
attribute's allowed value), county names for codes, flags as words, yes / no for
booleans, and local times as ``2026-12-07 21:30`` (text that sorts as it reads).
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from geo.counties import names_in
from geo.layers import value_label
from geo.model import LayerDef
from geo.times import LOCAL_TIME, local_time

LANGUAGES = ("zh_CN", "en")
TABLE_FORMATS = ("csv", "xlsx")  # tables read by people; GIS formats keep the stable keys and codes

# Column headers of site exports for what is not in a layer definition.
SITE_HEADERS: dict[str, dict[str, str]] = {
    "id": {"zh_CN": "编号", "en": "ID"},
    "layer": {"zh_CN": "图层", "en": "Layer"},
    "name": {"zh_CN": "名称", "en": "Name"},
    "status_label": {"zh_CN": "状态", "en": "Status"},
    "county": {"zh_CN": "县（市、区）", "en": "County"},
    "ref": {"zh_CN": "来源编号", "en": "Source key"},
    "last_inspected_at": {"zh_CN": "最近巡查时间", "en": "Last inspected"},
    "last_result": {"zh_CN": "最近巡查结果", "en": "Last result"},
    "report_count": {"zh_CN": "有效报告数", "en": "Reports (not rejected)"},
    "version": {"zh_CN": "版本", "en": "Version"},
    "updated_at": {"zh_CN": "更新时间", "en": "Updated"},
}

# Column headers of report exports besides the checklist items, their comments and the metrics.
REPORT_HEADERS: dict[str, dict[str, str]] = {
    "id": SITE_HEADERS["id"],
    "site_id": {"zh_CN": "站点编号", "en": "Site ID"},
    "site_name": {"zh_CN": "站点名称", "en": "Site name"},
    "site_version": {"zh_CN": "填报时站点版本", "en": "Site version filed against"},
    "uuid": {"zh_CN": "报告UUID", "en": "Report UUID"},
    "filed_by": {"zh_CN": "填报人", "en": "Filed by"},
    "observed_at": {"zh_CN": "巡查时间", "en": "Observed"},
    "received_at": {"zh_CN": "收到时间", "en": "Received"},
    "review_status": {"zh_CN": "审核状态", "en": "Review status"},
    "review_comment": {"zh_CN": "审核意见", "en": "Review comment"},
    "reviewed_at": {"zh_CN": "审核时间", "en": "Reviewed"},
    "location": {"zh_CN": "位置来源", "en": "Position from"},
    "gps_accuracy_m": {"zh_CN": "定位精度（米）", "en": "GPS accuracy (m)"},
    "distance_m": {"zh_CN": "距站点（米）", "en": "Distance to site (m)"},
    "flags": {"zh_CN": "系统提示", "en": "Flags"},
    "note": {"zh_CN": "备注", "en": "Note"},
    "photos": {"zh_CN": "照片链接", "en": "Photo links"},
}
COMMENT = {"zh_CN": "{item}（说明）", "en": "{item} (comment)"}  # the header of a checklist item's comment

# Labels of the codes a table holds.
ANSWERS = {"pass": {"zh_CN": "合格", "en": "Pass"}, "fail": {"zh_CN": "不合格", "en": "Fail"},
           "na": {"zh_CN": "不适用", "en": "N/A"}}
REVIEW = {"pending": {"zh_CN": "待审核", "en": "Awaiting review"},
          "approved": {"zh_CN": "已通过", "en": "Approved"},
          "rejected": {"zh_CN": "已退回", "en": "Rejected"}}
FLAGS = {"off_site": {"zh_CN": "不在现场", "en": "Off site"},  # the words of the review pages
         "photo_far": {"zh_CN": "照片位置偏远", "en": "Photo taken far away"},
         "photo_old": {"zh_CN": "照片拍摄过早", "en": "Photo taken long before"}}
LOCATION = {"gps": {"zh_CN": "GPS定位", "en": "GPS fix"},
            "site": {"zh_CN": "站点位置", "en": "Site position"}}
YES_NO = {True: {"zh_CN": "是", "en": "Yes"}, False: {"zh_CN": "否", "en": "No"}}
LIST_SEPARATOR = {"zh_CN": "、", "en": ", "}


def label_in(label: dict[str, str], lang: str) -> str:
    """A {"zh_CN", "en"} label in ``lang`` (Chinese when there is no such text)."""
    return label.get(lang) or label.get("zh_CN") or next(iter(label.values()), "")


def with_unit(text: str, unit: str | None, lang: str) -> str:
    """A column header with its unit, in the brackets of the language."""
    if not unit:
        return text
    return f"{text}（{unit}）" if lang == "zh_CN" else f"{text} ({unit})"


def unique_headers(fixed: dict[str, dict[str, str]], own: dict[str, str], lang: str) -> dict[str, str]:
    """Headers with no two alike (a layer's label could repeat a fixed one): the later gets its key."""
    out: dict[str, str] = {}
    seen: set[str] = set()
    for key, text in [*((k, label_in(v, lang)) for k, v in fixed.items()), *own.items()]:
        if key in out:
            continue
        if text.casefold() in seen:
            text = f"{text} [{key}]"
        seen.add(text.casefold())
        out[key] = text
    return out


def site_headers(layer: LayerDef, lang: str) -> dict[str, str]:
    """{property key: column header in ``lang``} for a layer's site exports."""
    labels = {a.name: with_unit(label_in(a.label, lang), a.unit, lang) for a in layer.attributes}
    return unique_headers(SITE_HEADERS, labels, lang)


def report_headers(layer: LayerDef, lang: str) -> dict[str, str]:
    """{property key: column header in ``lang``} for a layer's report exports."""
    own: dict[str, str] = {}
    for item in layer.checklist:
        own[f"check_{item.id}"] = label_in(item.label, lang)
        own[f"comment_{item.id}"] = COMMENT[lang].format(item=label_in(item.label, lang))
    own |= {f"metric_{m.id}": with_unit(label_in(m.label, lang), m.unit, lang) for m in layer.metrics}
    return unique_headers(REPORT_HEADERS, own, lang)


class Table:
    """Export rows as a table for people: codes to labels, counties to names, local times.

    Built once per export (layer, language, the store's county names, the zone), then
    called per row with its properties by key; the keys stay (headers come after).
    """

    SITE_TIMES = ("last_inspected_at", "updated_at")
    REPORT_TIMES = ("observed_at", "received_at", "reviewed_at")

    def __init__(self, layer: LayerDef, lang: str, counties: dict[str, tuple[str, str | None]],
                 zone: ZoneInfo = LOCAL_TIME):
        self.lang, self.zone = lang, zone
        self.layer_name = label_in(layer.name, lang)
        self.statuses = {s.code: label_in(s.label, lang) for s in layer.statuses}
        self.counties = names_in(counties, lang)
        self.attributes = {a.name: a for a in layer.attributes}
        self.checks = [f"check_{item.id}" for item in layer.checklist]

    def word(self, table: dict, code: Any) -> Any:
        """The label of ``code`` in ``table``, else the code itself (a value from before a change)."""
        found = table.get(code)
        return label_in(found, self.lang) if found else code

    def joined(self, values: list | tuple) -> str | None:
        return LIST_SEPARATOR[self.lang].join(str(v) for v in values) or None

    def attribute(self, name: str, value: Any) -> Any:
        if isinstance(value, bool):
            return label_in(YES_NO[value], self.lang)
        if isinstance(value, list | tuple):
            return self.joined(value)
        attribute = self.attributes.get(name)
        shown = value_label(attribute, value) if attribute else None
        return label_in(shown, self.lang) if shown else value

    def site(self, properties: dict[str, Any]) -> dict[str, Any]:
        """A site's export properties (geo.exports.SiteProperties) for a table."""
        out: dict[str, Any] = {}
        for key, value in properties.items():
            if key == "status":
                continue  # the table shows the status's label (status_label); the code is for programs
            if key == "layer":
                value = self.layer_name
            elif key == "county":
                value = self.counties.get(value, value)
            elif key in self.SITE_TIMES:
                value = local_time(value, self.zone)
            elif key == "last_result":
                value = self.word(ANSWERS, value)
            elif key not in SITE_HEADERS:
                value = self.attribute(key, value)
            out[key] = value
        return out

    def report(self, properties: dict[str, Any]) -> dict[str, Any]:
        """A report's export properties (geo.report_exports.report_properties) for a table."""
        out = dict(properties)
        for key in self.REPORT_TIMES:
            out[key] = local_time(out.get(key), self.zone)
        out["review_status"] = self.word(REVIEW, out.get("review_status"))
        out["location"] = self.word(LOCATION, out.get("location"))
        for key in self.checks:
            out[key] = self.word(ANSWERS, out.get(key))
        out["flags"] = self.joined([self.word(FLAGS, flag) for flag in out.get("flags") or []])
        out["photos"] = " ".join(out.get("photos") or []) or None
        return out
