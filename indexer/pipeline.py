"""Source → assets → embeddings → store, incrementally and safely.

- An asset whose content hash is unchanged is neither re-embedded nor rewritten.
- Assets are written in batches, each batch one store transaction: a crash or Ctrl-C loses
  nothing already written, and since ids are stable the next run finishes the job without
  duplicates (already-written assets come back as unchanged).
- Deletions (assets gone from the source) are applied only after a complete scan, so a source
  that fails half-way never deletes what it simply did not reach.
- One writer per source at a time (indexer/locks.py): a second `labsearch index` of the same
  source, or anything during a rebuild, gets IndexLockedError.
- `refresh` syncs a part of a source (what a watcher's event named) the same way: deletions are
  confined to the part, so reading one object never deletes the rest of the bucket.
"""

from __future__ import annotations

import bisect
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from tqdm import tqdm

from indexer.sources import SourceIssue, open_source
from indexer.sources.base import Checked, Part
from indexer.state import SyncReport, SyncState
from labsearch.embeddings import Embedder
from labsearch.errors import LabsearchError
from labsearch.schema import EMBEDDING_TEXT_VERSION, Asset
from labsearch.settings import Settings
from labsearch.stores.protocol import AssetStore, IndexedAsset

ProgressFactory = Callable[[str], Any]


def _default_progress(description: str) -> Any:
    return tqdm(desc=description, unit=" assets", file=sys.stderr, disable=None, leave=False)


def model_key(settings: Settings, embedder: Embedder) -> str:
    """What content hashes are computed with. The vector depends on the model and on what text
    it saw: all are part of the hash."""
    embedded = f"{embedder.vector_key}|{settings.embed_max_chars}"
    return f"{embedded}|{EMBEDDING_TEXT_VERSION}"


