"""Photo checks and derived copies, on real images made with Pillow in the test."""

import io
import struct
import warnings
import zlib
from datetime import datetime, timedelta, timezone

import pytest
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from geo.model import InvalidInput, TooLarge, UnsupportedMedia
from geo.photos import Limits, derive, inspect

GPS_IFD, EXIF_IFD = 0x8825, 0x8769
CST = timezone(timedelta(hours=8))


def image_bytes(fmt="JPEG", size=(64, 48), color="red", mode="RGB", exif=None, **options):
    buf = io.BytesIO()
    image = Image.new(mode, size, color)
    if fmt == "MPO":
        options.update(save_all=True, append_images=[Image.new(mode, size, "blue")])
    if exif is not None:  # as bytes: Pillow's PNG writer skips an Exif whose tags are all in sub-IFDs
        options["exif"] = exif.tobytes() if isinstance(exif, Image.Exif) else exif
    image.save(buf, fmt, **options)
    return buf.getvalue()


def dms(degrees, minutes, seconds_num, seconds_den):
    return (IFDRational(degrees), IFDRational(minutes), IFDRational(seconds_num, seconds_den))


def make_exif(gps=None, original=None, offset=None, plain=None, orientation=None):
    exif = Image.Exif()
    if gps:
        exif.get_ifd(GPS_IFD).update(gps)
    sub = exif.get_ifd(EXIF_IFD)
    if original:
        sub[0x9003] = original  # DateTimeOriginal
    if offset:
        sub[0x9011] = offset  # OffsetTimeOriginal
    if plain:
        exif[0x0132] = plain  # DateTime
    if orientation:
        exif[0x0112] = orientation
    return exif


def png_claiming(width, height):
    """A tiny valid PNG whose IHDR is patched to claim width x height (a decompression bomb)."""
    data = bytearray(image_bytes("PNG", size=(1, 1)))
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


# ------------------------------------------------------------------ EXIF
JINZHOU = {1: "N", 2: dms(41, 7, 244416, 10000), 3: "E", 4: dms(121, 8, 15, 1)}
SOUTH_WEST = {1: "S", 2: dms(33, 52, 1234567, 1000000), 3: "W", 4: dms(70, 40, 3, 4)}


@pytest.mark.parametrize(
    "gps, lat, lon",
    [
        (JINZHOU, 41 + 7 / 60 + 24.4416 / 3600, 121 + 8 / 60 + 15 / 3600),
        (SOUTH_WEST, -(33 + 52 / 60 + 1.234567 / 3600), -(70 + 40 / 60 + 0.75 / 3600)),
        ({1: "N", 2: dms(41, 0, 0, 1)}, None, None),  # no longitude: no position
        ({**JINZHOU, 1: "X"}, None, None),  # garbled reference
        ({**JINZHOU, 3: ""}, None, None),  # empty reference
        ({**JINZHOU, 2: (IFDRational(41, 0), IFDRational(0), IFDRational(0))}, None, None),  # 41/0
        ({**JINZHOU, 2: dms(95, 0, 0, 1)}, None, None),  # beyond the pole
        (None, None, None),
    ],
)
def test_gps_from_exif(gps, lat, lon):
    info = inspect(image_bytes(exif=make_exif(gps=gps)))
    if lat is None:
        assert (info.lat, info.lon) == (None, None)
    else:
        assert info.lat == pytest.approx(lat, abs=1e-6)
        assert info.lon == pytest.approx(lon, abs=1e-6)


@pytest.mark.parametrize(
    "tags, taken_at",
    [
        ({"original": "2024:05:01 09:30:00", "offset": "+02:00"},
         datetime(2024, 5, 1, 9, 30, tzinfo=timezone(timedelta(hours=2)))),
        ({"original": "2024:05:01 09:30:00"}, datetime(2024, 5, 1, 9, 30, tzinfo=CST)),
        ({"plain": "2024:05:02 18:00:05"}, datetime(2024, 5, 2, 18, 0, 5, tzinfo=CST)),
        ({"original": "2024:05:01 09:30:00", "plain": "2024:06:01 00:00:00"},
         datetime(2024, 5, 1, 9, 30, tzinfo=CST)),
        ({"original": "0000:00:00 00:00:00", "plain": "2024:05:02 18:00:05"},
         datetime(2024, 5, 2, 18, 0, 5, tzinfo=CST)),
        ({"original": "2024:05:01 09:30:00", "offset": "garbage"}, datetime(2024, 5, 1, 9, 30, tzinfo=CST)),
        ({"original": "yesterday"}, None),
        ({}, None),
    ],
)
def test_time_taken_from_exif(tags, taken_at):
    info = inspect(image_bytes(exif=make_exif(**tags)))
    assert info.taken_at == taken_at
    assert info.taken_at is None or info.taken_at.tzinfo is not None


