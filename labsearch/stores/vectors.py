"""The embedded store's in-memory indexes, one per process: vectors in a faiss IVF index (float16
codes), exact whenever the rows a caller may see and a filter selects are few, approximate when
they are many; and BM25 postings (sparse.py) over the same row positions.

Why this design (measurements in docs/embedded-engine.md and bench/scale.py):
- The vectors live once in memory, as float16 codes of a faiss `IndexIVFScalarQuantizer`
  (1M x 384 is 768 MB); the float32 originals stay on disk in SQLite, the durable copy.
- Permissions and filters go *into* the search as a bitmap of allowed keys (faiss
  IDSelectorBitmap), so ranking never looks at a row the caller cannot see and a filtered search
  still finds its matches however many better-scoring rows fail the filter.
- The planner: an IVF search visits `nprobe` of the `nlist` clusters. When a bitmap lets through
  a fraction `s` of the rows, about `s` of each visited cluster is usable, so the planner visits
  `base_nprobe / s` clusters; once that would be half of them, it visits all of them, which is an
  exact scan (only allowed rows are scored). A search that comes back with fewer hits than
  there are allowed rows (up to the depth asked) is repeated exactly, so the count of results is
  always complete. Small indexes have one cluster: every search is exact.
- The cache follows the database's `generation` counter (bumped by every write transaction) and
  refreshes incrementally: keys only grow (AUTOINCREMENT; a replaced asset gets a new key), so
  rows above the cached maximum are added and rows whose key is gone are removed. Groups changed
  in place bump `groups_generation`, which drops the cached group masks.
- The trained index is saved beside the database (`<file>.vectors`) after it was built from
  scratch, so the next process loads it in seconds instead of re-clustering; it records the
  database's identity and generation, and is caught up incrementally like the cache.
"""

from __future__ import annotations

import math
import os
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from labsearch.stores.sparse import QueryTerm, SparseIndex

# faiss is imported where an index is built, read, changed or searched: opening a store to find
# every asset unchanged (`labsearch index` re-run) needs none of it (30 ms of a 0.5 s process).
if TYPE_CHECKING:
    import faiss

# The `meta` key counting in-place group changes; absent until the first one.
GROUPS_GENERATION = "groups_generation"
# The `meta` key naming this database file's identity (a random token made at creation).
INSTANCE = "instance"

# Below this many rows one cluster holds everything: every search is an exact scan, which at
# this size costs a few milliseconds.
MIN_ROWS_FOR_CLUSTERS = 50_000
# Clusters visited when every row is allowed (of about sqrt(rows) clusters). Measured recall@10
# against exact search is in docs/embedded-engine.md (bench/scale.py --recall).
BASE_NPROBE = 24
# Re-cluster when the index has grown this many times past the size it was clustered for.
RECLUSTER_GROWTH = 4
MAX_CACHED_CONDITIONS = 64  # masks of 1 byte per row: 64 MB at a million rows
_LOAD_CHUNK = 50_000  # rows read from SQLite and added per step when loading


def keys(conn: sqlite3.Connection, sql: str, params: Iterable[object] = ()) -> np.ndarray:
    """The integers in column `k` of query `sql`, as an int64 array. group_concat plus a C-level
    parse avoids creating a Python object per row, most of the cost of iterating a cursor over
    tens of thousands of keys."""
    (joined,) = conn.execute(f"SELECT group_concat(k) FROM ({sql})", list(params)).fetchone()
    if not joined:
        return np.empty(0, dtype=np.int64)
    return np.fromstring(joined, dtype=np.int64, sep=",")


def _new_index(dimension: int, nlist: int) -> faiss.IndexIVFScalarQuantizer:
    import faiss

    quantizer = faiss.IndexFlatIP(dimension)
    index = faiss.IndexIVFScalarQuantizer(
        quantizer, dimension, nlist, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
    )
    index.by_residual = False  # codes are the vectors themselves: an exact scan is exact
    index.quantizer_trains_alone = 0
    return index


