"""Inspection photos, bytes in and bytes out (pure: Pillow only, no web framework).

`inspect` decides whether an upload is a photo OneMap takes and reads what the
report checks need from it (size, EXIF position and time taken, a digest).
`derive` makes what is shown and exported: re-encoded JPEGs carrying no EXIF or
other metadata, because a phone's EXIF holds its owner's position and device.

An upload is judged by its content, never by its name or declared type, and its
size is read from the header before a single pixel is decoded: a few kilobytes
of PNG can claim a 13000 x 13000 image that would take gigabytes to decode.
"""

from __future__ import annotations

import hashlib
import io
import math
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from PIL import Image, ImageOps

from geo.messages import Message, msg
from geo.model import InvalidInput, TooLarge, UnsupportedMedia

# Phones used in Jinzhou write local time without an offset: when EXIF records
# no offset, the time taken is read as China Standard Time (UTC+8, no DST).
CHINA_STANDARD_TIME = timezone(timedelta(hours=8))
# Times a photo can have been taken (UTC years, end excluded); outside them its time is unknown.
PLAUSIBLE_YEARS = (1970, 2100)

# Pillow's name for what it opened -> ours. Phones often write MPO (a JPEG with
# extra frames appended, e.g. depth maps); its first frame is an ordinary JPEG.
_TAKEN = {"JPEG": "jpeg", "MPO": "jpeg", "PNG": "png", "WEBP": "webp"}

# Leading bytes of what people upload by mistake, to say what was sent instead.
PHOTO = msg("photo_name", "photo")  # an upload's name when it has none of its own
_TIFF = msg("media_tiff", "a TIFF image")
_OTHER = [(b"GIF8", msg("media_gif", "a GIF image")), (b"%PDF", msg("media_pdf", "a PDF document")),
          (b"BM", msg("media_bmp", "a BMP image")), (b"II*\x00", _TIFF), (b"MM\x00*", _TIFF),
          (b"PK\x03\x04", msg("media_zip", "a ZIP archive"))]

# Pillow reports broken data with any of these, depending on the format and where it breaks.
_BROKEN = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error)

_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_DATETIME, _DATETIME_ORIGINAL, _OFFSET, _OFFSET_ORIGINAL = 0x0132, 0x9003, 0x9010, 0x9011


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 15 * 1024 * 1024  # per photo
    max_pixels: int = 40_000_000  # width*height cap, checked from the header BEFORE decoding
    display_side: int = 1600  # longest side of the shown copy
    thumbnail_side: int = 320


@dataclass(frozen=True)
class PhotoInfo:
    format: str  # "jpeg" | "png" | "webp"
    width: int
    height: int
    taken_at: datetime | None  # aware
    lat: float | None  # WGS84 decimal degrees, south/west negative
    lon: float | None
    sha256: str


def inspect(data: bytes, limits: Limits = Limits(), *, name: str | Message = PHOTO) -> PhotoInfo:
    """Check an upload (refusing it with a domain error naming it ``name``) and read its EXIF.

    A JPEG is checked without decoding its pixels (header, size cap, end-of-image
    marker): decoding costs more than the rest of a report's request, and the
    derived copies decode it anyway, off the request path.
    """
    with _opened(data, limits, name, decode=False) as im:
        exif = _exif(im)
        lat, lon = _position(exif)
        return PhotoInfo(_TAKEN[im.format], im.width, im.height, _taken_at(exif), lat, lon,
                         hashlib.sha256(data).hexdigest())


def derive(data: bytes, limits: Limits = Limits()) -> tuple[bytes, bytes]:
    """The display copy and the thumbnail: upright, RGB, never upscaled, JPEG without metadata.

    Our phone form sends JPEGs already upright and at most 1600 px; their display
    copy is the same image with its metadata segments cut out (lossless, no
    decoding), and the thumbnail is decoded at reduced scale by libjpeg.
    """
    display = _lossless_display(data, limits)
    if display is None:
        with _opened(data, limits, "photo") as im:
            source = _rgb(_upright(im))
        source.thumbnail((limits.display_side, limits.display_side), Image.Resampling.LANCZOS)
        display = _jpeg(source)
    else:
        with _opened(data, limits, "photo", decode=False) as im:
            # libjpeg decodes at 1/2, 1/4 or 1/8 scale, the smallest still covering the thumbnail
            fit = limits.thumbnail_side / max(im.size)
            im.draft("RGB", (math.ceil(im.width * fit), math.ceil(im.height * fit)))
            with _quiet():
                im.load()
            source = _rgb(im)
    source.thumbnail((limits.thumbnail_side, limits.thumbnail_side), Image.Resampling.LANCZOS)
    return display, _jpeg(source)


