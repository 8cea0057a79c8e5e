"""The `onemap` command: thin click wrappers over the use cases in geo/.

Exit status 0 on success; otherwise non-zero with a one-line reason on stderr.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click
import sqlalchemy as sa
from tqdm import tqdm

from geo import accounts, credentials, exports, imports, report_exports, services, times
from geo.access import system_user
from geo.layers import load_layers
from geo.messages import msg
from geo.model import ROLES, Conflict, InvalidInput, NotFound, OneMapError
from geo.storage import Store, open_store
from webapp.i18n import _, error_text, label, ngettext, translate
from webapp.params import problem_of
from webapp.settings import SETTINGS, Config, load_config

DEMO_USERS = (("planner", "planner"), ("worker", "worker"), ("manager", "manager"), ("admin", "admin"))
# Who the commands act as: an administrator, recorded in the audit log and the versions by these names.
CLI = system_user("cli")
INIT = system_user("onemap init")


def _now() -> datetime:
    """This moment in ONEMAP_TIMEZONE: the days the command counts (overdue, as_of) are local days."""
    return datetime.now(ZoneInfo(load_config().timezone))


class _Group(click.Group):
    """Turns OneMap's domain errors into a one-line reason on stderr and exit status 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except OneMapError as exc:
            click.echo(f"onemap: {error_text(exc)}", err=True)
            for detail in getattr(exc, "details", [])[:200]:
                click.echo("  " + _("feature {index}: {reason}", index=detail.index,
                                    reason=translate(detail.reason)), err=True)
            ctx.exit(1)
        except sa.exc.OperationalError as exc:  # server down, wrong password, no such database
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            click.echo("onemap: " + _("cannot use the database (ONEMAP_DATABASE_URL): {reason}",
                                      reason=reason), err=True)
            ctx.exit(1)


@contextmanager
def _progress(description: str):
    """A tqdm bar fed by the services' (done, total) callback; silent when not a terminal."""
    bar = tqdm(desc=description, unit=" sites", disable=None, file=sys.stderr)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        yield update
    finally:
        bar.close()


def _store(config: Config, *, migrate: bool = True) -> Store:
    """The (migrated) store; a command's store is closed when the command ends, however it ends."""
    store = open_store(config.database_url)
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.call_on_close(store.close)
    if migrate:
        store.migrate()
    return store


def init_instance(config: Config) -> tuple[Store, services.LoadResult]:
    """Create or migrate the database and load the shipped dataset (idempotent)."""
    store = _store(config)
    (config.instance / "media").mkdir(parents=True, exist_ok=True)
    with _progress(_("loading Jinzhou dataset")) as progress, store.unit_of_work(write=True) as uow:
        result = services.load_dataset(load_layers(), uow=uow, now=_now(), actor="onemap init",
                                       progress=progress)
    return store, result


def recover_photos(config: Config, store: Store, *, now: datetime | None = None) -> None:
    """Before serving: remove files of requests that died before their commit (those older than
    ``inspections.ORPHAN_AGE``: other servers may be filing). Missing copies are made once the server
    listens (``context.catch_up_photos``): they may take minutes."""
    from geo import inspections

    media = config.open_media()
    with store.unit_of_work() as uow:
        orphans = inspections.sweep_orphan_photos(uow=uow, blobs=media,
                                                  before=(now or _now()) - inspections.ORPHAN_AGE)
    if orphans:
        click.echo(ngettext("photos: {n} unreferenced file removed", "photos: {n} unreferenced files removed",
                            len(orphans)))


_settings_help = "\n".join(f"  {s.name} (default {s.default}): {s.help}" for s in SETTINGS)


@click.group(cls=_Group, epilog="\b\nConfiguration (environment variables):\n" + _settings_help)
def main():
    """OneMap (一张图): site map, field inspections and exports for city planners."""


