"""Exact cosine search for the embedded store: every vector in one float32 matrix in memory.

Brute force is exact, so a search restricted to the rows a caller may see and a filter selects
returns the true nearest neighbours among them, however few they are - no ANN index can miss
them. At 100k x 384 the matrix is 150 MB and one query is one pass over it
(docs/embedded-engine.md has the measurements).

The cache follows the database's `generation` counter (bumped by every write transaction) and
refreshes incrementally, so a server answering queries while `labsearch index` commits batch
after batch never re-reads or copies the whole matrix: keys only grow (AUTOINCREMENT; a replaced
asset gets a new key), so rows above the cached maximum are appended into spare capacity, and
rows whose key is gone are marked dead (and compacted away once a quarter of rows are dead).
Groups changed in place (an access-rule change: same key, same vector) bump a second counter,
`groups_generation`, which drops the cached group masks.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

import numpy as np

# The `meta` key counting in-place group changes; absent until the first one.
GROUPS_GENERATION = "groups_generation"


def dot(matrix: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Cosine scores of unit rows. einsum, not `@`: `@` goes to multi-threaded BLAS, whose
    threads spin against each other and against concurrent requests on a busy machine (measured
    3-6x slower wall time on 2 shared cores); einsum's single-threaded SIMD loop costs the same
    CPU and no contention."""
    return np.einsum("ij,j->i", matrix, query)


def keys(conn: sqlite3.Connection, sql: str, params: Iterable[object] = ()) -> np.ndarray:
    """The integers in column `k` of query `sql`, as an int64 array. group_concat plus a C-level
    parse avoids creating a Python object per row, most of the cost of iterating a cursor over
    tens of thousands of keys."""
    (joined,) = conn.execute(f"SELECT group_concat(k) FROM ({sql})", list(params)).fetchone()
    if not joined:
        return np.empty(0, dtype=np.int64)
    return np.fromstring(joined, dtype=np.int64, sep=",")


