"""Hostile photos and hostile multipart bodies filed with a report (`POST /api/v1/sites/<id>/reports`).

That route is the only way a photo gets in: the worker's report form queues its reports on the phone
and sends them there (webapp/blueprints/worker.py). Proved here:

- polyglots (a JPEG or PNG carrying a ZIP, a GIF, HTML or PHP, HTML named photo.jpg, a GIF fronting a
  JPEG) are refused with 415 naming the file, or accepted with the shown copy and thumbnail carrying
  none of the payload, sent as image/jpeg with nosniff and the app's script policy; originals are never
  served;
- absurd EXIF (impossible or NaN coordinates, garbage hemisphere letters, dates in year 1 or 9999, huge
  text tags, bad orientations, thousands of tags) never costs the worker the report and never gives a
  500: the report is stored with the photo's position and time unknown;
- hostile file names (traversal, NUL, Unicode tricks, reserved and very long names) write no file
  outside the report's own photo folder, never reach a storage key, and come back only as JSON text;
- malformed multipart bodies get 400 or 413 naming the problem, and leave no row and no file.
"""

import io
import json
import re
import socket
import struct
import threading
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
import waitress.server
import waitress.wasyncore
from PIL import Image
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from tests.factories import jpeg, report
from tests.geo.test_photos import image_bytes
from tests.webapp import test_upload_limits
from tests.webapp.test_reports_api import wait_for_photo_jobs
from webapp.context import get_uow

filing = test_upload_limits.filing  # (a village zone assigned to `worker`, the worker's Bearer header)
SCRIPT = b"<script>alert(document.cookie)</script>"


# ------------------------------------------------------------------ helpers
def send(client, site, headers, photos=(), body=None, extra=()):
    """File a report with ``photos`` given as (bytes, file name, declared content type)."""
    fields = MultiDict([("report", json.dumps(body or report(site), ensure_ascii=False))])
    for data, name, kind in photos:  # a backslash is escaped in the quoted filename: `name` arrives whole
        fields.add("photos", FileStorage(io.BytesIO(data), name.replace("\\", "\\\\"), content_type=kind))
    for name, value in extra:
        fields.add(name, value)
    boundary, data = encode_multipart(fields)
    return client.post(f"/api/v1/sites/{site.id}/reports", data=data, headers=headers,
                       content_type=f"multipart/form-data; boundary={boundary}")


def send_raw(client, site, headers, body: bytes, content_type: str, length: int | None = None):
    """POST bytes as they are, declaring ``length`` (default: the real one) as Content-Length."""
    headers = {**headers, "Content-Type": content_type, "Content-Length": str(length or len(body))}
    return client.post(f"/api/v1/sites/{site.id}/reports", input_stream=io.BytesIO(body), headers=headers)


def part(name: str | None, value: bytes, filename: str | None = None) -> bytes:
    disposition = "form-data" + (f'; name="{name}"' if name is not None else "")
    disposition += f'; filename="{filename}"' if filename is not None else ""
    return f"--B\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + value + b"\r\n"


def files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file() or p.is_symlink()}


def photo_files(app) -> set[Path]:
    media = app.config["ONEMAP"].instance / "media"
    return files(media) if media.exists() else set()


def report_count(app) -> int:
    with app.app_context(), get_uow() as uow:
        return uow.reports.count()


def stored_photos(app, report_id: int) -> list[dict]:
    """The photo rows of a report as stored (keys, EXIF position, time taken, flags)."""
    with app.app_context(), get_uow() as uow:
        return [uow.photos.get(p["id"]) for p in uow.reports.get(report_id)["photos"]]


def shown(client, headers, photo: dict) -> dict[str, bytes]:
    """The served display copy and thumbnail of a filed photo, each checked to be a plain JPEG response."""
    out = {}
    for kind, url in (("display", photo["url"]), ("thumbnail", photo["thumbnail_url"])):
        with client.get(url, headers=headers) as answer:
            assert answer.status_code == 200, (url, answer.status_code)
            assert answer.headers["Content-Type"] == "image/jpeg"
            assert answer.headers["X-Content-Type-Options"] == "nosniff"  # never sniffed as a page
            script_src = next(d for d in answer.headers["Content-Security-Policy"].split("; ")
                              if d.startswith("script-src"))
            assert "'unsafe-inline'" not in script_src and "*" not in script_src
            Image.open(io.BytesIO(answer.data)).verify()
            out[kind] = answer.data
    return out


