"""Request limits: body size (before parsing), query length and a per-user rate limit."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from labsearch.errors import InvalidRequestError, RateLimitedError

# A chat message or a search with filters is a few KB; anything far larger is a mistake or abuse.
# The default of LABSEARCH_MAX_BODY_BYTES (labsearch/settings.py), which create_app passes in.
MAX_BODY_BYTES = 64 * 1024


class _Windows:
    """Times of recent events per key, over a sliding window, kept in memory (one API process
    serves a lab). Callers hold `lock`."""

    def __init__(self, window: float) -> None:
        self.window = window
        self.lock = threading.Lock()
        self._events: dict[str, deque[float]] = defaultdict(deque)

    def recent(self, key: str, now: float) -> int:
        """How many events of `key` are inside the window at `now`."""
        events = self._events.get(key)
        if events is None:
            return 0
        while events and now - events[0] >= self.window:
            events.popleft()
        if not events:  # forget idle keys: failed sign-ins come from ever new addresses
            del self._events[key]
        return len(events)

    def add(self, key: str, now: float) -> None:
        self._events[key].append(now)

    def wait(self, key: str, now: float) -> int:
        """Whole seconds until the oldest event of `key` leaves the window."""
        return int(self.window - (now - self._events[key][0])) + 1


class RateLimiter:
    """Sliding one-minute window per user, kept in memory (one API process serves a lab)."""

    def __init__(self, per_minute: int, window: float = 60.0) -> None:
        self.per_minute = per_minute
        self._windows = _Windows(window)

    def check(self, user: str) -> None:
        if self.per_minute <= 0:
            return
        now = time.monotonic()
        with self._windows.lock:
            if self._windows.recent(user, now) >= self.per_minute:
                retry = self._windows.wait(user, now)
                raise RateLimitedError(
                    f"rate limit of {self.per_minute} requests per minute reached for user "
                    f"{user!r}; retry in {retry} s",
                    retry_after_seconds=retry,
                )
            self._windows.add(user, now)


class SignInThrottle:
    """Failed sign-ins per client address over a sliding minute, so API keys and tokens cannot
    be guessed at speed. Successful sign-ins are not counted. Once an address has used its
    budget, every sign-in from it waits (429 with Retry-After) until the window frees, a right
    one too: otherwise a guess that hit would still stand out from the refused ones."""

    def __init__(self, per_minute: int, window: float = 60.0) -> None:
        self.per_minute = per_minute
        self._windows = _Windows(window)

    def check(self, address: str) -> None:
        if self.per_minute <= 0:
            return
        now = time.monotonic()
        with self._windows.lock:
            failures = self._windows.recent(address, now)
            if failures >= self.per_minute:
                retry = self._windows.wait(address, now)
                raise RateLimitedError(
                    f"{failures} failed sign-ins from {address} within a minute (the limit "
                    "is LABSEARCH_AUTH_FAILURES_PER_MINUTE); check the API key or token and "
                    f"retry in {retry} s",
                    retry_after_seconds=retry,
                )

    def failed(self, address: str) -> None:
        if self.per_minute <= 0:
            return
        now = time.monotonic()
        with self._windows.lock:
            self._windows.recent(address, now)
            self._windows.add(address, now)


def check_query_length(text: str, limit: int, field: str = "query") -> None:
    if len(text) > limit:
        raise InvalidRequestError(
            f"{field} is {len(text)} characters long; the limit is {limit} "
            "(LABSEARCH_MAX_QUERY_CHARS). Shorten it."
        )


class BodySizeLimit:
    """ASGI middleware: 413 for bodies over `max_bytes`, by Content-Length or while streaming.

    Pure ASGI rather than BaseHTTPMiddleware so Server-Sent Events responses are not buffered.
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES, larger: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = larger or {}  # path prefix -> its own limit (batch pushes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        limit = next((n for p, n in self.larger.items() if path.startswith(p)), self.max_bytes)
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await self._reject(send, limit)
                return
        received = 0
        too_large = False
        started = False

        # A body without Content-Length (chunked) is counted as it arrives. Past the limit the
        # app is told the client went away, and whatever it answers to that (FastAPI: 400,
        # "There was an error parsing the body") is replaced by the 413.
        async def limited_receive() -> Message:
            nonlocal received, too_large
            if too_large:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if too_large:
                if not started:
                    started = True
                    await self._reject(send, limit)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not too_large:
                raise
        if too_large and not started:
            await self._reject(send, limit)

    async def _reject(self, send: Send, limit: int) -> None:
        body = (
            b'{"error":"RequestTooLarge","detail":"request body exceeds '
            + str(limit).encode()
            + b' bytes; send a shorter message, fewer filters or a smaller batch"}'
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