@main.command()
@click.option("--demo", is_flag=True, help="also create one account per role and print the passwords")
def init(demo: bool):
    """Create or migrate the database and load the shipped Jinzhou dataset."""
    config = load_config()
    store, result = init_instance(config)
    click.echo(_("database: {url}", url=config.database_url))
    click.echo(_("layers: {layers}, counties: {counties} new, sites: {sites} new, {total} in all",
                 layers=result.layers, counties=result.counties, sites=sum(result.sites_added.values()),
                 total=result.sites_total))
    if demo:
        for username, role in DEMO_USERS:
            password = credentials.new_password()
            try:
                with store.unit_of_work(write=True) as uow:
                    services.add_user(username, role, password, uow=uow, user=INIT, now=_now())
            except Conflict:  # the user exists already
                click.echo(_("user {username} ({role}) exists; password unchanged", username=username,
                             role=role))
                continue
            click.echo(_("user {username} ({role}) password: {password}", username=username, role=role,
                         password=password))
    store.close()


def prepare_for_serving() -> None:
    """Exclude everything built at start-up from garbage collection.

    A map request allocates thousands of small objects, which triggers full
    collections; without the freeze each one walks the ~150,000 long-lived objects
    of the app and its libraries (tens of milliseconds on a 2-core machine).
    """
    gc.collect()
    gc.freeze()


def _url(host: str, port: int) -> str:
    return f"http://{host}:{port}/"


def _gunicorn(config: Config, host: str, port: int, workers: int, threads: int) -> None:
    """Several processes on one database: gunicorn's threaded workers, each building its own app.

    The app is built after the fork (no preloading), so no worker shares a database
    connection or the photo thread of another.
    """
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError:
        raise InvalidInput(msg("needs_gunicorn",
                               "--workers needs gunicorn: pip install 'onemap[production]'"),
                           field="--workers") from None
    from webapp import create_app
    from webapp.context import catch_up_photos

    click.echo(ngettext("OneMap on {url}  ({n} gunicorn worker, instance {instance})",
                        "OneMap on {url}  ({n} gunicorn workers, instance {instance})", workers,
                        url=_url(host, port), instance=config.instance))

    class OneMapServer(BaseApplication):
        def load_config(self):
            for key, value in {"bind": f"{host}:{port}", "workers": workers, "threads": threads,
                               "worker_class": "gthread", "accesslog": None, "graceful_timeout": 10,
                               "proc_name": "onemap"}.items():
                self.cfg.set(key, value)
            if "control_socket_disable" in self.cfg.settings:  # gunicorn ≥ 25.1: one socket per user
                self.cfg.set("control_socket_disable", True)  # would be shared by every server we run

        def load(self):
            app = create_app(config=config)
            prepare_for_serving()
            catch_up_photos(app)
            return app

    OneMapServer().run()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int, help="threads per process")
@click.option("--workers", type=click.IntRange(1, 64),
              help="run N processes with gunicorn (production); default: one waitress process")
def serve(host: str, port: int, threads: int, workers: int | None):
    """Run the app; on an empty instance, first create the database and load the dataset."""
    from waitress import serve as waitress_serve

    from webapp import create_app
    from webapp.context import catch_up_photos

    config = load_config()
    store = open_store(config.database_url)
    if store.is_empty():
        click.echo(_("new instance: creating the database and loading the Jinzhou dataset"))
        init_instance(config)
    else:
        store.migrate()
    recover_photos(config, store)
    store.close()
    if workers:
        _gunicorn(config, host, port, workers, threads)
        return
    app = create_app(config=config)
    prepare_for_serving()
    catch_up_photos(app)
    click.echo(_("OneMap on {url}  (instance {instance})", url=_url(host, port),
                 instance=config.instance))
    waitress_serve(app, host=host, port=port, threads=threads, ident="OneMap")


@main.command("validate-layers")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
def validate_layers(directory: Path | None):
    """Check layer definition files (default: the shipped ones)."""
    layers = load_layers(directory)
    for layer in layers.values():
        click.echo(f"ok  {layer.id}: " + _("{name} ({statuses} statuses, {checklist} checklist items, "
                                           "{metrics} metrics)", name=label(layer.name),
                                           statuses=len(layer.statuses), checklist=len(layer.checklist),
                                           metrics=len(layer.metrics)))


