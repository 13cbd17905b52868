"""Whole indexing jobs as the CLI, the demo and the evaluations run them: take the writer lock,
open the model and the configured store, index (or remove) sources, apply changed access rules,
close everything."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import ExitStack
from typing import TYPE_CHECKING

from indexer.locks import source_lock, writer_lock
from indexer.pipeline import Indexer, model_key
from indexer.regroup import (
    AccessReport,
    apply_if_rules_changed,
    record_rules_applied,
    rules_changed,
)
from indexer.state import SyncReport, SyncState
from labsearch.embeddings import Embedder
from labsearch.errors import ConfigError, LabsearchError
from labsearch.settings import Settings
from labsearch.stores import open_store

# The watcher (and its S3 event parsing) is imported by `run_watch` only: a `labsearch index`
# re-run that finds nothing changed takes 0.5 s, and it was 20 ms of that.
if TYPE_CHECKING:
    from indexer.watch.loop import Watcher, WatchOptions

log = logging.getLogger(__name__)


def run_index(
    settings: Settings, sources: list[str], *, all_revisions: bool = False, rebuild: bool = False
) -> list[SyncReport]:
    """Index `sources` (all indexed before, when empty) into the configured store; returns one
    SyncReport per source. Access rules changed since they were last applied are applied to
    every stored asset first (without reading sources or embedding)."""
    if not sources:
        sources = _readable_sources(settings)
        if not sources:
            raise ConfigError("no sources given and none indexed before: labsearch index URI...")
    # A rebuild reads every asset again under the current rules: nothing to apply before it.
    if not rebuild and rules_changed(settings):
        apply_changed_rules(settings)
    # A rebuild owns the whole index; a sync holds only its sources, so others may write.
    with ExitStack() as locks:
        if rebuild:
            locks.enter_context(writer_lock(settings.home))
        else:
            for uri in dict.fromkeys(sources):
                locks.enter_context(source_lock(settings.home, uri))
        embedder = Embedder.from_settings(settings, show_progress=True)
        store = open_store(settings, embedder.dimension, recreate=rebuild)
        indexer = Indexer(settings, store, embedder)
        try:
            options = {"all_revisions": True} if all_revisions else {}
            reports = [
                indexer.index(uri, **(options if uri.startswith("quilt+") else {}))
                for uri in sources
            ]
            # Searches embed queries with the model's ONNX export, without torch: make it now
            # (once per machine and model; a stat when it exists) rather than on a first search.
            embedder.prepare_queries()
            # OpenSearch builds a rebuild in a new index; publish it (atomic alias swap) only
            # once every source made it in, so searches never see a half-built index.
            finish = getattr(store, "finish_rebuild", None)
            if rebuild and all(r.complete for r in reports):
                if finish is not None:
                    finish()
                record_rules_applied(settings)
            return reports
        finally:
            indexer.close()
            store.close()
            embedder.close()


def remove_source(settings: Settings, source: str) -> int:
    """Delete every asset `source` produced and forget the source; returns how many went."""
    with writer_lock(settings.home):
        embedder = Embedder.from_settings(settings)
        store = open_store(settings, embedder.dimension)
        indexer = Indexer(settings, store, embedder)
        try:
            return indexer.remove(source)
        finally:
            indexer.close()
            store.close()
            embedder.close()


def watched_sources(settings: Settings, sources: list[str]) -> list[str]:
    """The sources to watch: those given, else every source indexed before."""
    if sources:
        return list(dict.fromkeys(sources))
    known = _readable_sources(settings)
    if not known:
        raise ConfigError("nothing to watch: give source URIs, or index some first")
    return known


def _readable_sources(settings: Settings) -> list[str]:
    """Every source indexed before that can be read again (pushed records cannot: their source
    is the API)."""
    state = SyncState(settings.state_path)
    try:
        return [r.source for r in state.all() if not r.source.startswith("ingest://")]
    finally:
        state.close()


def run_watch(
    settings: Settings,
    sources: list[str],
    options: WatchOptions,
    stop: threading.Event,
    on_ready: Callable[[Watcher], None] | None = None,
) -> None:
    """Watch `sources` until `stop` is set: catch up, then apply their changes as they come."""
    from indexer.watch.loop import Watcher

    sources = watched_sources(settings, sources)
    if rules_changed(settings):
        apply_changed_rules(settings)
    embedder = Embedder.from_settings(settings)
    store = open_store(settings, embedder.dimension)
    try:
        watcher = Watcher(settings, sources, store, embedder, options)
        if on_ready is not None:
            on_ready(watcher)
        watcher.run(stop)
    finally:
        store.close()
        embedder.close()


def apply_rules(settings: Settings, *, force: bool = True) -> AccessReport | None:
    """Apply the configured access rules to every stored asset under the writer lock (the
    assets of every source change); `force=False` only if they changed since last applied.
    Raises IndexLockedError when another `labsearch index` is writing."""
    with writer_lock(settings.home):
        embedder = Embedder.from_settings(settings)
        try:
            store = open_store(settings, embedder.dimension)
            try:
                key = model_key(settings, embedder)
                return apply_if_rules_changed(settings, store, key, force=force)
            finally:
                store.close()
        finally:
            embedder.close()


def apply_changed_rules(settings: Settings) -> None:
    """Before an index or watch run and when a server starts: apply changed rules, or leave
    them for the next run when another writer holds the index (an index run itself still gives
    the sources it reads the new rules' groups)."""
    try:
        report = apply_rules(settings, force=False)
    except LabsearchError as error:  # locked, or the store is down: the next start retries
        log.warning("access rules changed but were not applied to stored assets yet: %s", error)
        return
    if report is not None:
        log.info("access rules applied: %s", report.summary())
