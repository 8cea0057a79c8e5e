"""Requests in flight in this process, so background work can wait for a quiet moment.

Photo copies are made after the report is acknowledged. Made at once, during a
burst of filings, they compete with the requests for the CPU and the GIL and the
acknowledgements slow down. So the photo thread waits until no request has been
running for a moment — but never longer than ``MAX_DEFER`` after the report was
filed, so the copies keep up under sustained load too.
"""

from __future__ import annotations

import threading
import time

QUIET = 0.05  # seconds without a request before background work starts
MAX_DEFER = 30.0  # a copy never waits longer than this after its report was filed


class Activity:
    def __init__(self) -> None:
        self._in_flight = 0
        self._last_end = time.monotonic()
        self._changed = threading.Condition()

    def begin(self) -> None:
        with self._changed:
            self._in_flight += 1

    def end(self) -> None:
        with self._changed:
            self._in_flight -= 1
            self._last_end = time.monotonic()
            self._changed.notify_all()

    def wait_quiet(self, deadline: float) -> None:
        """Return once no request has run for QUIET seconds, or at ``deadline`` (time.monotonic)."""
        with self._changed:
            while True:
                now = time.monotonic()
                quiet_for = now - self._last_end
                if now >= deadline or (self._in_flight == 0 and quiet_for >= QUIET):
                    return
                wait = QUIET - quiet_for if self._in_flight == 0 else deadline - now
                self._changed.wait(timeout=min(max(wait, 0.001), deadline - now))


def init_app(app) -> None:
    activity = app.extensions["onemap.activity"] = Activity()
    app.before_request(activity.begin)

    @app.teardown_request
    def _end(_exc=None) -> None:
        activity.end()