class Indexer:
    def __init__(
        self,
        settings: Settings,
        store: AssetStore,
        embedder: Embedder,
        progress: ProgressFactory | None = _default_progress,
    ) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.progress = progress
        self.state = SyncState(settings.state_path)

    def index(self, uri: str, **options: Any) -> SyncReport:
        """Bring the store in line with one source. Never raises for bad records or sources:
        the report says what failed."""
        report = SyncReport(source=uri)
        try:
            source = open_source(uri, self.settings, **options)
            existing = self.store.hashes_by_source(uri)
            if hasattr(source, "known_fingerprints"):
                # Only for containers still in the store: after `--rebuild` nothing is skipped.
                known = self.state.fingerprints(uri, self.model_key)
                source.known_fingerprints = {r: f for r, f in known.items() if r in existing}
            fingerprints = self._sync(uri, source.scan(), existing, report)
            self.state.save_fingerprints(uri, self.model_key, fingerprints)
        except LabsearchError as error:
            report.failed += 1
            report.errors.append(f"{uri}: {error}")
        report.finished_at = datetime.now(UTC).isoformat()
        self.state.record(report)
        return report

    def refresh(self, uri: str, keys: Sequence[str]) -> SyncReport:
        """Bring the store in line with the part of a source `keys` name (file paths, object
        keys, package names...), as the source holds it now. A source that cannot read parts
        of itself is synced whole, incrementally. Never raises for bad records or sources."""
        report = SyncReport(source=uri)
        try:
            source = open_source(uri, self.settings)
            if not hasattr(source, "scan_part"):
                return self.index(uri)
            stored = self.store.hashes_by_source(uri)
            part: Part = source.scan_part(keys)
            ids = _SortedIds(stored)
            existing = {i: stored[i] for root in part.roots for i in ids.under(root)}
            if hasattr(source, "known_fingerprints"):
                known = self.state.fingerprints(uri, self.model_key)
                source.known_fingerprints = {r: f for r, f in known.items() if r in existing}
            fingerprints = self._sync(uri, part.items, existing, report)
            self.state.update_fingerprints(uri, self.model_key, fingerprints, part.roots)
        except LabsearchError as error:
            report.failed += 1
            report.errors.append(f"{uri}: {error}")
        report.finished_at = datetime.now(UTC).isoformat()
        return report

    @property
    def model_key(self) -> str:
        return model_key(self.settings, self.embedder)

    def _sync(
        self,
        uri: str,
        items: Iterable[Asset | SourceIssue | Checked],
        existing: dict[str, str],
        report: SyncReport,
    ) -> dict[str, str]:
        """Write what changed, delete what is gone; returns the fingerprints of the containers
        the source checked (saved only after this complete scan)."""
        model = self.model_key
        seen: set[str] = set()
        kept: list[str] = []  # records that exist but failed to read: keep their old assets
        fingerprints: dict[str, str] = {}
        pending: list[tuple[Asset, str]] = []
        bar = self.progress(uri) if self.progress else None
        stored = _SortedIds(existing)
        try:
            for item in items:
                if isinstance(item, Checked):
                    fingerprints[item.root] = item.fingerprint
                    if item.unchanged:
                        unchanged = stored.under(item.root)
                        seen.update(unchanged)
                        report.unchanged += len(unchanged)
                        if bar is not None:
                            bar.update(len(unchanged))
                    continue
                if bar is not None:
                    bar.update(1)
                if isinstance(item, SourceIssue):
                    report.failed += 1
                    report.errors.append(str(item))
                    if item.keep:
                        kept.append(item.keep)
                    continue
                if item.id in seen:
                    report.failed += 1
                    report.errors.append(f"{uri}: {item.id}: duplicate asset id; kept the first")
                    continue
                seen.add(item.id)
                if item.source != uri:
                    item = item.model_copy(update={"source": uri})
                for reason in item.errors:
                    report.failed += 1
                    report.errors.append(f"{uri}: {item.id}: {reason}")
                content_hash = item.content_hash(model)
                if existing.get(item.id) == content_hash:
                    report.unchanged += 1
                    continue
                pending.append((item, content_hash))
                if len(pending) >= self.settings.index_batch_size:
                    self._write(pending, existing, report)
                    pending = []
            self._write(pending, existing, report)
        finally:
            if bar is not None:
                bar.close()
            close = getattr(items, "close", None)
            if close is not None:  # a scan stopped by an error releases its files and caches now
                close()
        gone = sorted(i for i in set(existing) - seen if not _under_any(i, kept))
        for start in range(0, len(gone), 1000):
            report.deleted += self.store.delete(gone[start : start + 1000])
        report.complete = True
        return fingerprints

    def _write(
        self, batch: list[tuple[Asset, str]], existing: dict[str, str], report: SyncReport
    ) -> None:
        if not batch:
            return
        limit = self.settings.embed_max_chars
        vectors = self.embedder.embed([asset.embedding_text(limit) for asset, _ in batch])
        self.store.upsert(
            [
                IndexedAsset(asset=asset, vector=vector.tolist(), content_hash=content_hash)
                for (asset, content_hash), vector in zip(batch, vectors, strict=True)
            ]
        )
        for asset, _ in batch:
            if asset.id in existing:
                report.updated += 1
            else:
                report.added += 1

    def remove(self, uri: str) -> int:
        """Delete every asset a source produced and forget the source."""
        ids = sorted(self.store.hashes_by_source(uri))
        removed = 0
        for start in range(0, len(ids), 1000):
            removed += self.store.delete(ids[start : start + 1000])
        self.state.forget(uri)
        return removed

    def close(self) -> None:
        self.state.close()


class _SortedIds:
    """Stored ids, sorted, to find a container's assets without scanning them all."""

    def __init__(self, ids: Iterable[str]) -> None:
        self._ids = sorted(ids)

    def under(self, root: str) -> list[str]:
        """`root` and its children (`root:...`, `root@...`, `root#...`); a root ending in "/"
        (a directory) is a plain prefix."""
        if root.endswith("/"):
            start = bisect.bisect_left(self._ids, root)
            return self._ids[start : bisect.bisect_left(self._ids, root + "\U0010ffff")]
        found = [root] if self._has(root) else []
        for separator in (":", "@", "#"):
            prefix = root + separator
            start = bisect.bisect_left(self._ids, prefix)
            end = bisect.bisect_left(self._ids, prefix + "\U0010ffff")
            found += self._ids[start:end]
        return found

    def _has(self, asset_id: str) -> bool:
        at = bisect.bisect_left(self._ids, asset_id)
        return at < len(self._ids) and self._ids[at] == asset_id


def _under_any(asset_id: str, roots: list[str]) -> bool:
    """Is `asset_id` one of `roots` or a child of one (`root:...`, `root@...`, `root#...`)?"""
    return any(
        asset_id == root or asset_id[len(root) : len(root) + 1] in (":", "@", "#")
        for root in roots
        if asset_id.startswith(root)
    )