def _lossless_display(data: bytes, limits: Limits) -> bytes | None:
    """A small, upright RGB/grey JPEG without its metadata, or None when it must be re-encoded."""
    with _opened(data, limits, "photo", decode=False) as im:
        orientation = _exif(im).get(0x0112, 1)
        if (im.format not in ("JPEG", "MPO") or im.mode not in ("RGB", "L") or orientation != 1
                or max(im.size) > limits.display_side):
            return None
    return strip_jpeg_metadata(data)


def _segments(data: bytes, *, scan_end: bool = True) -> Iterator[tuple[int, int, int]]:
    """(marker, start, end) of each JPEG header segment, up to and including start of scan (0xDA).

    For 0xDA, ``end`` is where the first image's data ends (after its end-of-image
    marker), or -1 when there is none: the file was cut short; without ``scan_end``
    it is not looked for (-1).
    """
    i = 2
    while i + 4 <= len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xDA:  # scan data cannot contain FF D9: FF bytes in it are stuffed
            eoi = data.find(b"\xff\xd9", i) if scan_end else -1
            yield marker, i, eoi + 2 if eoi >= 0 else -1
            return
        end = i + 2 + int.from_bytes(data[i + 2:i + 4], "big")
        yield marker, i, end
        i = end


def _jpeg_complete(data: bytes) -> bool:
    """Whether the scan data is followed by an end-of-image marker somewhere.

    Searched from the end, where a whole file has it: the same answer as ``_segments``'s search
    from the start of the scan, which costs a pass over ~300 KB of scan data full of stuffed FF bytes.
    """
    for marker, start, _ in _segments(data, scan_end=False):
        if marker == 0xDA:
            return data.rfind(b"\xff\xd9", start) >= 0
    return False


def strip_jpeg_metadata(data: bytes) -> bytes:
    """The first image of a JPEG without APPn segments (EXIF, XMP, maker notes…) or comments.

    Pixels are untouched: the scan data is copied as it is, up to the end-of-image
    marker (trailers and an MPO's further images, which carry EXIF of their own,
    are dropped). An ICC colour profile is kept: no personal data, right colours.
    """
    out = bytearray(data[:2])
    for marker, start, end in _segments(data):
        segment = data[start:end] if end > 0 else data[start:]
        metadata = 0xE1 <= marker <= 0xEF or marker == 0xFE
        if not metadata or (marker == 0xE2 and segment[4:16] == b"ICC_PROFILE\0"):
            out += segment
        if marker == 0xDA:
            return bytes(out)
    raise InvalidInput(msg("photo_no_image_data", "photo: no image data found in the JPEG"), field="photos")


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence Pillow's warnings: they describe the upload (an oversized or malformed
    file), which this module judges itself and reports as domain errors instead.
    (catch_warnings swaps process-wide state; under threads a warning may at worst
    be logged, the limits are enforced by our own checks either way.)"""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        warnings.filterwarnings("ignore", module=r"PIL\.")
        yield


@contextmanager
def _opened(data: bytes, limits: Limits, name: str | Message, *,
            decode: bool = True) -> Iterator[Image.Image]:
    """Open an accepted photo (decoding it fully unless ``decode`` is False for a JPEG),
    or raise the domain error that says why not."""
    if len(data) > limits.max_bytes:
        raise TooLarge(msg("photo_too_many_bytes", "{name}: {size} bytes, more than the limit of {limit}",
                           name=name, size=format(len(data), ","), limit=format(limits.max_bytes, ",")))
    _check_kind(data, name)
    try:
        with _quiet():
            im = Image.open(io.BytesIO(data), formats=["JPEG", "PNG", "WEBP"])  # lazy: header only
    except Image.DecompressionBombError as exc:  # Pillow's own hard cap (2x MAX_IMAGE_PIXELS)
        raise TooLarge(msg("photo_too_large_to_decode", "{name}: the image is too large to decode",
                           name=name)) from exc
    except _BROKEN as exc:
        raise InvalidInput(_damaged(name, exc), field="photos") from exc
    with im:
        if im.width * im.height > limits.max_pixels:  # before any decoding
            raise TooLarge(msg("photo_too_many_pixels",
                               "{name}: {width} x {height} pixels, more than the limit of {limit}",
                               name=name, width=im.width, height=im.height,
                               limit=format(limits.max_pixels, ",")))
        try:
            if decode or im.format not in ("JPEG", "MPO"):
                with _quiet():
                    im.load()  # decodes everything: a truncated or corrupt file fails here
            elif not _jpeg_complete(data):
                raise OSError(msg("photo_jpeg_truncated", "the JPEG stops before its end-of-image marker"))
        except _BROKEN as exc:
            raise InvalidInput(_damaged(name, exc), field="photos") from exc
        yield im


def _damaged(name: str | Message, exc: BaseException) -> Message:
    detail = exc.args[0] if len(exc.args) == 1 and isinstance(exc.args[0], Message) else str(exc)
    return msg("photo_damaged", "{name}: the image is damaged or incomplete ({detail})", name=name,
               detail=detail)


def _check_kind(data: bytes, name: str | Message) -> None:
    """Refuse anything but JPEG, PNG or WebP by its leading bytes, saying what it looks like."""
    if not data:
        raise InvalidInput(msg("photo_empty", "{name}: the file is empty", name=name), field="photos")
    if data[:3] == b"\xff\xd8\xff" or data[:8] == b"\x89PNG\r\n\x1a\n" or (
        data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    ):
        return
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypavif"):
        kind = msg("media_heic", "a HEIC/AVIF image (set the camera to save JPEG)")
    else:
        kind = next((k for magic, k in _OTHER if data.startswith(magic)), None)
    if kind is None:
        try:
            data[:1024].decode("utf-8")
            kind = msg("media_text", "text")
        except UnicodeDecodeError:
            kind = msg("media_unknown", "an unknown kind of file")
    raise UnsupportedMedia(msg("photo_unsupported_kind", "{name}: only JPEG, PNG or WebP photos are taken; "
                               "this is {kind}", name=name, kind=kind))


def _upright(im: Image.Image) -> Image.Image:
    """Turn the pixels as the EXIF Orientation says (phones store portraits sideways)."""
    try:
        with _quiet():
            return ImageOps.exif_transpose(im)
    except Exception:  # garbled EXIF: show the pixels as stored rather than fail
        return im.copy()


def _rgb(im: Image.Image) -> Image.Image:
    """RGB for JPEG; transparent parts become white, not whatever colour they hid."""
    if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        out = Image.new("RGB", rgba.size, "white")
        out.paste(rgba, mask=rgba.getchannel("A"))
        return out
    return im.convert("RGB")


def _jpeg(im: Image.Image) -> bytes:
    """Encode without any metadata: Pillow would otherwise carry a JPEG comment over from `info`."""
    im.info = {}
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=85, optimize=True)
    return buf.getvalue()


def _exif(im: Image.Image) -> Image.Exif:
    """The photo's EXIF, empty when it has none or it cannot be parsed (never an error)."""
    try:
        with _quiet():
            exif = im.getexif()
            for ifd in (_EXIF_IFD, _GPS_IFD):
                exif.get_ifd(ifd)  # parsed (and cached) now, inside the guard
            return exif
    except Exception:  # garbled EXIF must not cost the user their report
        return Image.Exif()


