"""pygeoapi, the peer of the viewport benchmark: set up in a work folder and served by gunicorn.

pygeoapi's GeoPackage provider (``SQLiteGPKG``) opens the file with Python's ``sqlite3``
and loads SpatiaLite into it (``AutoGPKGStart``, ``Intersects(geom, BuildMbr(…))``). That needs
Debian's ``libsqlite3-mod-spatialite`` and a Python whose ``sqlite3`` may load extensions:
Debian's /usr/bin/python3 can, a pyenv-built one often cannot. So pygeoapi gets its own
virtualenv made from /usr/bin/python3, apart from the project's. Every step is skipped when
its result is already there, so a fresh machine needs only the package registries.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import yaml

SYSTEM_PYTHON = Path("/usr/bin/python3")
SPATIALITE = "mod_spatialite"
SPATIALITE_PACKAGE = "libsqlite3-mod-spatialite"
PACKAGES = ("pygeoapi", "gunicorn")
COLLECTION = "sanitation_zones"
# Can this interpreter's sqlite3 load SpatiaLite and its GeoPackage support? (what the provider does)
PROBE = ("import sqlite3; c = sqlite3.connect(':memory:'); c.enable_load_extension(True); "
         f"c.execute(\"SELECT load_extension('{SPATIALITE}')\"); "
         "print(c.execute('SELECT spatialite_version()').fetchone()[0])")


def _run(argv: list, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return done


def ensure_spatialite(say=print) -> None:
    """apt-get install the SpatiaLite module when /usr/bin/python3 cannot load it yet."""
    if _probe(SYSTEM_PYTHON):
        return
    say(f"installing {SPATIALITE_PACKAGE} (apt-get) …")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "--no-install-recommends", SPATIALITE_PACKAGE]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        _run(["apt-get", "update"], env=env)  # a fresh machine has no package lists yet
        _run(install, env=env)
    if not _probe(SYSTEM_PYTHON):
        raise RuntimeError(f"{SYSTEM_PYTHON} still cannot load {SPATIALITE} "
                           f"after installing {SPATIALITE_PACKAGE}")


def _probe(python: Path) -> str | None:
    """SpatiaLite's version as loaded by ``python``'s sqlite3, or None when it cannot load it."""
    if not python.exists():
        return None
    done = subprocess.run([str(python), "-c", PROBE], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None


def ensure_venv(venv: Path, say=print) -> Path:
    """A virtualenv of /usr/bin/python3 with pygeoapi and gunicorn; returns its bin folder."""
    bin_ = venv / "bin"
    if all((bin_ / name).exists() for name in PACKAGES) and _probe(bin_ / "python"):
        return bin_
    if not SYSTEM_PYTHON.exists():
        raise RuntimeError(f"{SYSTEM_PYTHON} is missing: pygeoapi's GeoPackage provider needs a Python "
                           "whose sqlite3 can load extensions (Debian: apt-get install python3-venv)")
    say(f"making {venv} ({SYSTEM_PYTHON} -m venv; pip install {' '.join(PACKAGES)}) …")
    shutil.rmtree(venv, ignore_errors=True)  # a half-made one from an interrupted run
    _run([SYSTEM_PYTHON, "-m", "venv", venv])
    _run([bin_ / "pip", "install", "--quiet", *PACKAGES])
    if not _probe(bin_ / "python"):
        raise RuntimeError(f"{bin_ / 'python'} cannot load {SPATIALITE}")
    return bin_


def versions(bin_: Path) -> dict[str, str]:
    """pygeoapi, its gunicorn and SpatiaLite, as the peer's own interpreter reports them."""
    code = ("import json, importlib.metadata as m, platform; "
            "print(json.dumps({p: m.version(p) for p in ('pygeoapi', 'gunicorn', 'flask')} | "
            "{'python': platform.python_version()}))")
    found = json.loads(_run([bin_ / "python", "-c", code]).stdout)
    found["spatialite"] = _probe(bin_ / "python") or "?"
    return found