class VectorCache:
    """Vectors of the `bodies` table in memory, with per-group visibility masks.

    Not thread-safe on its own: the store calls it under its own lock, inside a read
    transaction.
    """

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self.clear()

    def clear(self) -> None:
        self.generation: int | None = None
        self.groups_generation: str | None = None
        self.size = 0
        self._rowids = np.empty(0, dtype=np.int64)  # ascending; capacity >= size
        self._matrix = np.empty((0, self.dimension), dtype=np.float32)
        self._alive = np.empty(0, dtype=bool)
        self._groups: dict[str, np.ndarray] = {}  # group -> membership, capacity long

    # ---------------------------------------------------------------- views of the live part

    @property
    def rowids(self) -> np.ndarray:
        return self._rowids[: self.size]

    @property
    def alive(self) -> np.ndarray:
        return self._alive[: self.size]

    # ---------------------------------------------------------------- refresh

    def refresh(self, conn: sqlite3.Connection) -> VectorCache:
        """Bring the cache to the snapshot of the read transaction `conn` is in."""
        (generation,) = conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        generation = int(generation)
        # Readers on several threads hold snapshots of different ages: a cache already at or
        # past this snapshot is kept (refreshing backwards would mark newer rows as deleted).
        if self.generation is not None and generation <= self.generation:
            return self
        if self.generation is not None and self.size:
            self._mark_deleted(conn)
            if (~self.alive).sum() * 4 > self.size:
                self.clear()  # compact: reload only what is alive
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (GROUPS_GENERATION,)).fetchone()
        regrouped = row[0] if row else None
        if regrouped != self.groups_generation:
            self._groups.clear()  # memberships changed in place: masks are rebuilt when asked
            self.groups_generation = regrouped
        last = int(self._rowids[self.size - 1]) if self.size else -1
        self._append(conn, last)
        self.generation = generation
        return self

    def _mark_deleted(self, conn: sqlite3.Connection) -> None:
        last = int(self._rowids[self.size - 1])
        (count,) = conn.execute("SELECT count(*) FROM assets WHERE pk <= ?", (last,)).fetchone()
        if count == int(self.alive.sum()):
            return  # nothing cached was deleted (the common case: only new rows)
        present = keys(conn, "SELECT pk AS k FROM assets WHERE pk <= ?", (last,))
        self._alive[: self.size] &= np.isin(self.rowids, present, assume_unique=True)

    def _append(self, conn: sqlite3.Connection, after: int) -> None:
        rowids, blobs = [], []
        rows = conn.execute("SELECT pk, vector FROM bodies WHERE pk > ? ORDER BY pk", (after,))
        for rowid, blob in rows:
            rowids.append(rowid)
            blobs.append(blob)
        if not rowids:
            return
        start, end = self.size, self.size + len(rowids)
        self._reserve(end)
        self._rowids[start:end] = rowids
        self._matrix[start:end] = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(
            len(rowids), self.dimension
        )
        self._alive[start:end] = True
        self.size = end
        if self._groups:
            # Extend the cached group masks with the new rows' memberships.
            for group in self._groups:
                self._groups[group][start:end] = False
            members = conn.execute(
                "SELECT asset, grp FROM asset_groups WHERE asset > ? ORDER BY asset", (after,)
            )
            for asset, group in members:
                if group in self._groups:
                    self._groups[group][start + np.searchsorted(self.rowids[start:], asset)] = True

    def _reserve(self, needed: int) -> None:
        capacity = len(self._rowids)
        if needed <= capacity:
            return
        # Grow geometrically, with headroom, so that appending batch after batch copies O(n)
        # in total and the first batches after loading copy nothing.
        capacity = max(needed + needed // 4, capacity * 2, 1024)
        rowids = np.empty(capacity, dtype=np.int64)
        matrix = np.empty((capacity, self.dimension), dtype=np.float32)
        alive = np.zeros(capacity, dtype=bool)
        rowids[: self.size] = self.rowids
        matrix[: self.size] = self._matrix[: self.size]
        alive[: self.size] = self.alive
        self._rowids, self._matrix, self._alive = rowids, matrix, alive
        for group, mask in self._groups.items():
            grown = np.zeros(capacity, dtype=bool)
            grown[: self.size] = mask[: self.size]
            self._groups[group] = grown

    # ---------------------------------------------------------------- masks and search

    def mask_of(self, rowids: np.ndarray) -> np.ndarray:
        """Boolean row mask for the given keys (each must be a cached, live key)."""
        mask = np.zeros(self.size, dtype=bool)
        mask[np.searchsorted(self.rowids, rowids)] = True
        return mask

    def group_mask(self, conn: sqlite3.Connection, groups: Iterable[str]) -> np.ndarray:
        """Rows visible to members of `groups` (per-group masks stay cached across refreshes)."""
        mask = np.zeros(self.size, dtype=bool)
        for group in groups:
            cached = self._groups.get(group)
            if cached is None:
                members = keys(conn, "SELECT asset AS k FROM asset_groups WHERE grp = ?", (group,))
                cached = np.zeros(len(self._rowids), dtype=bool)
                cached[: self.size] = self.mask_of(members)
                self._groups[group] = cached
            mask |= cached[: self.size]
        return mask

    def top(
        self, query: np.ndarray, mask: np.ndarray | None, depth: int
    ) -> list[tuple[int, float]]:
        """(key, cosine) of the `depth` best live rows among `mask` (all if None), best first;
        equal scores by key."""
        alive = self.alive
        if mask is None and bool(alive.all()):
            positions = None
            scores = dot(self._matrix[: self.size], query)
        else:
            positions = np.flatnonzero(alive if mask is None else mask & alive)
            if not len(positions):
                return []
            # Scoring every row and then selecting is cheaper than gathering a large subset.
            if len(positions) * 4 > self.size:
                scores = dot(self._matrix[: self.size], query)[positions]
            else:
                scores = dot(self._matrix[positions], query)
        n = min(depth, len(scores))
        if n <= 0:
            return []
        top = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
        top = top[np.lexsort((top, -scores[top]))]  # by score, then by position (= by key)
        chosen = top if positions is None else positions[top]
        return [(int(self.rowids[i]), float(s)) for i, s in zip(chosen, scores[top], strict=True)]