@main.group()
def users():
    """Manage accounts, site assignments and API tokens."""


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--password", help="prompted for when not given")
@click.option("--display-name")
def users_add(name: str, role: str, password: str | None, display_name: str | None):
    """Create a user."""
    if password is None:
        password = click.prompt(_("password"), hide_input=True, confirmation_prompt=True)
    store = _store(load_config())
    with store.unit_of_work(write=True) as uow:
        user = services.add_user(name, role, password, uow=uow, user=CLI, now=_now(),
                                 display_name=display_name)
    click.echo(_("user {username} ({role}) created", username=user.username, role=user.role))


@users.command("assign")
@click.argument("name")
@click.argument("site_ids", nargs=-1, type=int)
@click.option("--grid", "grid_cells", multiple=True, help="grid cell (网格) id; assigns every site inside")
def users_assign(name: str, site_ids: tuple[int, ...], grid_cells: tuple[str, ...]):
    """Assign sites (or whole grid cells) to a grid worker."""
    if not site_ids and not grid_cells:
        raise InvalidInput(msg("assign_nothing", "give at least one site id or --grid cell"), field="SITE_ID")
    store = _store(load_config())
    with store.unit_of_work(write=True) as uow:
        cells = services.grid_cell_ids(grid_cells, uow=uow)
        site_ids = tuple(site_ids) + tuple(cells)
        new = accounts.assign_sites(name, site_ids, uow=uow, user=CLI, now=_now())
    click.echo(_("{user}: {new} site(s) newly assigned, {old} already assigned", user=name, new=len(new),
                 old=len(site_ids) - len(new)))


@users.command("token")
@click.argument("name")
def users_token(name: str):
    """Print a new API token (shown once; only its digest is stored)."""
    store = _store(load_config())
    with store.unit_of_work(write=True) as uow:
        click.echo(services.issue_token(name, uow=uow, user=CLI, now=_now()))


def _layer(layer_id: str):
    layers = load_layers()
    if layer_id not in layers:
        raise NotFound(msg("no_layer", "no layer {layer} (layers: {layers})", layer=repr(layer_id),
                           layers=", ".join(layers)))
    return layers[layer_id]


@main.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--layer", "layer_id", required=True)
@click.option("--crs", help="EPSG code (e.g. 4490), gcj02 or bd09; default: the file's own, else WGS84")
@click.option("--skip-invalid", is_flag=True, help="store the good features even if some are rejected")
@click.option("--dry-run", is_flag=True, help="print what the import would do and write nothing")
@click.option("--comment", help="why: stored on every site version the import records")
def import_(file: Path, layer_id: str, crs: str | None, skip_invalid: bool, dry_run: bool,
            comment: str | None):
    """Import GeoJSON / GeoPackage / zipped Shapefile / KML / CSV into a layer.

    Features whose `ref` matches a stored site of the layer update it; the others are added.
    """
    layer = _layer(layer_id)
    store = _store(load_config())
    if dry_run:
        with store.unit_of_work() as uow:
            plan = imports.preview_import(layer, file, crs, uow, user=CLI)
        _echo_plan(plan)
        if plan.rejections and not skip_invalid:
            raise InvalidInput(msg("dry_run_rejected", "{file}: {n} feature(s) rejected; the import would "
                                   "write nothing (or use --skip-invalid)", file=file.name,
                                   n=len(plan.rejections)), field="file", details=plan.rejections)
        _echo_rejections(plan.rejections)
        return
    with _progress(_("importing into {layer}", layer=layer_id)) as progress, store.unit_of_work() as uow:
        result = imports.import_sites(layer, file, crs=crs, skip_invalid=skip_invalid, uow=uow,
                                      user=CLI, now=_now(), progress=progress, comment=comment)
    _echo_rejections(result.rejections)
    click.echo(_("{layer}: {stored} site(s) imported, {rejected} rejected ({added} added, {updated} updated, "
                 "{unchanged} unchanged)", layer=layer_id, stored=len(result.stored),
                 rejected=len(result.rejections), added=len(result.added), updated=len(result.updated),
                 unchanged=len(result.unchanged)))


def _echo_rejections(rejections) -> None:
    """Each rejected feature and why, in the language of ONEMAP_LANG (stderr)."""
    for rejection in rejections:
        click.echo(_("rejected feature {index}: {reason}", index=rejection.index,
                     reason=translate(rejection.reason)), err=True)


