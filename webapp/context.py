"""Request-scoped access to the store and layers that create_app attached to the app, and the helpers
every blueprint shares (blueprints import from here, never from each other)."""

from __future__ import annotations

import fcntl
import threading
import time
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import current_app

from geo.counties import county_names as county_names_in
from geo.model import LayerDef, NotFound
from geo.storage import Store, UnitOfWork
from webapp.activity import MAX_DEFER
from webapp.i18n import current_language

# The address of a photo's shown copy or thumbnail (the planner blueprint serves it; the CLI builds
# addresses from it without an app).
PHOTO_RULE = "/media/photos/<int:photo_id>/<any(display, thumbnail):kind>"


def store() -> Store:
    return current_app.extensions["onemap.store"]


def get_uow(*, write: bool = False, brief: bool = False) -> AbstractContextManager[UnitOfWork]:
    return store().unit_of_work(write=write, brief=brief)


def layers() -> dict[str, LayerDef]:
    return current_app.extensions["onemap.layers"]


def layer_or_404(layer_id: str) -> LayerDef:
    """The layer a URL names; NotFound (404) listing the layers there are."""
    if layer_id not in layers():
        raise NotFound(f"no layer {layer_id!r} (layers: {', '.join(layers())})")
    return layers()[layer_id]


def county_names() -> dict[str, str]:
    """{code: name} of the counties, in the language of the page."""
    with get_uow() as uow:
        return county_names_in(uow, current_language())


def zone() -> ZoneInfo:
    """ONEMAP_TIMEZONE: where days begin and end ("today", overdue, since/until and as_of dates)."""
    return ZoneInfo(current_app.config["ONEMAP"].timezone)  # ZoneInfo keeps one instance per name


def now() -> datetime:
    """This instant, in ONEMAP_TIMEZONE: geo's day rules (geo.status) count calendar days in the zone
    of the ``now`` they are given, so this is what makes a 23:30 report in Beijing count for that day."""
    return datetime.now(UTC).astimezone(zone())


def blobs():
    """Where photo files live (ONEMAP_MEDIA_URL, ONEMAP_S3_ENDPOINT), opened by create_app."""
    return current_app.extensions["onemap.blobs"]


def photo_limits():
    """Size caps of photos and the side of their shown copies (ONEMAP_MAX_PHOTO_*, ONEMAP_PHOTO_SIDE)."""
    return current_app.extensions["onemap.photo_limits"]


def derive_photos_later(report_ids: list[int]) -> None:
    """Make shown copies and thumbnails after the response, on the app's one photo thread."""
    from geo import inspections

    app = current_app._get_current_object()
    media, limits = blobs(), photo_limits()
    deadline = time.monotonic() + MAX_DEFER

    def work():
        app.extensions["onemap.activity"].wait_quiet(deadline)  # acknowledgements first
        try:
            with app.app_context(), get_uow() as uow:
                inspections.derive_photos(report_ids, uow=uow, blobs=media, limits=limits)
        except Exception:  # a full disk, a storage outage: nobody awaits this job, so the log must hear
            app.logger.exception("photo copies of reports %s not made (made when next asked for)", report_ids)

    app.extensions["onemap.photo_jobs"].submit(work)


CATCH_UP_BATCH = 20  # copies made between two waits for a quiet moment ...
CATCH_UP_WAIT = 1.0  # ... of at most this (s): under steady load, about a fifth of a core goes to them


def catch_up_photos(app) -> threading.Thread:
    """Make every copy still missing (a server killed before its photo thread caught up, a full disk), once
    the server listens, a batch at a time between requests; returns the thread doing it.

    Made before listening, they kept a server restarted under load from answering for as long as they
    took (half a minute for 4,000 photos). One process of the instance does it (a lock file; a gunicorn
    worker that finds it taken leaves the work to its sibling); a copy asked for meanwhile is made then.
    A daemon thread, so that it never holds up a stopping server: a copy cut off is made next time.
    """
    from geo import inspections

    media, limits = app.extensions["onemap.blobs"], app.extensions["onemap.photo_limits"]
    activity = app.extensions["onemap.activity"]
    lock_path = app.config["ONEMAP"].instance / "photo-copies.lock"

    def work():
        with lock_path.open("w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return
            # nobody awaits this thread: the log hears of every failure, and the next start tries again
            try:
                with app.app_context(), get_uow() as uow:
                    rows = inspections.missing_copies(None, uow=uow, blobs=media)
            except Exception:
                app.logger.exception("photos: cannot list the missing copies")
                return
            made = 0
            for start in range(0, len(rows), CATCH_UP_BATCH):
                activity.wait_quiet(time.monotonic() + CATCH_UP_WAIT)
                batch = rows[start:start + CATCH_UP_BATCH]
                try:
                    made += inspections.make_copies(batch, blobs=media, limits=limits)
                except Exception:  # a full disk, an unreadable original: the next batch may still do
                    app.logger.exception("photos: copies of photos %s not made", [row["id"] for row in batch])
            if rows:
                app.logger.info("photos: %d of %d missing copy(ies) made", made, len(rows))

    thread = threading.Thread(target=work, name="onemap-photo-catch-up", daemon=True)
    thread.start()
    return thread