def test_garbled_exif_is_no_error():
    data = image_bytes(exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff\x01\x02")
    info = inspect(data)
    assert (info.lat, info.lon, info.taken_at) == (None, None, None)
    assert len(derive(data)) == 2


# ------------------------------------------------------------------ what is taken
@pytest.mark.parametrize(
    "fmt, mode, expected",
    [("JPEG", "RGB", "jpeg"), ("PNG", "RGB", "png"), ("PNG", "RGBA", "png"), ("PNG", "P", "png"),
     ("WEBP", "RGB", "webp"), ("WEBP", "RGBA", "webp"),
     ("MPO", "RGB", "jpeg")],  # phones' JPEG with extra frames appended (depth map, preview)
)
def test_jpeg_png_webp_are_taken(fmt, mode, expected):
    data = image_bytes(fmt, size=(120, 90), mode=mode)
    info = inspect(data, name="a.bin")
    assert (info.format, info.width, info.height) == (expected, 120, 90)
    assert len(info.sha256) == 64


def gif():
    return image_bytes("GIF", mode="P", color=1)


@pytest.mark.parametrize(
    "data, name, kind",
    [
        (gif(), "x.jpg", "a GIF image"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "s.png", "a PDF document"),
        (b"not a photo at all\n", "x.jpg", "text"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "IMG_0001.jpg", "HEIC"),
        (bytes(range(256)) * 4, "blob.webp", "unknown kind of file"),
    ],
    ids=["gif", "pdf", "text", "heic", "binary"],
)
def test_other_content_is_unsupported_whatever_its_name(data, name, kind):
    with pytest.raises(UnsupportedMedia) as caught:
        inspect(data, name=name)
    assert name in caught.value.message and kind in caught.value.message


# ------------------------------------------------------------------ limits
@pytest.mark.parametrize(
    "data, limits, says",
    [
        (png_claiming(13000, 13000), Limits(), "13000 x 13000"),  # under Pillow's own error: it only warns
        (png_claiming(20000, 20000), Limits(), "too large"),  # over it: Pillow refuses outright
        (png_claiming(7000, 7000), Limits(), "7000 x 7000"),  # over ours, under Pillow's warning
        (image_bytes(size=(200, 100)), Limits(max_pixels=19_999), "200 x 100"),
        (image_bytes(size=(200, 100)), Limits(max_bytes=500), "more than the limit of 500"),
    ],
    ids=["bomb-warned", "bomb-refused", "over-max-pixels", "small-max-pixels", "max-bytes"],
)
def test_over_the_limits_is_too_large_without_warnings(data, limits, says):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(TooLarge, match=says):
            inspect(data, limits, name="bomb.png")
        with pytest.raises(TooLarge):
            derive(data, limits)


def test_the_bomb_is_small():
    assert len(png_claiming(13000, 13000)) < 1000


# ------------------------------------------------------------------ broken files
def truncated(fmt):
    noisy = Image.frombytes("RGB", (400, 300), bytes(range(256)) * 1406 + bytes(64))
    buf = io.BytesIO()
    noisy.save(buf, fmt)
    data = buf.getvalue()
    return data[: len(data) * 2 // 3]


@pytest.mark.parametrize(
    "data",
    [
        truncated("JPEG"),
        truncated("PNG"),
        truncated("WEBP"),
        b"\xff\xd8\xff\xe0" + b"\x00" * 40,  # a JPEG start, then nothing
        b"\x89PNG\r\n\x1a\n" + b"garbage" * 10,
        b"",
    ],
    ids=["jpeg", "png", "webp", "jpeg-start", "png-signature", "empty"],
)
def test_damaged_files_are_invalid_input(data):
    with pytest.raises(InvalidInput) as caught:
        inspect(data, name="IMG_7.jpg")
    assert "IMG_7.jpg" in caught.value.message and caught.value.field == "photos"


# ------------------------------------------------------------------ derived copies
def opened(data):
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_display_copy_is_upright_and_bounded():
    # A portrait photo as phones store it: landscape pixels, Orientation 6 (turn 90° clockwise).
    stored = Image.new("RGB", (4000, 3000), "blue")
    stored.paste("red", (0, 0, 4000, 1500))  # top half red in the stored pixels
    buf = io.BytesIO()
    stored.save(buf, "JPEG", exif=make_exif(gps=JINZHOU, orientation=6).tobytes())
    display, thumb = derive(buf.getvalue())
    shown = opened(display)
    assert shown.format == "JPEG" and shown.size == (1200, 1600)
    red, blue = shown.getpixel((1100, 800)), shown.getpixel((100, 800))  # the top turned to the right
    assert red[0] > 200 and red[2] < 60 and blue[2] > 200 and blue[0] < 60
    assert opened(thumb).size == (240, 320)


@pytest.mark.parametrize(
    "fmt, size, display_size, thumb_size",
    [
        ("JPEG", (200, 100), (200, 100), (200, 100)),  # never upscaled
        ("PNG", (1000, 500), (1000, 500), (320, 160)),
        ("WEBP", (3200, 1000), (1600, 500), (320, 100)),
        ("JPEG", (1600, 1600), (1600, 1600), (320, 320)),
    ],
)
def test_sizes(fmt, size, display_size, thumb_size):
    display, thumb = derive(image_bytes(fmt, size=size))
    assert opened(display).size == display_size and opened(thumb).size == thumb_size


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_derived_copies_carry_no_exif_or_metadata(fmt):
    options = {"comment": b"owner: Zhang San"} if fmt == "JPEG" else {}
    data = image_bytes(fmt, size=(800, 600), exif=make_exif(gps=JINZHOU, original="2024:05:01 09:30:00"),
                       **options)
    assert inspect(data).lat is not None
    for out in derive(data):
        image = opened(out)
        assert image.format == "JPEG" and image.mode == "RGB"
        assert not image.getexif() and not image.getexif().get_ifd(GPS_IFD)
        assert not {"exif", "comment", "xmp", "icc_profile"} & image.info.keys()
        assert b"Exif" not in out and b"Zhang" not in out
        assert (inspect(out).lat, inspect(out).taken_at) == (None, None)


def test_transparency_becomes_white():
    display, _ = derive(image_bytes("PNG", size=(50, 50), mode="RGBA", color=(255, 0, 0, 0)))
    assert all(channel > 245 for channel in opened(display).getpixel((25, 25)))


def test_small_upright_jpeg_keeps_its_pixels_and_loses_its_metadata():
    """What our phone form sends: the shown copy is the same image, EXIF cut out, no re-encoding."""
    from geo.photos import derive, strip_jpeg_metadata

    source = Image.new("RGB", (800, 600), (30, 140, 90))
    for x in range(0, 800, 40):
        source.paste((200, 40, 40), (x, 0, x + 20, 600))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(0x8825).update({1: "N", 2: (41.0, 42.0, 0.0), 3: "E", 4: (122.0, 6.0, 0.0)})
    buffer = io.BytesIO()
    source.save(buffer, "JPEG", exif=exif.tobytes(), icc_profile=b"\0" * 128, comment=b"secret")
    original = buffer.getvalue() + b"trailing junk after the image"
    display, thumbnail = derive(original)
    shown = Image.open(io.BytesIO(display))
    assert not shown.getexif() and b"PhoneMaker" not in display and b"secret" not in display
    assert shown.info.get("icc_profile") == b"\0" * 128  # colour profile kept
    assert b"trailing junk" not in display
    assert shown.tobytes() == Image.open(io.BytesIO(original)).tobytes()  # lossless
    assert display == strip_jpeg_metadata(original)
    small = Image.open(io.BytesIO(thumbnail))
    assert max(small.size) <= 320 and not small.getexif()
