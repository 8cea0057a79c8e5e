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

from geo.model import InvalidInput


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str
    choices: tuple[str, ...] = ()


SETTINGS = (
    Setting("ONEMAP_INSTANCE", "./instance", "folder for the embedded database, photos and the secret key"),
    Setting("ONEMAP_DATABASE_URL", "sqlite:///<instance>/onemap.db",
            "SQLAlchemy URL of the database"),
    Setting("ONEMAP_MEDIA_URL", "file://<instance>/media", "where photos live"),
    Setting("ONEMAP_SECRET_KEY", "generated once into the instance folder", "session signing key"),
    Setting("ONEMAP_BASEMAP", "osm", "background map tiles", ("osm", "tianditu", "amap", "none")),
    Setting("ONEMAP_TIANDITU_KEY", "", "Tianditu API key (needed by ONEMAP_BASEMAP=tianditu)"),
    Setting("ONEMAP_LANG", "zh_CN", "default interface language", ("zh_CN", "en")),
)


@dataclass(frozen=True)
class Config:
    instance: Path
    database_url: str
    media_url: str
    secret_key: str
    basemap: str
    tianditu_key: str
    lang: str


def _secret_key(instance: Path) -> str:
    """The instance's own key, created once, readable by its owner only."""
    path = instance / "secret_key"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip()


def load_config(env: Mapping[str, str] | None = None, **overrides: str) -> Config:
    """Settings from ``env`` (default: os.environ), with keyword overrides for tests."""
    env = dict(os.environ if env is None else env) | {k.upper(): v for k, v in overrides.items()}
    value = {s.name: env.get(s.name) or None for s in SETTINGS}
    for setting in SETTINGS:
        given = value[setting.name]
        if setting.choices and given and given not in setting.choices:
            raise InvalidInput(f"{setting.name}={given!r}: use one of {', '.join(setting.choices)}",
                               field=setting.name)
    instance = Path(value["ONEMAP_INSTANCE"] or "instance").expanduser().resolve()
    basemap = value["ONEMAP_BASEMAP"] or "osm"
    if basemap == "tianditu" and not value["ONEMAP_TIANDITU_KEY"]:
        raise InvalidInput("ONEMAP_BASEMAP=tianditu needs ONEMAP_TIANDITU_KEY", field="ONEMAP_TIANDITU_KEY")
    return Config(
        instance=instance,
        database_url=value["ONEMAP_DATABASE_URL"] or f"sqlite:///{instance / 'onemap.db'}",
        media_url=value["ONEMAP_MEDIA_URL"] or f"file://{instance / 'media'}",
        secret_key=value["ONEMAP_SECRET_KEY"] or _secret_key(instance),
        basemap=basemap,
        tianditu_key=value["ONEMAP_TIANDITU_KEY"] or "",
        lang=value["ONEMAP_LANG"] or "zh_CN",
    )