def refused(answer, status: int, *words: str) -> dict:
    body = answer.get_json()
    assert answer.status_code == status, (answer.status_code, body)
    assert answer.headers["Content-Type"] == "application/json" and body["message"]
    assert all(w in body["message"] for w in words), body
    return body


# ------------------------------------------------------------------ polyglots
def zip_archive(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, content)
    return buffer.getvalue()


def gif() -> bytes:
    buffer = io.BytesIO()
    Image.new("P", (8, 8)).save(buffer, "GIF")
    return buffer.getvalue()


def jpeg_with_markup() -> bytes:
    exif = Image.Exif()
    exif[0x010E] = "<html><body onload=alert(1)>"  # ImageDescription
    exif[0x013B] = SCRIPT.decode()  # Artist
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "green").save(buffer, "JPEG", comment=SCRIPT, exif=exif.tobytes())
    return buffer.getvalue()


def jpeg_with_icc(profile: bytes) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "blue").save(buffer, "JPEG", icc_profile=profile)
    return buffer.getvalue()


PHP = b"<?php system($_GET['c']); ?><html>" + SCRIPT + b"</html>"
# (case, bytes, file name, declared type, payload that must not be shown)
ACCEPTED = [
    ("JPEG with a ZIP (JAR) appended", jpeg() + zip_archive("evil.html", SCRIPT), "photo.jpg", "image/jpeg",
     (b"PK\x03\x04", b"evil.html")),
    ("JPEG with a GIF and HTML appended", jpeg() + gif() + SCRIPT, "photo.jpg", "image/jpeg",
     (b"GIF8", b"<script")),
    ("JPEG with HTML in its comment and EXIF", jpeg_with_markup(), "photo.jpg", "image/jpeg",
     (b"<script", b"<html", b"onload")),
    ("PNG with PHP and HTML after IEND", image_bytes("PNG") + PHP, "photo.png", "image/png",
     (b"<?php", b"<script", b"IEND")),
    ("PNG declared as text/html", image_bytes("PNG"), "photo.html", "text/html", (b"\x89PNG",)),
]
# (case, bytes, file name, what the message calls it)
REFUSED = [
    ("HTML named photo.jpg, sent as image/jpeg", b"<!doctype html><html>" + SCRIPT, "photo.jpg", "text"),
    ("HTML with a JPEG appended", b"<html>" + SCRIPT + b"</html>" + jpeg(), "photo.jpg", "unknown kind"),
    ("a GIF fronting a JPEG (GIFAR-like)", gif() + jpeg(), "photo.jpg", "a GIF image"),
    ("a ZIP named photo.jpg", zip_archive("a.jpg", jpeg()), "photo.jpg", "a ZIP archive"),
    ("SVG with a script", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
     "photo.svg", "text"),
]


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("case, data, name, kind, payload", ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_a_polyglot_photo_is_shown_only_as_a_clean_copy(app, client, filing, case, data, name, kind, payload):
    site, headers = filing
    answer = send(client, site, headers, [(data, name, kind)])
    assert answer.status_code == 201, answer.get_json()
    wait_for_photo_jobs(app)
    (photo,) = answer.get_json()["photos"]
    for copy in shown(client, headers, photo).values():
        assert not any(marker in copy for marker in payload), case
        assert Image.open(io.BytesIO(copy)).format == "JPEG"
    # the upload itself is kept for the record but never served
    assert client.get(photo["url"].replace("/display", "/original"), headers=headers).status_code == 404


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("case, data, name, says", REFUSED, ids=[c[0] for c in REFUSED])
def test_a_polyglot_that_is_not_an_image_first_is_refused_naming_the_file(app, client, filing, case, data,
                                                                          name, says):
    site, headers = filing
    answer = send(client, site, headers, [(jpeg(), "good.jpg", "image/jpeg"), (data, name, "image/jpeg")])
    refused(answer, 415, name, says)
    assert report_count(app) == 0 and photo_files(app) == set()  # the good photo was not written either


@pytest.mark.backends("sqlite")
def test_bytes_kept_inside_a_colour_profile_are_still_served_only_as_an_image(app, client, filing):
    """The shown copy keeps a small JPEG's ICC profile (right colours), so bytes placed there survive:
    what makes them harmless is the response, which no browser renders as a page."""
    site, headers = filing
    answer = send(client, site, headers, [(jpeg_with_icc(b"\0" * 16 + SCRIPT), "photo.jpg", "image/jpeg")])
    assert answer.status_code == 201, answer.get_json()
    wait_for_photo_jobs(app)
    copies = shown(client, headers, answer.get_json()["photos"][0])  # image/jpeg, nosniff, script policy
    assert SCRIPT not in copies["thumbnail"]  # re-encoded: nothing of the upload but its pixels


# ------------------------------------------------------------------ absurd EXIF
ASCII, SHORT, LONG, RATIONAL, UNDEFINED, SRATIONAL = 2, 3, 4, 5, 7, 10
GPS_IFD, EXIF_IFD = 0x8825, 0x8769


def text(tag: int, value: bytes):
    return tag, ASCII, len(value) + 1, value + b"\0"


def short(tag: int, value: int):
    return tag, SHORT, 1, struct.pack(">H", value)


def rationals(tag: int, *pairs: tuple[int, int], signed: bool = False):
    values = b"".join(struct.pack(">ii" if signed else ">II", *p) for p in pairs)
    return tag, SRATIONAL if signed else RATIONAL, len(pairs), values


def raw_exif(ifd0=(), exif=(), gps=()) -> bytes:
    """An APP1 EXIF block written byte by byte (big-endian TIFF), so that any value can be put in it.

    Entries are (tag, type, count, value bytes), written as given; the EXIF and GPS IFDs, when given,
    follow IFD0, which points to them.
    """
    subs = [(tag, sorted(entries)) for tag, entries in ((EXIF_IFD, exif), (GPS_IFD, gps)) if entries]
    tables = [sorted([*ifd0, *((tag, LONG, 1, b"") for tag, _ in subs)])] + [entries for _, entries in subs]
    starts, end = [], 8
    for table in tables:
        starts.append(end)
        end += 2 + 12 * len(table) + 4
    pointers = {tag: starts[i + 1] for i, (tag, _) in enumerate(subs)}
    head, data = bytearray(b"MM\0*" + struct.pack(">I", 8)), bytearray()
    for table in tables:
        head += struct.pack(">H", len(table))
        for tag, kind, count, value in table:
            if tag in pointers and not value:
                value = struct.pack(">I", pointers[tag])
            if len(value) <= 4:
                head += struct.pack(">HHI", tag, kind, count) + value.ljust(4, b"\0")
            else:
                head += struct.pack(">HHII", tag, kind, count, end + len(data))
                data += value + b"\0" * (len(value) % 2)
        head += b"\0\0\0\0"
    return b"Exif\0\0" + bytes(head + data)


NORTH, EAST = text(1, b"N"), text(3, b"E")
LAT, LON = rationals(2, (41, 1), (7, 1), (24, 1)), rationals(4, (121, 1), (8, 1), (15, 1))
ABSURD_EXIF = {
    "latitude 999°": raw_exif(gps=[NORTH, rationals(2, (999, 1), (0, 1), (0, 1)), EAST, LON]),
    "negative denominators": raw_exif(gps=[NORTH, rationals(2, (41, -1), (7, -1), (0, 1), signed=True),
                                           EAST, LON]),
    "zero denominators": raw_exif(gps=[NORTH, rationals(2, (41, 0), (7, 0), (24, 0)), EAST, LON]),
    "NaN rationals (0/0)": raw_exif(gps=[NORTH, LAT, EAST, rationals(4, (0, 0), (0, 0), (0, 0))]),
    "a garbage hemisphere letter": raw_exif(gps=[text(1, b"\xff\xfe<"), LAT, EAST, LON]),
    "a hemisphere given as a number": raw_exif(gps=[short(1, 78), LAT, EAST, LON]),
    "a latitude given as text": raw_exif(gps=[NORTH, text(2, b"41.1234"), EAST, LON]),
    "a GPS IFD past the end of the file": raw_exif(ifd0=[(GPS_IFD, LONG, 1, struct.pack(">I", 0xFFFFFF))]),
    "a tag claiming 2^31 values": raw_exif(ifd0=[(0x010E, ASCII, 2**31, struct.pack(">I", 64))]),
    "DateTimeOriginal 9999:99:99 99:99:99": raw_exif(exif=[text(0x9003, b"9999:99:99 99:99:99")]),
    "DateTimeOriginal in year 1": raw_exif(exif=[text(0x9003, b"0001:01:01 00:00:00")]),
    "DateTime in year 1 at UTC+14": raw_exif(ifd0=[text(0x0132, b"0001:01:01 00:00:00")],
                                             exif=[text(0x9010, b"+14:00")]),
    "year 9999 at UTC-12": raw_exif(exif=[text(0x9003, b"9999:12:31 23:59:59"), text(0x9011, b"-12:00")]),
    "the far future (2999)": raw_exif(exif=[text(0x9003, b"2999:01:01 00:00:00")]),
    "a 60 KB ImageDescription": raw_exif(ifd0=[text(0x010E, b"A" * 60_000)]),
    "a 60 KB UserComment": raw_exif(exif=[(0x9286, UNDEFINED, 60_008, b"ASCII\0\0\0" + SCRIPT * 1500)]),
    "Orientation 0": raw_exif(ifd0=[short(0x0112, 0)]),
    "Orientation 9": raw_exif(ifd0=[short(0x0112, 9)]),
    "Orientation 65535": raw_exif(ifd0=[short(0x0112, 65535)]),
    "3,000 tags": raw_exif(ifd0=[short(0xC000 + i, i) for i in range(3000)]),
}


def test_the_exif_builder_writes_what_a_camera_writes(app, client, filing):
    """The control: a sound position and time built the same way are read and stored."""
    site, headers = filing
    exif = raw_exif(exif=[text(0x9003, b"2026:05:01 09:30:00")], gps=[NORTH, LAT, EAST, LON])
    answer = send(client, site, headers, [(image_bytes(exif=exif), "photo.jpg", "image/jpeg")])
    assert answer.status_code == 201, answer.get_json()
    (photo,) = stored_photos(app, answer.get_json()["id"])
    assert photo["exif_lat"] == pytest.approx(41 + 7 / 60 + 24 / 3600)
    assert photo["taken_at"] == datetime(2026, 5, 1, 1, 30, tzinfo=UTC)


@pytest.mark.backends("sqlite")  # read before anything is stored
@pytest.mark.parametrize("case", ABSURD_EXIF)
def test_absurd_exif_is_ignored_and_the_report_is_kept(app, client, filing, case):
    site, headers = filing
    photo = image_bytes(size=(64, 48), exif=ABSURD_EXIF[case])
    answer = send(client, site, headers, [(photo, "photo.jpg", "image/jpeg")])
    assert answer.status_code == 201, (case, answer.get_json())
    filed = answer.get_json()
    (row,) = stored_photos(app, filed["id"])
    assert (row["exif_lat"], row["exif_lon"], row["taken_at"]) == (None, None, None), case
    assert filed["flags"] == [] and row["flags"] == []  # no photo_far / photo_old from garbage
    listed = client.get(f"/api/v1/reports?site={site.id}", headers=headers)
    assert listed.status_code == 200 and [r["id"] for r in listed.get_json()["reports"]] == [filed["id"]]
    wait_for_photo_jobs(app)
    for copy in shown(client, headers, filed["photos"][0]).values():
        assert not Image.open(io.BytesIO(copy)).getexif() and b"<script" not in copy


@pytest.mark.backends("sqlite")  # read before anything is stored
@pytest.mark.parametrize("taken_at", ["0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59-12:00",
                                      "2999-01-01T00:00:00+08:00", "2026-05-01T09:30:00"])
def test_an_absurd_time_the_phone_read_from_exif_is_unknown_too(app, client, filing, taken_at):
    """photo_meta carries what the phone read before downscaling; it is held to the same rule."""
    site, headers = filing
    body = report(site, photo_meta=[{"taken_at": taken_at}])
    answer = send(client, site, headers, [(jpeg(), "photo.jpg", "image/jpeg")], body=body)
    assert answer.status_code == 201, answer.get_json()
    (row,) = stored_photos(app, answer.get_json()["id"])
    assert row["taken_at"] is None and row["flags"] == []


@pytest.mark.backends("sqlite")  # read before anything is stored
@pytest.mark.parametrize("observed_at", ["0001-01-01T00:00:00+08:00", "1970-01-01T00:00:00+00:00"])
def test_a_report_observed_before_any_phone_clock_was_set_is_422_naming_observed_at(app, client, filing,
                                                                                    observed_at):
    site, headers = filing
    answer = send(client, site, headers, [(jpeg(), "photo.jpg", "image/jpeg")],
                  body=report(site, observed_at=observed_at))
    assert refused(answer, 422, "observed_at")["field"] == "observed_at"
    assert report_count(app) == 0 and photo_files(app) == set()


# ------------------------------------------------------------------ file names
HOSTILE_NAMES = [
    "../../etc/passwd.jpg",
    "..\\..\\windows\\win.ini.jpg",
    "/etc/onemap-x.jpg",
    "photo\x00.jpg",
    "photo.jpg\x00../../x.sh",
    "photo\u202egpj.exe",  # shows as "photoexe.jpg"
    "\uff0e\uff0e\uff0f\uff0e\uff0e\uff0fetc\uff0fpasswd.jpg",  # fullwidth ../../etc/passwd
    "A" * 1000 + ".jpg",
    "...",
    ".",
    "CON.jpg",
    "<img src=x onerror=alert(1)>.jpg",
    "",
]
OUTSIDE = [Path("/etc/passwd.jpg"), Path("/etc/onemap-x.jpg"), Path("/x.sh"), Path("/windows")]


@pytest.mark.backends("sqlite")  # read before anything is stored
@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=[repr(n)[:40] for n in HOSTILE_NAMES])
def test_a_hostile_file_name_writes_nothing_outside_the_photo_folder(app, client, filing, tmp_path, name):
    site, headers = filing
    before = files(tmp_path)
    body = report(site)
    answer = send(client, site, headers, [(jpeg(), name, "image/jpeg")], body=body)
    assert answer.status_code == 201, answer.get_json()  # the name is never used: the photo is kept
    wait_for_photo_jobs(app)
    folder = app.config["ONEMAP"].instance / "media" / "photos" / body["uuid"]
    new = files(tmp_path) - before
    assert {p.parent for p in new} == {folder} and len(new) == 3  # original, display copy, thumbnail
    assert not any(p.exists() for p in OUTSIDE)
    (row,) = stored_photos(app, answer.get_json()["id"])
    # keys are made of the report's UUID, the attempt and the photo's place only: nothing of the name
    key = re.compile(rf"photos/{body['uuid']}/[0-9a-f]{{8}}-0\.(original\.jpeg|display\.jpg|thumbnail\.jpg)")
    assert all(key.fullmatch(row[k]) for k in ("original_key", "display_key", "thumbnail_key")), row


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=[repr(n)[:40] for n in HOSTILE_NAMES])
def test_a_hostile_file_name_comes_back_only_as_json_text(app, client, auth, filing, name):
    site, headers = filing
    answer = send(client, site, headers, [(b"<html>" + SCRIPT, name, "image/jpeg")])
    body = refused(answer, 415, "only JPEG, PNG or WebP")
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert b"\x00" not in answer.data  # a NUL goes back as \u0000, inside the JSON string
    assert body["message"].startswith(name or "photo 1")
    assert report_count(app) == 0 and photo_files(app) == set()
    # names are never stored, so no page can show them
    auth.login_as("manager")
    for page in (f"/sites/{site.id}", "/manage/reports"):
        html = client.get(page).get_data(as_text=True)
        assert "onerror=alert" not in html and "passwd" not in html


