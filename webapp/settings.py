"""Every setting declared once, read from ONEMAP_* environment variables.

The table feeds the app, the CLI, `onemap --help` and a test that checks the
README documents each setting (datasette's SETTINGS idea).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from geo.messages import msg
from geo.model import InvalidInput
from geo.photos import Limits


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str
    choices: tuple[str, ...] = ()


SETTINGS = (
    Setting("ONEMAP_INSTANCE", "./instance", "folder for the embedded database, photos and the secret key"),
    Setting("ONEMAP_DATABASE_URL", "sqlite:///<instance>/onemap.db",
            "SQLAlchemy URL of the database: sqlite:///… or postgresql+psycopg://… (PostGIS)"),
    Setting("ONEMAP_MEDIA_URL", "file://<instance>/media",
            "where photos live: file://<folder>, or s3://bucket/prefix for S3-compatible storage"),
    Setting("ONEMAP_S3_ENDPOINT", "AWS S3",
            "URL of the S3-compatible server for an s3:// ONEMAP_MEDIA_URL, e.g. http://minio:9000; "
            "credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or ~/.aws"),
    Setting("ONEMAP_SECRET_KEY", "generated once into the instance folder", "session signing key"),
    Setting("ONEMAP_BASEMAP", "osm", "background map tiles", ("osm", "tianditu", "amap", "none")),
    Setting("ONEMAP_TIANDITU_KEY", "", "Tianditu API key (needed by ONEMAP_BASEMAP=tianditu)"),
    Setting("ONEMAP_LANG", "zh_CN", "default interface language", ("zh_CN", "en")),
    Setting("ONEMAP_TIMEZONE", "Asia/Shanghai",
            "time zone of the times people read (pages, phones, CSV and XLSX) and of day boundaries "
            "(today, overdue, cadence days, since/until and as_of dates); an IANA name"),
    Setting("ONEMAP_PHOTO_SIDE", "1600", "longest side in pixels of photos as phones send them and as shown"),
    Setting("ONEMAP_MAX_PHOTO_MB", "15", "largest photo file accepted, in MB"),
    Setting("ONEMAP_MAX_PHOTO_PIXELS", "40000000", "largest photo accepted, in pixels (width × height)"),
    Setting("ONEMAP_MAX_REQUEST_MB", "100", "largest request accepted (a report with all its photos), in MB"),
    Setting("ONEMAP_PROXIES", "0", "reverse proxies (nginx) in front of the app that set X-Forwarded-For, "
            "-Proto and -Host; above 0 those headers are trusted and session cookies go over HTTPS only"),
    Setting("ONEMAP_RATELIMIT_STORAGE", "memory://",
            "where failed logins and bad tokens are counted: memory:// (one process), or a store every "
            "process shares, e.g. redis://host:6379 or memcached://host:11211"),
)

# Numeric settings: (smallest, largest) accepted value.
_BOUNDS = {"ONEMAP_PHOTO_SIDE": (320, 8000), "ONEMAP_MAX_PHOTO_MB": (1, 200),
           "ONEMAP_MAX_PHOTO_PIXELS": (1_000_000, 400_000_000), "ONEMAP_MAX_REQUEST_MB": (1, 2000),
           "ONEMAP_PROXIES": (0, 5)}


@dataclass(frozen=True)
class Config:
    instance: Path
    database_url: str
    media_url: str
    secret_key: str
    basemap: str
    tianditu_key: str
    lang: str
    timezone: str = "Asia/Shanghai"
    s3_endpoint: str | None = None
    photo_side: int = 1600
    max_photo_mb: int = 15
    max_photo_pixels: int = 40_000_000
    max_request_mb: int = 100
    proxies: int = 0
    ratelimit_storage: str = "memory://"

    def open_media(self):
        """The photo storage of ONEMAP_MEDIA_URL (and ONEMAP_S3_ENDPOINT)."""
        from geo.storage.blobs import open_blobs

        return open_blobs(self.media_url, endpoint=self.s3_endpoint)

    def photo_limits(self) -> Limits:
        return Limits(max_bytes=self.max_photo_mb * 1024 * 1024, max_pixels=self.max_photo_pixels,
                      display_side=self.photo_side)


def _secret_key(instance: Path) -> str:
    """The instance's own key, created once, readable by its owner only."""
    path = instance / "secret_key"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip()


def _number(name: str, given: str | None) -> int:
    default = next(s.default for s in SETTINGS if s.name == name)
    low, high = _BOUNDS[name]
    try:
        value = int(given or default)
    except ValueError:
        raise InvalidInput(msg("setting_not_whole", "{name}={value}: give a whole number", name=name,
                               value=repr(given)), field=name) from None
    if not low <= value <= high:
        raise InvalidInput(msg("setting_outside", "{name}={value}: give a number from {low} to {high}",
                               name=name, value=repr(given), low=low, high=high), field=name)
    return value


def _timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError):
        raise InvalidInput(msg("setting_timezone", "ONEMAP_TIMEZONE={value}: give an IANA time zone, e.g. "
                               "Asia/Shanghai", value=repr(name)), field="ONEMAP_TIMEZONE") from None
    return name


def load_config(env: Mapping[str, str] | None = None, **overrides: str) -> Config:
    """Settings from ``env`` (default: os.environ), with keyword overrides for tests."""
    env = dict(os.environ if env is None else env) | {k.upper(): v for k, v in overrides.items()}
    value = {s.name: env.get(s.name) or None for s in SETTINGS}
    for setting in SETTINGS:
        given = value[setting.name]
        if setting.choices and given and given not in setting.choices:
            raise InvalidInput(msg("setting_choice", "{name}={value}: use one of {allowed}",
                                   name=setting.name, value=repr(given), allowed=", ".join(setting.choices)),
                               field=setting.name)
    instance = Path(value["ONEMAP_INSTANCE"] or "instance").expanduser().resolve()
    basemap = value["ONEMAP_BASEMAP"] or "osm"
    if basemap == "tianditu" and not value["ONEMAP_TIANDITU_KEY"]:
        raise InvalidInput(msg("tianditu_key", "ONEMAP_BASEMAP=tianditu needs ONEMAP_TIANDITU_KEY"),
                           field="ONEMAP_TIANDITU_KEY")
    return Config(
        instance=instance,
        database_url=value["ONEMAP_DATABASE_URL"] or f"sqlite:///{instance / 'onemap.db'}",
        media_url=value["ONEMAP_MEDIA_URL"] or f"file://{instance / 'media'}",
        secret_key=value["ONEMAP_SECRET_KEY"] or _secret_key(instance),
        basemap=basemap,
        tianditu_key=value["ONEMAP_TIANDITU_KEY"] or "",
        lang=value["ONEMAP_LANG"] or "zh_CN",
        timezone=_timezone(value["ONEMAP_TIMEZONE"] or "Asia/Shanghai"),
        s3_endpoint=value["ONEMAP_S3_ENDPOINT"],
        ratelimit_storage=value["ONEMAP_RATELIMIT_STORAGE"] or "memory://",
        **{name.removeprefix("ONEMAP_").lower(): _number(name, value[name]) for name in _BOUNDS},
    )
