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
                for uri in self.sources:
                    if stop.is_set():
                        return
                    self._apply(indexer, uri, None, stop)
            self.caught_up.set()
            while not stop.is_set():
                self.step(indexer, stop, timeout=0.2)
        finally:
            indexer.close()
            for thread in threads:
                thread.join(timeout=10)

    def step(self, indexer: Indexer, stop: threading.Event, timeout: float) -> int:
        """Apply every batch waiting now (merged per source); returns how many there were."""
        try:
            batches = [self._batches.get(timeout=timeout)]
        except queue.Empty:
            return 0
        while True:
            try:
                batches.append(self._batches.get_nowait())
            except queue.Empty:
                break
        merged: Changes = {}
        for batch in batches:
            merge(merged, batch.changes)
        failures = {
            uri: reason
            for uri, keys in merged.items()
            if (reason := self._apply(indexer, uri, keys, stop)) is not None
        }
        for batch in batches:
            reasons = [failures[uri] for uri in batch.changes if uri in failures]
            batch.settle(not reasons, "; ".join(reasons))
        return len(batches)

    def _apply(
        self, indexer: Indexer, uri: str, keys: set[str] | None, stop: threading.Event
    ) -> str | None:
        """Write one source's changes under its lock; None when done, else why not."""
        deadline = time.monotonic() + self.options.lock_wait_seconds
        while True:
            try:
                with source_lock(self.settings.home, uri):
                    started = time.monotonic()
                    if keys is None:
                        report = indexer.index(uri)
                    else:
                        report = indexer.refresh(uri, sorted(keys))
                    self.on_report(report, time.monotonic() - started)
                    if report.complete and not report.failed:
                        return None
                    return "; ".join(report.errors[:3]) or "the source could not be read"
            except IndexLockedError as busy:  # a sync of this source or a rebuild is running
                if stop.is_set() or time.monotonic() > deadline:
                    return str(busy)
                stop.wait(0.2)


def _log_report(report: SyncReport, seconds: float) -> None:
    log.info("%s: %s (%.2f s)", report.source, report.summary(), seconds)
    for error in report.errors[:10]:
        log.warning("%s", error)
