"""File-system notifications for local sources (watchdog: inotify on Linux, FSEvents on macOS,
polling elsewhere), debounced: a burst of events (a copy, an export rewriting a file) becomes one
batch once the paths were quiet for `quiet_seconds`, or after `max_delay_seconds` at the most."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from watchdog.events import (
    EVENT_TYPE_CLOSED,
    EVENT_TYPE_CREATED,
    EVENT_TYPE_DELETED,
    EVENT_TYPE_MODIFIED,
    EVENT_TYPE_MOVED,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from indexer.watch.batches import Batch
from indexer.watch.routing import Changes, for_path, merge, watched_paths

# Reads (opened, closed without writing) are ignored: indexing a file must not trigger itself.
_CHANGES = {
    EVENT_TYPE_CREATED,
    EVENT_TYPE_DELETED,
    EVENT_TYPE_MODIFIED,
    EVENT_TYPE_MOVED,
    EVENT_TYPE_CLOSED,
}


class FileFeed(FileSystemEventHandler):
    def __init__(
        self,
        sources: Iterable[str],
        put: Callable[[Batch], None],
        *,
        quiet_seconds: float = 0.3,
        max_delay_seconds: float = 2.0,
    ) -> None:
        self.sources = list(sources)
        self.put = put
        self.quiet_seconds = quiet_seconds
        self.max_delay_seconds = max_delay_seconds
        self._pending: Changes = {}
        self._first = self._last = 0.0
        self._lock = threading.Lock()
        self.ready = threading.Event()  # set once notifications are on

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in _CHANGES:
            return
        paths = [event.src_path, getattr(event, "dest_path", "")]
        changes: Changes = {}
        for path in paths:
            if path:
                merge(changes, for_path(self.sources, Path(str(path))))
        if not changes:
            return
        with self._lock:
            now = time.monotonic()
            if not self._pending:
                self._first = now
            self._last = now
            merge(self._pending, changes)

    def run(self, stop: threading.Event) -> None:
        """Watch until `stop` is set, handing settled bursts to `put`."""
        observer = Observer()
        for watched in watched_paths(self.sources):
            observer.schedule(self, str(watched.directory), recursive=watched.recursive)
        observer.start()
        self.ready.set()
        try:
            while not stop.wait(0.05):
                self._flush()
        finally:
            observer.stop()
            observer.join(timeout=5)

    def _flush(self) -> None:
        with self._lock:
            if not self._pending:
                return
            now = time.monotonic()
            quiet = now - self._last >= self.quiet_seconds
            if not quiet and now - self._first < self.max_delay_seconds:
                return
            changes, self._pending = self._pending, {}
        self.put(Batch(changes, "files"))