def _position(exif: Image.Exif) -> tuple[float | None, float | None]:
    """EXIF GPS (degrees, minutes, seconds as rationals plus N/S, E/W) -> signed decimal degrees."""
    gps = exif.get_ifd(_GPS_IFD)
    lat = _degrees(gps.get(2), gps.get(1), "NS", 90)
    lon = _degrees(gps.get(4), gps.get(3), "EW", 180)
    return (lat, lon) if lat is not None and lon is not None else (None, None)


def _degrees(dms: object, ref: object, hemispheres: str, bound: float) -> float | None:
    """(d, m, s) rationals and a hemisphere letter -> signed degrees, None if anything is off."""
    try:
        parts = [float(p) for p in dms][:3]  # type: ignore[attr-defined]
        value = sum(p / 60**i for i, p in enumerate(parts))
        letter = (ref.decode("ascii", "replace") if isinstance(ref, bytes) else str(ref)).strip("\0 ").upper()
    except (TypeError, ValueError):
        return None
    if not parts or not math.isfinite(value) or not 0 <= value <= bound or letter not in tuple(hemispheres):
        return None
    return -value if letter == hemispheres[1] else value


def plausible_time(when: datetime) -> datetime | None:
    """``when`` (aware) if a camera clock could have shown it, else None: a clock never set or broken.

    Year 1 or 9999 would also fail to convert to UTC when stored (a 500 instead of a report).
    """
    try:
        year = when.astimezone(UTC).year
    except OverflowError:
        return None
    return when if PLAUSIBLE_YEARS[0] <= year < PLAUSIBLE_YEARS[1] else None


def _taken_at(exif: Image.Exif) -> datetime | None:
    """DateTimeOriginal (else DateTime) with its recorded offset, else China Standard Time."""
    sub = exif.get_ifd(_EXIF_IFD)
    for stamp, offset in ((sub.get(_DATETIME_ORIGINAL), sub.get(_OFFSET_ORIGINAL)),
                          (exif.get(_DATETIME), sub.get(_OFFSET))):
        try:
            when = datetime.strptime(str(stamp).strip("\0 "), "%Y:%m:%d %H:%M:%S")
        except ValueError:
            continue
        try:
            zone = datetime.strptime(str(offset).strip("\0 "), "%z").tzinfo
        except ValueError:
            zone = None
        if (taken := plausible_time(when.replace(tzinfo=zone or CHINA_STANDARD_TIME))) is not None:
            return taken
    return None