def clusters_for(rows: int) -> int:
    return 1 if rows < MIN_ROWS_FOR_CLUSTERS else int(math.sqrt(rows))


class VectorCache:
    """The vectors of the `bodies` table in a faiss index, with per-group visibility masks.

    `refresh` changes it in place and must run alone; the other methods only read it (and
    its mask caches, which have their own lock), so searches may call them side by side. The
    store arranges this with a reader/writer lock, inside a read transaction.
    """

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self._caching = threading.Lock()  # the mask caches, filled by concurrent searches
        self.clear()

    def clear(self) -> None:
        self.generation: int | None = None
        self.groups_generation: str | None = None
        self.instance: str | None = None
        self.size = 0
        self.clustered_for = 0  # rows the clusters were trained on (0: one cluster)
        self.loaded_from_scratch = False
        self.saved_size = 0  # rows in the saved file this cache was loaded from or wrote
        self._rowids = np.empty(0, dtype=np.int64)  # ascending; capacity >= size
        self._alive = np.empty(0, dtype=bool)
        self._groups: dict[str, np.ndarray] = {}  # group -> membership, capacity long
        # Filter conditions' row masks for this generation only (any write drops them): a
        # filter repeated across searches (a facet value the user picked) is read once.
        self._conditions: dict[tuple[str, tuple[object, ...]], np.ndarray] = {}
        self._index: faiss.IndexIVFScalarQuantizer | None = None
        self.sparse = SparseIndex()

    # ---------------------------------------------------------------- views of the live part

    @property
    def rowids(self) -> np.ndarray:
        return self._rowids[: self.size]

    @property
    def alive(self) -> np.ndarray:
        return self._alive[: self.size]

    @property
    def nlist(self) -> int:
        return self._index.nlist if self._index is not None else 0

    # ---------------------------------------------------------------- refresh

    def refresh(self, conn: sqlite3.Connection, saved: Path | None = None) -> VectorCache:
        """Bring the cache to the snapshot of the read transaction `conn` is in. `saved` names
        the file a trained index is loaded from (when the cache is empty) and saved to (after
        it was built from scratch)."""
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        generation = int(meta["generation"])
        # Readers on several threads hold snapshots of different ages: a cache already at or
        # past this snapshot is kept (refreshing backwards would mark newer rows as deleted).
        if self.generation is not None and generation <= self.generation:
            return self
        if self._index is None and saved is not None:
            self._load(saved, meta.get(INSTANCE), generation)
        if self.generation is not None and self.size:
            self._remove_deleted(conn)
        regrouped = meta.get(GROUPS_GENERATION)
        if regrouped != self.groups_generation:
            self._groups.clear()  # memberships changed in place: masks are rebuilt when asked
            self.groups_generation = regrouped
        (total,) = conn.execute("SELECT count(*) FROM bodies").fetchone()
        if (
            self._index is None
            or clusters_for(total) > 1
            and (total > RECLUSTER_GROWTH * max(self.clustered_for, MIN_ROWS_FOR_CLUSTERS // 2))
        ):
            self._build(conn, total)
            self.loaded_from_scratch = True
        else:
            last = int(self._rowids[self.size - 1]) if self.size else -1
            self._append(conn, last)
        self._conditions.clear()
        self.generation, self.instance = generation, meta.get(INSTANCE)
        grown = self.size - self.saved_size > self.size // 4
        if saved is not None and self.nlist > 1 and (self.loaded_from_scratch or grown):
            # Building is the expensive part: the next process loads the file and catches up
            # (saved again once a quarter of the rows are newer than the file).
            self._save(saved)
        return self

    def _build(self, conn: sqlite3.Connection, total: int) -> None:
        """Cluster a sample of the stored vectors and add all of them (a first load, or the
        index outgrew its clusters)."""
        self.clear()
        nlist = clusters_for(total)
        self._index = _new_index(self.dimension, nlist)
        if nlist == 1:
            # One cluster needs no clustering: every vector goes to the single (zero) centroid.
            self._index.quantizer.add(np.zeros((1, self.dimension), dtype=np.float32))
            self._index.is_trained = True
        else:
            everything = keys(conn, "SELECT pk AS k FROM bodies")
            rng = np.random.default_rng(0)
            sample = np.sort(rng.choice(everything, min(len(everything), 64 * nlist), False))
            vectors = []
            for start in range(0, len(sample), 500):
                chunk = sample[start : start + 500].tolist()
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(f"SELECT vector FROM bodies WHERE pk IN ({marks})", chunk)
                vectors += [blob for (blob,) in rows]
            self._index.train(self._matrix(vectors))
            self.clustered_for = total
        self._append(conn, -1)

    def _matrix(self, blobs: list[bytes]) -> np.ndarray:
        return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), self.dimension)

    def _remove_deleted(self, conn: sqlite3.Connection) -> None:
        last = int(self._rowids[self.size - 1])
        (count,) = conn.execute("SELECT count(*) FROM assets WHERE pk <= ?", (last,)).fetchone()
        if count == int(self.alive.sum()):
            return  # nothing cached was deleted (the common case: only new rows)
        present = keys(conn, "SELECT pk AS k FROM assets WHERE pk <= ?", (last,))
        still = np.isin(self.rowids, present, assume_unique=True)
        gone = self.rowids[self.alive & ~still]
        if len(gone):
            assert self._index is not None
            import faiss

            self._index.remove_ids(faiss.IDSelectorBatch(gone))
        self._alive[: self.size] &= still
        if (~self.alive).sum() * 4 > self.size:
            self._compact()

    def _compact(self) -> None:
        """Drop dead positions from the key and mask arrays (the index no longer has them)."""
        keep = self.alive
        self.sparse.compact(keep)
        self._rowids = self.rowids[keep].copy()
        self._groups = {
            group: mask[: self.size][keep].copy() for group, mask in self._groups.items()
        }
        self.size = len(self._rowids)
        self._alive = np.ones(self.size, dtype=bool)

    def _append(self, conn: sqlite3.Connection, after: int) -> None:
        assert self._index is not None
        while True:
            rows = conn.execute(
                "SELECT pk, vector FROM bodies WHERE pk > ? ORDER BY pk LIMIT ?",
                (after, _LOAD_CHUNK),
            ).fetchall()
            if not rows:
                return
            rowids = np.fromiter((pk for pk, _ in rows), dtype=np.int64, count=len(rows))
            self._index.add_with_ids(self._matrix([blob for _, blob in rows]), rowids)
            start, end = self.size, self.size + len(rowids)
            texts = dict.fromkeys(rowids.tolist(), ("", "", "", ""))
            columns = conn.execute(
                "SELECT rowid, title, identifiers, text, parts FROM fts "
                "WHERE rowid >= ? AND rowid <= ?",
                (int(rowids[0]), int(rowids[-1])),
            )
            for rowid, *text in columns:
                if rowid in texts:
                    texts[rowid] = tuple(text)
            self.sparse.append(start, list(texts.values()))
            self._reserve(end)
            self._rowids[start:end] = rowids
            self._alive[start:end] = True
            self.size = end
            if self._groups:
                self._extend_groups(conn, start, after)
            after = int(rowids[-1])
            if len(rows) < _LOAD_CHUNK:
                return

    def _extend_groups(self, conn: sqlite3.Connection, start: int, after: int) -> None:
        """Extend the cached group masks with the memberships of rows from position `start`."""
        last = int(self._rowids[self.size - 1])
        for group in self._groups:
            self._groups[group][start : self.size] = False
        members = conn.execute(
            "SELECT asset, grp FROM asset_groups WHERE asset > ? AND asset <= ? ORDER BY asset",
            (after, last),
        )
        for asset, group in members:
            if group in self._groups:
                self._groups[group][start + np.searchsorted(self.rowids[start:], asset)] = True

    def _reserve(self, needed: int) -> None:
        capacity = len(self._rowids)
        if needed <= capacity:
            return
        # Grow geometrically, with headroom, so that appending batch after batch copies O(n).
        capacity = max(needed + needed // 4, capacity * 2, 1024)
        rowids = np.empty(capacity, dtype=np.int64)
        alive = np.zeros(capacity, dtype=bool)
        rowids[: self.size] = self.rowids
        alive[: self.size] = self.alive
        self._rowids, self._alive = rowids, alive
        for group, mask in self._groups.items():
            grown = np.zeros(capacity, dtype=bool)
            grown[: self.size] = mask[: self.size]
            self._groups[group] = grown

    # ---------------------------------------------------------------- persistence

    def _save(self, path: Path) -> None:
        """Write the indexes atomically beside the database; a read-only directory just means
        the next process builds them again.

        Layout: 8 bytes giving the length n of the faiss index, the index (faiss's own format,
        streamed so no second copy is made in memory), then an .npz archive with the rest. A
        reader checks the archive first and reads the index only when it belongs to the
        database."""
        assert self._index is not None
        if not self.alive.all():
            self._compact()  # positions saved are the live rows, in order
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with temporary.open("wb") as out:
                out.write(bytes(8))
                import faiss

                faiss.write_index(self._index, faiss.PyCallbackIOWriter(out.write))
                length = out.tell() - 8
                np.savez(
                    out,
                    rowids=self.rowids,
                    lengths=self.sparse.lengths[: self.size],
                    info=np.array([self.generation, self.clustered_for], dtype=np.int64),
                    instance=np.array(self.instance or ""),
                    **self.sparse.state(),
                )
                out.seek(0)
                out.write(length.to_bytes(8, "little"))
            os.replace(temporary, path)
            self.loaded_from_scratch = False
            self.saved_size = self.size
        except OSError:
            temporary.unlink(missing_ok=True)

    def _load(self, path: Path, instance: str | None, generation: int) -> None:
        """Start from the saved indexes if they belong to this database and are not newer than
        the snapshot; anything else is ignored (they are then built from the database)."""
        try:
            with path.open("rb") as saved_file:
                length = int.from_bytes(saved_file.read(8), "little")
                saved_file.seek(8 + length)
                with np.load(saved_file) as saved:
                    if not instance or str(saved["instance"]) != instance:
                        return
                    saved_generation, clustered_for = (int(x) for x in saved["info"])
                    if saved_generation > generation:
                        return
                    rowids = saved["rowids"]
                    sparse = SparseIndex.from_state(
                        {key: saved[key] for key in saved.files if key.startswith("sparse_")},
                        saved["lengths"],
                    )
                saved_file.seek(8)
                import faiss

                index = faiss.read_index(faiss.PyCallbackIOReader(saved_file.read))
        except (OSError, KeyError, ValueError, RuntimeError, EOFError):
            return
        self.clear()
        self._index = index
        self.sparse = sparse
        self.clustered_for = clustered_for
        self._reserve(len(rowids))
        self._rowids[: len(rowids)] = rowids
        self._alive[: len(rowids)] = True
        self.size = self.saved_size = len(rowids)
        self.generation = saved_generation

    # ---------------------------------------------------------------- masks and search

    def mask_of(self, rowids: np.ndarray) -> np.ndarray:
        """Boolean row mask for the given keys (keys not in the cache are ignored)."""
        mask = np.zeros(self.size, dtype=bool)
        positions = np.searchsorted(self.rowids, rowids)
        found = positions < self.size
        found[found] = self.rowids[positions[found]] == rowids[found]
        mask[positions[found]] = True
        return mask

    def holds(self, generation: int) -> bool:
        """Whether the cache has every row of a reader's snapshot at `generation` (it may be
        ahead: rows the snapshot lacks find no document later)."""
        return self.generation is not None and generation <= self.generation

    def condition_mask(
        self, conn: sqlite3.Connection, sql: str, params: list[object], generation: int
    ) -> np.ndarray:
        """Rows whose key query `sql` (a column `k`) returns, read by a reader at snapshot
        `generation`; cached until the next write."""
        if generation != self.generation or not MAX_CACHED_CONDITIONS:
            # A reader behind the cache (or caching off): its own answer.
            return self.mask_of(keys(conn, sql, params))
        key = (sql, tuple(params))
        with self._caching:
            mask = self._conditions.get(key)
        if mask is None:
            mask = self.mask_of(keys(conn, sql, params))
            with self._caching:
                if len(self._conditions) >= MAX_CACHED_CONDITIONS:
                    self._conditions.pop(next(iter(self._conditions)))
                self._conditions[key] = mask
        return mask

    def group_mask(self, conn: sqlite3.Connection, groups: Iterable[str]) -> np.ndarray:
        """Rows visible to members of `groups` (per-group masks stay cached across refreshes)."""
        mask = np.zeros(self.size, dtype=bool)
        for group in groups:
            with self._caching:
                cached = self._groups.get(group)
            if cached is None:
                members = keys(conn, "SELECT asset AS k FROM asset_groups WHERE grp = ?", (group,))
                cached = np.zeros(len(self._rowids), dtype=bool)
                cached[: self.size] = self.mask_of(members)
                with self._caching:
                    self._groups[group] = cached
            mask |= cached[: self.size]
        return mask

    def bm25(
        self, terms: list[QueryTerm], visible: np.ndarray, allowed: np.ndarray, depth: int
    ) -> list[tuple[int, float]]:
        """(key, BM25 score) of the `depth` best rows among `allowed` matching any term, with
        statistics over the `visible` rows (sparse.py)."""
        hits = self.sparse.search(terms, visible, allowed, depth)
        return [(int(self._rowids[position]), score) for position, score in hits]

    def matching(self, terms: list[QueryTerm], allowed: np.ndarray) -> np.ndarray:
        """Keys of the rows among `allowed` that match any term (sparse.py), ascending."""
        return self._rowids[self.sparse.matching(terms, allowed)]

    def plan(self, allowed: int) -> int:
        """Clusters to visit when `allowed` of the live rows may be returned (all = exact)."""
        live = max(int(self.alive.sum()), 1)
        nlist = self.nlist
        wanted = math.ceil(BASE_NPROBE * live / max(allowed, 1))
        return nlist if wanted * 2 >= nlist else wanted

    def top(
        self, query: np.ndarray, mask: np.ndarray | None, depth: int, exact: bool = False
    ) -> list[tuple[int, float]]:
        """(key, cosine) of the `depth` best live rows among `mask` (all if None), best first;
        equal scores by key. `exact` scans every allowed row whatever the plan says."""
        if self._index is None or not self.size or depth <= 0:
            return []
        alive = self.alive
        allowed_mask = alive if mask is None else mask & alive
        allowed = int(allowed_mask.sum())
        if not allowed:
            return []
        selector = None
        if allowed < self._index.ntotal:
            bits = np.zeros(int(self.rowids[-1]) + 1, dtype=bool)
            bits[self.rowids[allowed_mask]] = True
            packed = np.packbits(bits, bitorder="little")
            import faiss

            selector = faiss.IDSelectorBitmap(len(packed), faiss.swig_ptr(packed))
        wanted = min(depth, allowed)
        nprobe = self.nlist if exact else self.plan(allowed)
        hits = self._search(query, wanted, nprobe, selector)
        if len(hits) < wanted and nprobe < self.nlist:
            hits = self._search(query, wanted, self.nlist, selector)  # too few: exactly
        return hits

    def _search(
        self, query: np.ndarray, k: int, nprobe: int, selector: faiss.IDSelector | None
    ) -> list[tuple[int, float]]:
        assert self._index is not None
        import faiss

        params = faiss.SearchParametersIVF(nprobe=nprobe, sel=selector)
        scores, ids = self._index.search(
            np.ascontiguousarray(query, dtype=np.float32)[None], k, params=params
        )
        found = [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
        found.sort(key=lambda hit: (-hit[1], hit[0]))
        return found