def _shown(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def _echo_plan(plan: imports.ImportPlan) -> None:
    """The preview of an import: counts, then each update with its changes (stdout)."""
    crs = plan.source_crs or _("EPSG:4326 (assumed: the file names no CRS)")
    click.echo(_("{file} → {layer} ({format}, {crs}); dry run, nothing written", file=plan.file,
                 layer=plan.layer, format=plan.format, crs=crs))
    click.echo(_("{add} to add, {update} to update, {unchanged} unchanged, {rejected} rejected",
                 add=len(plan.additions), update=len(plan.updates), unchanged=len(plan.unchanged),
                 rejected=len(plan.rejections)))
    for note in plan.notes:
        click.echo(_("note: {note}", note=note))
    # Names and refs come from the file: as JSON text, so their control characters (an ESC sequence)
    # are printed escaped instead of reaching the terminal.
    for addition in plan.additions:
        click.echo(_("add feature {index}: {name}", index=addition.index, name=_shown(addition.site.name))
                   + (_(" (ref {ref})", ref=_shown(addition.site.ref)) if addition.site.ref else ""))
    for update in plan.updates:
        changes = [f"{c.field} {_shown(c.before)} → {_shown(c.after)}" for c in update.changes]
        if update.geometry_changed:
            changes.append(_("geometry changed"))
        click.echo(_("update feature {index} (ref {ref}, site {site}): {changes}", index=update.index,
                     ref=_shown(update.site.ref), site=update.site.id, changes="; ".join(changes)))


def _bbox(value: str | None) -> tuple[float, float, float, float] | None:
    if not value:
        return None
    try:
        minx, miny, maxx, maxy = (float(part) for part in value.split(","))
    except ValueError:
        raise InvalidInput(msg("cli_bbox", "--bbox {value}: give minx,miny,maxx,maxy in degrees",
                               value=repr(value)), field="--bbox") from None
    if minx > maxx or miny > maxy:
        raise InvalidInput(msg("cli_bbox_min_max", "--bbox {value}: min is greater than max",
                               value=repr(value)), field="--bbox")
    return minx, miny, maxx, maxy


def _time(value: str | None, option: str, *, end: bool):
    try:
        return times.parse_time(value, end=end, zone=ZoneInfo(load_config().timezone))
    except ValueError as exc:
        raise InvalidInput(msg("bad_option", "{option}: {problem}", option=option, problem=problem_of(exc)),
                           field=option) from None


def _photo_urls(base_url: str):
    """Absolute addresses of photos' shown copies, built from the app's own route (they need a login)."""
    from urllib.parse import urlsplit

    from werkzeug.routing import Map, Rule

    from webapp.context import PHOTO_RULE

    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput(msg("cli_base_url", "--base-url {value}: give the app's address, e.g. "
                               "https://onemap.example.org", value=repr(base_url)), field="--base-url")
    urls = Map([Rule(PHOTO_RULE, endpoint="photo")]).bind(parts.netloc, script_name=parts.path or "/",
                                                         url_scheme=parts.scheme)
    return lambda photo_id: urls.build("photo", {"photo_id": photo_id, "kind": "display"},
                                       force_external=True)


@main.command("export")
@click.argument("layer_id")
@click.option("--format", "fmt", default="geojson", show_default=True,
              type=click.Choice(["geojson", "gpkg", "csv", "kml", "xlsx"]))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--status", multiple=True, help="status code, as the map shows it; repeat for several")
@click.option("--county", help="county code, e.g. 210726")
@click.option("--bbox", help="minx,miny,maxx,maxy (WGS84 degrees)")
@click.option("--since", help="last inspection (with --reports: the report's time) on or after this: "
                              "YYYY-MM-DD (a day in China Standard Time) or an ISO 8601 time with offset")
@click.option("--until", help="last inspection (with --reports: the report's time) on or before this")
@click.option("--as-of", "as_of", help="the sites and their statuses as they were at the end of this day "
                                     "(YYYY-MM-DD, China Standard Time) or at this ISO 8601 time")
@click.option("--lang", type=click.Choice(exports.LANGUAGES),
              help="language of status labels and CSV / XLSX headers (default: ONEMAP_LANG)")
@click.option("--reports", is_flag=True,
              help="export the layer's inspection reports (points at their GPS fix) instead of its sites")
@click.option("--base-url", default="http://127.0.0.1:5000", show_default=True,
              help="the app's address, for the photo links of --reports")
def export(layer_id: str, fmt: str, output: Path, status: tuple[str, ...], county: str | None,
           bbox: str | None, since: str | None, until: str | None, as_of: str | None, lang: str | None,
           reports: bool, base_url: str):
    """Export a layer's sites, or with --reports its inspection reports (GeoJSON per RFC 7946)."""
    config = load_config()
    layer = _layer(layer_id)
    start, end = _time(since, "--since", end=False), _time(until, "--until", end=True)
    lang = lang or config.lang
    if reports and (status or bbox or as_of):
        raise InvalidInput(msg("cli_reports_filters", "--status, --bbox and --as-of choose sites; with "
                               "--reports use --since, --until, --county"), field="--reports")
    past = _time(as_of, "--as-of", end=True)
    if past is not None and past > _now() + timedelta(days=1):
        raise InvalidInput(msg("cli_as_of_future", "--as-of: is in the future"), field="--as-of")
    store = _store(config)
    with store.unit_of_work() as uow:
        if reports:
            n = report_exports.export_reports(layer, output, fmt, uow=uow, actor="cli", now=_now(),
                                              photo_url=_photo_urls(base_url), lang=lang,
                                              filters=report_exports.ReportFilter(start, end, county),
                                              zone=ZoneInfo(config.timezone))
        else:
            filters = exports.SiteExportFilter(frozenset(status), county, _bbox(bbox), start, end,
                                         min(past, _now()) if past else None)
            n = exports.export_sites(layer, output, fmt, uow=uow, actor="cli", now=_now(), filters=filters,
                                     lang=lang, zone=ZoneInfo(config.timezone))
    if reports:
        click.echo(_("{layer}: {n} report(s) written to {file}", layer=layer_id, n=n, file=output))
    else:
        click.echo(_("{layer}: {n} site(s) written to {file}", layer=layer_id, n=n, file=output))


@main.command("recompute-status")
@click.option("--layer", "layer_id", help="only this layer's sites (default: every layer)")
def recompute_status_(layer_id: str | None):
    """Set every site's latest report and result again from the reports themselves.

    For after reports arrived by another way than the app (a bulk load, a database repaired by hand);
    one statement for all sites, recorded in the audit log.
    """
    from geo.recompute import recompute_status

    if layer_id is not None:
        _layer(layer_id)
    store = _store(load_config())
    started = time.perf_counter()
    with store.unit_of_work() as uow:
        changed = recompute_status(uow=uow, actor="cli", now=_now(), layer_id=layer_id)
    seconds = time.perf_counter() - started
    click.echo(_("{layer}: {n} site(s) changed, in {seconds} s", layer=layer_id or _("all layers"), n=changed,
                 seconds=f"{seconds:.1f}"))


@main.command("backup")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def backup_(directory: Path):
    """Copy the database and the photos into a new folder, consistently, while the app runs."""
    from geo import backup
    config = load_config()
    store = _store(config)
    manifest = backup.backup(store, config.open_media(), directory, now=_now())
    store.close()
    counts = ", ".join(f"{n} {name}" for name, n in manifest["counts"].items())
    click.echo(_("backup in {folder}: {counts}; {n} photo file(s)", folder=directory, counts=counts,
                 n=len(manifest["files"])))
    if manifest["missing"]:
        click.echo(ngettext("{n} shown copy not made yet; the restored server makes it",
                            "{n} shown copies not made yet; the restored server makes them",
                            len(manifest["missing"])))


@main.command("restore")
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--force", is_flag=True, help="replace an instance that already holds data")
def restore_(directory: Path, force: bool):
    """Put a backup made by `onemap backup` into this instance (an empty one, unless --force)."""
    from geo import backup
    config = load_config()
    store = _store(config, migrate=False)
    manifest = backup.restore(store, config.open_media(), directory, force=force)
    counts = ", ".join(f"{n} {name}" for name, n in manifest["counts"].items())
    click.echo(_("restored from {folder} (made {created}): {counts}", folder=directory,
                 created=manifest["created_at"], counts=counts))
