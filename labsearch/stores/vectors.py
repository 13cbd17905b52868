"""Exact cosine search for the embedded store: every vector in one float32 matrix in memory.

Brute force is exact, so a search restricted to the rows a caller may see and a filter selects
returns the true nearest neighbours among them, however few they are - no ANN index can miss
them. At 100k x 384 the matrix is 150 MB and one query is one pass over it
(docs/embedded-engine.md has the measurements).

The cache follows the database's `generation` counter (bumped by every write transaction) and
refreshes incrementally: keys only grow (AUTOINCREMENT; a replaced asset gets a new key), so rows
above the cached maximum are new and cached keys that are gone were deleted.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np


def dot(matrix: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Cosine scores of unit rows. einsum, not `@`: `@` goes to multi-threaded BLAS, whose
    threads spin against each other and against concurrent requests on a busy machine (measured
    3-6x slower wall time on 2 shared cores); einsum's single-threaded SIMD loop costs the same
    CPU and no contention."""
    return np.einsum("ij,j->i", matrix, query)


@dataclass
class Snapshot:
    """All vectors of one write generation, rows sorted by key."""

    generation: int
    rowids: np.ndarray  # int64, ascending
    matrix: np.ndarray  # float32, one unit-length row per rowid
    group_masks: dict[str, np.ndarray] = field(default_factory=dict)

    def mask_of(self, rowids: Iterable[int]) -> np.ndarray:
        """Boolean row mask for the given keys (all of them must be in the snapshot)."""
        mask = np.zeros(len(self.rowids), dtype=bool)
        wanted = np.fromiter(rowids, dtype=np.int64)
        mask[np.searchsorted(self.rowids, wanted)] = True
        return mask

    def group_mask(self, conn: sqlite3.Connection, groups: Iterable[str]) -> np.ndarray:
        """Rows visible to members of `groups` (per-group masks are cached per snapshot)."""
        mask = np.zeros(len(self.rowids), dtype=bool)
        for group in groups:
            cached = self.group_masks.get(group)
            if cached is None:
                rows = conn.execute("SELECT asset FROM asset_groups WHERE grp = ?", (group,))
                cached = self.mask_of(r for (r,) in rows)
                self.group_masks[group] = cached
            mask |= cached
        return mask

    def top(
        self, query: np.ndarray, mask: np.ndarray | None, depth: int
    ) -> list[tuple[int, float]]:
        """(key, cosine) of the `depth` best rows among `mask` (all rows if None), best first;
        equal scores by key."""
        if mask is None:
            positions = None
            scores = dot(self.matrix, query)
        else:
            positions = np.flatnonzero(mask)
            if not len(positions):
                return []
            # Scoring every row and then selecting is cheaper than gathering a large subset.
            if len(positions) * 4 > len(mask):
                scores = dot(self.matrix, query)[positions]
            else:
                scores = dot(self.matrix[positions], query)
        n = min(depth, len(scores))
        if n <= 0:
            return []
        top = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
        top = top[np.lexsort((top, -scores[top]))]  # by score, then by position (= by key)
        chosen = top if positions is None else positions[top]
        return [(int(self.rowids[i]), float(s)) for i, s in zip(chosen, scores[top], strict=True)]


class VectorCache:
    """The current Snapshot, refreshed from the `bodies` table when the generation moved."""

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self._snapshot: Snapshot | None = None

    def clear(self) -> None:
        self._snapshot = None

    def current(self, conn: sqlite3.Connection) -> Snapshot:
        """The snapshot matching the read transaction `conn` is in."""
        (generation,) = conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        generation = int(generation)
        cached = self._snapshot
        if cached is not None and cached.generation == generation:
            return cached
        last = int(cached.rowids[-1]) if cached is not None and len(cached.rowids) else 0
        new_rowids, new_matrix = self._read(conn, last if cached is not None else -1)
        if cached is None:
            rowids, matrix = new_rowids, new_matrix.copy()  # frombuffer is read-only
        else:
            rows = conn.execute("SELECT pk FROM bodies WHERE pk <= ?", (last,))
            present = np.fromiter((r for (r,) in rows), dtype=np.int64)
            keep = np.isin(cached.rowids, present, assume_unique=True)
            rowids = np.concatenate([cached.rowids[keep], new_rowids])
            matrix = np.concatenate([cached.matrix[keep], new_matrix])
        self._snapshot = Snapshot(generation, rowids, matrix)
        return self._snapshot

    def _read(self, conn: sqlite3.Connection, after: int) -> tuple[np.ndarray, np.ndarray]:
        rowids, blobs = [], []
        for rowid, blob in conn.execute(
            "SELECT pk, vector FROM bodies WHERE pk > ? ORDER BY pk", (after,)
        ):
            rowids.append(rowid)
            blobs.append(blob)
        matrix = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(
            len(blobs), self.dimension
        )
        return np.asarray(rowids, dtype=np.int64), matrix
