"""The watch loop: feeds (SQS, file system, polls) put batches of changes on a queue; one thread
applies them, each source under its own lock for just that write, so a long `labsearch index` of
another source, or a server's reads, go on meanwhile.

At start every watched source gets a catch-up scan (an incremental sync: only what changed while
nobody watched is read and embedded). Batches that pile up while a write runs are merged, so a
burst of events for one package reads it once.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from indexer.locks import source_lock
from indexer.pipeline import Indexer
from indexer.state import SyncReport
from indexer.watch.batches import Batch, DeadLetters
from indexer.watch.routing import Changes, is_local, merge
from labsearch.embeddings import Embedder
from labsearch.errors import IndexLockedError
from labsearch.settings import Settings
from labsearch.stores.protocol import AssetStore

log = logging.getLogger(__name__)


class Feed(Protocol):
    ready: threading.Event  # set once the feed receives (notifications scheduled, first poll)

    def run(self, stop: threading.Event) -> None: ...


@dataclass
class WatchOptions:
    queues: list[str] = field(default_factory=list)  # SQS queue URLs with S3 events
    files: bool = True  # file-system notifications for local sources
    catch_up: bool = True
    poll_seconds: float = 30.0  # eLabFTW: how often to ask what changed
    lock_wait_seconds: float = 600.0  # how long a change waits for a busy source


class Watcher:
    def __init__(
        self,
        settings: Settings,
        sources: Iterable[str],
        store: AssetStore,
        embedder: Embedder,
        options: WatchOptions | None = None,
        on_report: Callable[[SyncReport, float], None] | None = None,
    ) -> None:
        self.settings = settings
        self.sources = list(dict.fromkeys(sources))
        self.store = store
        self.embedder = embedder
        self.options = options or WatchOptions()
        self.on_report = on_report or _log_report
        self.dead_letters = DeadLetters(settings.home / "watch" / "dead-letters.jsonl")
        self._batches: queue.Queue[Batch] = queue.Queue()
        self._pending: list[_Pending] = []
        self.caught_up = threading.Event()

    def put(self, batch: Batch) -> None:
        self._batches.put(batch)

    def feeds(self) -> list[Feed]:
        from indexer.watch.sqs_feed import SqsFeed

        feeds: list[Feed] = []
        for url in self.options.queues:
            sqs = SqsFeed(
                url, self.sources, self.put, self.dead_letters, region=self.settings.aws_region
            )
            feeds.append(sqs)
        if self.options.files and any(is_local(uri) for uri in self.sources):
            from indexer.watch.file_feed import FileFeed

            feeds.append(FileFeed(self.sources, self.put))
        elabftw = [u for u in self.sources if u.startswith(("elabftw+https", "elabftw+http"))]
        if elabftw:
            from indexer.watch.elabftw_poll import ElabFTWPoll

            feeds.append(ElabFTWPoll(elabftw, self.settings, self.put, self.options.poll_seconds))
        return feeds

    def run(self, stop: threading.Event) -> None:
        """Start the feeds, catch up, then apply changes until `stop` is set."""
        feeds = self.feeds()
        threads = [
            threading.Thread(
                target=feed.run, args=(stop,), name=f"labsearch-watch-{n}", daemon=True
            )
            for n, feed in enumerate(feeds)
        ]
        for thread in threads:  # events arriving during the catch-up wait in the queue
            thread.start()
        for feed in feeds:  # so nothing that changes during the catch-up goes unnoticed
            feed.ready.wait(timeout=30)
        indexer = Indexer(self.settings, self.store, self.embedder, progress=None)
        try:
            if self.options.catch_up:
                for uri in self.sources:  # a source another writer syncs now is skipped
                    if stop.is_set():
                        return
                    if self._write(indexer, uri, None) is BUSY:
                        log.info("%s: another writer is syncing it; no catch-up needed", uri)
            self.caught_up.set()
            while not stop.is_set():
                self.step(indexer, stop, timeout=0.2)
        finally:
            indexer.close()
            for thread in threads:
                thread.join(timeout=10)

    def step(self, indexer: Indexer, stop: threading.Event, timeout: float) -> int:
        """Apply the batches waiting now, merged per source; returns how many arrived.

        A source another writer holds (a `labsearch index` of it, a rebuild) is skipped and
        tried again next step, so it holds up no other source; its batches settle once it was
        written, or fail after `lock_wait_seconds`."""
        arrived = self._receive(timeout=0.2 if self._pending else timeout)
        merged: Changes = {}
        for pending in self._pending:
            for uri in pending.waiting:
                merge(merged, {uri: pending.batch.changes[uri]})
        now = time.monotonic()
        for uri, keys in merged.items():
            outcome = self._write(indexer, uri, keys)
            if outcome is BUSY and not stop.is_set():
                overdue = [p for p in self._pending if uri in p.waiting and p.deadline < now]
                for pending in overdue:
                    pending.done(uri, f"{uri} stayed locked by another writer; try again")
                continue
            for pending in self._pending:
                if uri in pending.waiting:
                    pending.done(uri, None if outcome is BUSY else outcome)
        for pending in [p for p in self._pending if not p.waiting]:
            pending.batch.settle(not pending.reasons, "; ".join(pending.reasons))
            self._pending.remove(pending)
        return arrived

    def _receive(self, timeout: float) -> int:
        try:
            batches = [self._batches.get(timeout=timeout)]
        except queue.Empty:
            return 0
        while True:
            try:
                batches.append(self._batches.get_nowait())
            except queue.Empty:
                break
        deadline = time.monotonic() + self.options.lock_wait_seconds
        self._pending += [_Pending(batch, set(batch.changes), deadline) for batch in batches]
        return len(batches)

    def _write(self, indexer: Indexer, uri: str, keys: set[str] | None) -> str | None | object:
        """Write one source's changes under its lock, held for just this write: None when
        done, BUSY when another writer holds the source, else why it failed."""
        try:
            with source_lock(self.settings.home, uri):
                started = time.monotonic()
                report = indexer.index(uri) if keys is None else indexer.refresh(uri, sorted(keys))
                self.on_report(report, time.monotonic() - started)
        except IndexLockedError:
            return BUSY
        if report.complete and not report.failed:
            return None
        return "; ".join(report.errors[:3]) or "the source could not be read"


BUSY = object()  # a source another writer holds right now


@dataclass
class _Pending:
    """A batch some of whose sources are not written yet."""

    batch: Batch
    waiting: set[str]
    deadline: float
    reasons: list[str] = field(default_factory=list)

    def done(self, uri: str, failure: str | None) -> None:
        self.waiting.discard(uri)
        if failure:
            self.reasons.append(failure)


def _log_report(report: SyncReport, seconds: float) -> None:
    log.info("%s: %s (%.2f s)", report.source, report.summary(), seconds)
    for error in report.errors[:10]:
        log.warning("%s", error)
