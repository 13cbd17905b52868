"""eLabFTW has no change notifications we can subscribe to, so its sources are polled: every
`interval` seconds, ask for entries modified since the last poll (newest change first) and read
those again. Every `full_every`-th poll is a whole incremental sync instead, which is what
removes deleted entries (a deleted entry is no longer listed, so no modification time says so)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from indexer.sources.elabftw import ElabFTWSource
from indexer.watch.batches import Batch
from labsearch.errors import LabsearchError
from labsearch.settings import Settings

log = logging.getLogger(__name__)


class ElabFTWPoll:
    def __init__(
        self,
        sources: list[str],
        settings: Settings,
        put: Callable[[Batch], None],
        interval: float = 30.0,
        full_every: int = 20,
    ) -> None:
        self.sources = {uri: ElabFTWSource(uri, settings) for uri in sources}
        self.put = put
        self.interval = interval
        self.full_every = full_every
        # The catch-up scan at start covers everything older than the first poll.
        self.since: dict[str, datetime | None] = {uri: None for uri in sources}
        self.polls = 0
        self.ready = threading.Event()

    def run(self, stop: threading.Event) -> None:
        for uri in self.sources:  # start from "now", as the catch-up scan reads the rest
            self.poll(uri, announce=False)
        self.ready.set()
        while not stop.wait(self.interval):
            self.polls += 1
            for uri in self.sources:
                if self.polls % self.full_every == 0:
                    self.put(Batch({uri: None}, uri))
                else:
                    self.poll(uri)

    def poll(self, uri: str, announce: bool = True) -> list[str]:
        """Entries changed since the last poll of `uri`, handed on as one batch."""
        try:
            changed, newest = self.sources[uri].changed_since(self.since[uri])
        except LabsearchError as exc:
            log.warning("polling %s failed: %s; trying again in %.0f s", uri, exc, self.interval)
            return []
        self.since[uri] = newest
        if changed and announce:
            self.put(Batch({uri: set(changed)}, uri))
        return changed