def write_config(folder: Path, gpkg: Path, port: int, max_items: int) -> Path:
    """pygeoapi's YAML configuration: one collection, the zones' GeoPackage, ``max_items`` per page."""
    folder.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{port}"
    config = {
        "server": {"bind": {"host": "127.0.0.1", "port": port}, "url": url, "mimetype": "application/json",
                   "encoding": "utf-8", "language": "en-US", "pretty_print": False,
                   "limits": {"default_items": 10, "max_items": max_items, "on_exceed": "throttle"},
                   "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "OSM"}},
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {"title": "benchmark peer", "description": "village sanitation zones",
                               "keywords": ["benchmark"], "keywords_type": "theme", "terms_of_service": "",
                               "url": url},
            "license": {"name": "CC-BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"},
            "provider": {"name": "benchmark", "url": url}, "contact": {"name": "benchmark", "url": url}},
        "resources": {COLLECTION: {
            "type": "collection", "title": "Village sanitation zones", "description": "generated zones",
            "keywords": ["zones"], "links": [],
            "extents": {"spatial": {"bbox": [118, 38, 125, 44],
                                    "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
            "providers": [{"type": "feature", "name": "SQLiteGPKG", "data": str(gpkg), "id_field": "fid",
                           "table": COLLECTION}]}},
    }
    path = folder / "pygeoapi-config.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def write_openapi(bin_: Path, config: Path) -> Path:
    """The OpenAPI document pygeoapi's app loads at start (PYGEOAPI_OPENAPI), generated from ``config``."""
    path = config.with_name("pygeoapi-openapi.yml")
    _run([bin_ / "pygeoapi", "openapi", "generate", config, "--output-file", path],
         env=dict(os.environ, PYGEOAPI_CONFIG=str(config)))
    return path


def peer_zones(zones_file: Path, shipped: Path, dest: Path) -> Path:
    """The zones a OneMap instance holds, as a GeoPackage in OneMap's id order: the shipped Jinzhou zones
    (``onemap init`` stores them first), then the generated ones of ``zones_file`` (imported after).

    pygeoapi reads this file, not ``zones_file``: SpatiaLite's ``AutoGPKGStart`` writes its virtual
    tables into the file it opens, and the original is what the OneMap instances are built from.
    """
    if dest.exists() and dest.stat().st_mtime >= max(zones_file.stat().st_mtime, shipped.stat().st_mtime):
        return dest
    import geopandas as gpd
    import pandas as pd

    generated = gpd.read_file(zones_file, engine="pyogrio")
    first = gpd.read_file(shipped, engine="pyogrio").to_crs(generated.crs)
    frame = gpd.GeoDataFrame(pd.concat([first[[c for c in generated.columns if c in first]], generated],
                                       ignore_index=True), geometry="geometry", crs=generated.crs)
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_suffix(".partial.gpkg")
    partial.unlink(missing_ok=True)
    frame.to_file(partial, layer=COLLECTION, driver="GPKG", engine="pyogrio")
    partial.rename(dest)
    return dest


def prepare(work: Path, zones_file: Path, shipped: Path, n: int, port: int, max_items: int,
            say=print) -> tuple[list, dict]:
    """Everything the peer needs for ``n`` zones; returns gunicorn's argv (without -b …) and environment."""
    ensure_spatialite(say)
    bin_ = ensure_venv(work / "pygeoapi-venv", say)
    folder = work / f"pygeoapi-{n}"
    gpkg = peer_zones(zones_file, shipped, folder / f"zones-{n}-with-jinzhou.gpkg")
    config = write_config(folder, gpkg, port, max_items)
    openapi = write_openapi(bin_, config)
    env = {"PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(openapi)}
    return [bin_ / "gunicorn", "--chdir", folder, "pygeoapi.flask_app:APP"], env
