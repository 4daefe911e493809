"""Shed load at once when a worker is full, instead of letting requests wait in a queue.

Each worker process admits at most KIOSK_MAX_IN_FLIGHT requests at a time. The next one gets an
immediate 503 page in French with Retry-After, so a student on the opening morning sees
"réessayez dans un instant" rather than a spinner that ends in a proxy timeout. The count is
per process on purpose: it measures this process's own capacity, which no other host shares.

With gunicorn's gthread worker a request reaches this guard only once a thread runs it, so give
gunicorn more threads than KIOSK_MAX_IN_FLIGHT (for example 32 threads for 8 in flight): the
extra threads answer the 503 at once, and --worker-connections bounds what waits beyond them.
"""

import logging
import threading
from pathlib import Path

logger = logging.getLogger(__name__)

BUSY_PAGE = (Path(__file__).resolve().parent.parent / "templates" / "busy.html").read_bytes()


class OverloadGuard:
    """WSGI middleware admitting at most max_in_flight concurrent requests (static files included)."""

    def __init__(self, wsgi_app, max_in_flight: int, retry_after_seconds: int = 5):
        self.wsgi_app = wsgi_app
        self.slots = threading.BoundedSemaphore(max_in_flight)
        self.retry_after = str(retry_after_seconds)
        self.rejected = 0

    def __call__(self, environ, start_response):
        if not self.slots.acquire(blocking=False):
            self.rejected += 1
            if self.rejected % 100 == 1:
                logger.warning("Worker full: %s requests turned away with 503 so far", self.rejected)
            start_response("503 Service Unavailable", [
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Length", str(len(BUSY_PAGE))),
                ("Retry-After", self.retry_after),
                ("Cache-Control", "no-store"),
            ])
            return [BUSY_PAGE]
        try:
            return _ReleasingIterable(self.wsgi_app(environ, start_response), self.slots)
        except BaseException:
            self.slots.release()
            raise


class _ReleasingIterable:
    """Hold the slot until the server has sent the whole body, then give it back."""

    def __init__(self, body, slots):
        self.body = body
        self.slots = slots

    def __iter__(self):
        return iter(self.body)

    def close(self):
        try:
            if hasattr(self.body, "close"):
                self.body.close()
        finally:
            self.slots.release()
