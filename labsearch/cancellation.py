"""Work stops when nobody waits for its answer any more.

A server runs each request's blocking work (a search, a facet count) in a worker thread, and a
thread cannot be killed; so the request side sets an event when its client goes away, and the
long loops of that work (the embedded store's SQLite progress handler) look at it and stop.
The event travels in a context variable, so no signature between the route and the store
changes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_current: ContextVar[threading.Event | None] = ContextVar("labsearch_cancel", default=None)


@contextmanager
def cancellable(event: threading.Event) -> Iterator[None]:
    """Work done inside (in this thread or context) stops once `event` is set."""
    token = _current.set(event)
    try:
        yield
    finally:
        _current.reset(token)


def current() -> threading.Event | None:
    """The event the work running now should watch (None: nobody can cancel it)."""
    return _current.get()