# ------------------------------------------------------------------ malformed multipart
MULTIPART = "multipart/form-data; boundary=B"
END = b"--B--\r\n"
# (case, body made from the report's JSON, content type, bytes promised beyond the body, status, words)
MALFORMED = [
    ("no boundary parameter", lambda r: part("report", r) + END, "multipart/form-data", 0, 400, "boundary"),
    ("a boundary that never appears", lambda r: part("report", r) + END, "multipart/form-data; boundary=Z",
     0, 400, "`report`"),
    ("a body shorter than its Content-Length", lambda r: part("report", r), MULTIPART, 10_000, 400,
     "`report`"),
    ("no closing boundary", lambda r: part("report", r)[:-20], MULTIPART, 0, 400, "`report`"),
    ("a part without a name", lambda r: part(None, r) + END, MULTIPART, 0, 400, "`report`"),
    ("two report parts", lambda r: part("report", r) * 2 + END, MULTIPART, 0, 400, "2 times"),
    ("a report part and a report file", lambda r: part("report", r) + part("report", r, "r.json") + END,
     MULTIPART, 0, 400, "2 times"),
    ("5,000 tiny parts", lambda r: part("report", r) + part("x", b"1") * 5000 + END, MULTIPART, 0, 413,
     "parts"),
    ("a report that is not JSON", lambda r: part("report", b"{checklist: pass") + END, MULTIPART, 0, 400,
     "not valid JSON"),
    ("a report nested 100,000 deep", lambda r: part("report", b"[" * 100_000 + b"]" * 100_000) + END,
     MULTIPART, 0, 400, "not valid JSON"),
    ("a report that is a JSON list", lambda r: part("report", b"[1, 2]") + END, MULTIPART, 0, 422,
     "JSON object"),
    ("a report file holding a NUL", lambda r: part("report", r.replace(b'"note": "', b'"note": "\\u0000'),
                                                   "r.json") + END, MULTIPART, 0, 400, "NUL"),
    ("a photo part with an empty body", lambda r: part("report", r) + part("photos", b"", "empty.jpg") + END,
     MULTIPART, 0, 422, "empty.jpg: the file is empty"),
]


