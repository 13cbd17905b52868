"""Stop a request's work when its client goes away.

Blocking work (a search with facets) runs in a worker thread. Meanwhile the request waits for
the server's `http.disconnect` message; if it comes first, the work's cancellation event is set
(labsearch/cancellation.py) and the embedded store stops its query at the next progress check,
so a client that gave up no longer holds a reader and a CPU for the rest of the time budget.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from labsearch import cancellation
from labsearch.errors import RequestCancelledError

T = TypeVar("T")


async def unless_disconnected(request: Request, work: Callable[[], T]) -> T:
    """`work()` in a worker thread, stopped (RequestCancelledError) if the client disconnects
    first. A client already gone when the body was read gets no work started at all."""
    event = threading.Event()

    def run() -> T:
        if event.is_set():
            raise RequestCancelledError("the client went away before its query started")
        with cancellation.cancellable(event):
            return work()

    gone = asyncio.ensure_future(_disconnected(request))
    await asyncio.sleep(0)  # a disconnect already queued is seen before the work starts
    if gone.done():
        event.set()
    done = asyncio.ensure_future(run_in_threadpool(run))
    try:
        await asyncio.wait({done, gone}, return_when=asyncio.FIRST_COMPLETED)
        if not done.done():
            event.set()
        return await done
    except asyncio.CancelledError:  # the server is stopping: let the thread stop too
        event.set()
        raise
    finally:
        gone.cancel()


async def _disconnected(request: Request) -> None:
    """Returns when the server reports the client gone (the body has been read already)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
