"""Benchmark instances at provincial scale, built the way a city would build one.

``onemap init`` (the Jinzhou dataset), then the generated village zones written to a GeoPackage and
imported as a manager's file import is (``geo.imports.import_sites``: reading, validation, county
lookup, versions), then a planner, a manager and a grid worker with API tokens. The GeoPackage stays
beside the instance: it is also what the peers (pygeoapi, GDAL, geopandas) read, so every tool works
on the same zones.

An instance is kept in its folder and reused by the next run when its recipe (zones, seed, backend)
is unchanged; ``fresh=True`` builds it again.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import geopandas as gpd  # noqa: E402
from generate import generate_zones  # noqa: E402

from geo import imports, services  # noqa: E402
from geo.access import system_user  # noqa: E402
from geo.layers import load_layers  # noqa: E402
from webapp.cli import init_instance  # noqa: E402
from webapp.settings import load_config  # noqa: E402

LAYER = "sanitation_zones"
SIZES = {"1k": 1_000, "10k": 10_000, "100k": 100_000}
SEED = 20240603
PASSWORD = "benchmark password 1"
USERS = {"planner": "bench-planner", "manager": "bench-manager", "worker": "bench-worker"}


def zones_file(n: int, folder: Path, seed: int = SEED) -> Path:
    """``n`` generated zones as a GeoPackage (EPSG:4326), with ``name``, ``ref`` and the attributes."""
    path = folder / f"zones-{n}.gpkg"
    if path.exists():
        return path
    names, geometries, rows = [], [], []
    for i, (name, polygon, attributes) in enumerate(generate_zones(n, seed=seed)):
        names.append(name)
        geometries.append(polygon)
        rows.append({"ref": f"bench-{i:06d}", **attributes})
    frame = gpd.GeoDataFrame(rows, geometry=geometries, crs="EPSG:4326")
    frame.insert(0, "name", names)
    partial = path.with_suffix(".partial.gpkg")
    frame.to_file(partial, layer=LAYER, driver="GPKG", engine="pyogrio")
    partial.rename(path)
    return path


def build(env: dict[str, str], n: int, *, seed: int = SEED, fresh: bool = False) -> dict:
    """The instance of ``env`` (ONEMAP_INSTANCE, ONEMAP_DATABASE_URL) with ``n`` imported zones.

    Returns what was built: the zones file, the users' tokens, the seconds the import took.
    """
    folder = Path(env["ONEMAP_INSTANCE"])
    folder.mkdir(parents=True, exist_ok=True)
    recipe = {"zones": n, "seed": seed, "database": env["ONEMAP_DATABASE_URL"]}
    built_file = folder / "bench-built.json"
    if not fresh and built_file.exists():
        built = json.loads(built_file.read_text())
        if built["recipe"] == recipe:
            return built
    source = zones_file(n, folder.parent, seed)
    config = load_config(env=env)
    store, _ = init_instance(config)
    now = datetime.now(UTC)
    started = time.perf_counter()
    with store.unit_of_work() as uow:
        result = imports.import_sites(load_layers()[LAYER], source, crs=None, skip_invalid=False, uow=uow,
                                      user=system_user("benchmark"), now=now)
    import_s = time.perf_counter() - started
    tokens = {}
    for role, name in USERS.items():
        with store.unit_of_work(write=True) as uow:
            services.add_user(name, role, PASSWORD, uow=uow, user=system_user("benchmark"), now=now)
        with store.unit_of_work(write=True) as uow:
            tokens[role] = services.issue_token(name, uow=uow, user=system_user("benchmark"), now=now)
    store.close()
    built = {"recipe": recipe, "zones_file": str(source), "tokens": tokens, "import_s": round(import_s, 1),
             "imported": len(result.added)}
    built_file.write_text(json.dumps(built, indent=1))
    return built


if __name__ == "__main__":
    import tempfile

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "instance"
        env = {"ONEMAP_INSTANCE": str(folder), "ONEMAP_DATABASE_URL": f"sqlite:///{folder / 'onemap.db'}"}
        built = build(env, n)
        print(f"{built['imported']:,} zones imported in {built['import_s']} s")