@pytest.mark.backends("sqlite")  # read before anything is stored
@pytest.mark.parametrize("case, build, content_type, promised, status, says", MALFORMED,
                         ids=[c[0] for c in MALFORMED])
def test_a_malformed_multipart_body_is_refused_naming_the_problem(app, client, filing, case, build,
                                                                  content_type, promised, status, says):
    site, headers = filing
    body = build(json.dumps(report(site)).encode())
    answer = send_raw(client, site, headers, body, content_type, len(body) + promised)
    refused(answer, status, says)
    assert report_count(app) == 0 and photo_files(app) == set()


@pytest.fixture
def live(app):
    """The app under waitress, the server `onemap serve` runs, on a free port of 127.0.0.1."""
    server = waitress.server.create_server(app, host="127.0.0.1", port=0, threads=2, channel_timeout=30)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield server.effective_port
    server.task_dispatcher.shutdown()  # waits for requests in flight: none may outlive the app's database
    waitress.wasyncore.close_all(server._map)  # every connection and the listener: run() returns
    thread.join(timeout=10)


def exchange(port: int, request: bytes) -> bytes:
    """Send ``request``, then close our side (no more bytes will come), and read what the server says."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as connection:
        connection.sendall(request)
        connection.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


@pytest.mark.backends("sqlite")  # read before anything is stored
def test_a_client_that_stops_mid_body_leaves_nothing_and_the_server_serving(app, filing, live):
    site, headers = filing
    body = part("report", json.dumps(report(site)).encode()) + part("photos", jpeg(), "p.jpg")  # unfinished
    head = (f"POST /api/v1/sites/{site.id}/reports HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: {headers['Authorization']}\r\nContent-Type: multipart/form-data; boundary=B\r\n"
            f"Content-Length: {len(body) + 100_000}\r\n\r\n").encode()
    answer = exchange(live, head + body)
    assert not answer.startswith(b"HTTP/1.1 2") and b" 500 " not in answer.split(b"\r\n")[0]
    assert report_count(app) == 0 and photo_files(app) == set()
    health = exchange(live, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    assert health.startswith(b"HTTP/1.1 200")
