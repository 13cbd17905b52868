"""The store contract. Implementations match it by structure (embedded.py, opensearch.py) and
prove it by passing tests/store_conformance.py.

Rules every implementation keeps:
- Permissions are evaluated inside the store's own query, never after a top-k cut: counts,
  facets, `match` and ranked search only ever see assets `access` may see.
- Filters follow labsearch/filters.py; they, too, apply before ranking, so a filtered search
  returns every match even when thousands of better-scoring assets fail the filter.
- `upsert` replaces a whole asset by id (idempotent); `delete` of unknown ids is not an error.
- `set_groups` changes who may see stored assets without their vectors (an access-rule change
  needs no embedding); every visibility check sees the new groups when it returns.
- The store records the embedding model and dimension it was created with; opening it with
  another model raises ModelMismatchError.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from labsearch.access import Access
from labsearch.schema import Asset

if TYPE_CHECKING:
    from labsearch.settings import Settings


class SearchMode(StrEnum):
    HYBRID = "hybrid"
    BM25 = "bm25"
    DENSE = "dense"


@dataclass(frozen=True)
class IndexedAsset:
    """What the indexer hands a store: the asset, its embedding and its content hash."""

    asset: Asset
    vector: Sequence[float]
    content_hash: str


@dataclass(frozen=True)
class StoredAsset:
    """An asset as the store holds it, with the content hash it was written with."""

    asset: Asset
    content_hash: str


@dataclass(frozen=True)
class GroupsUpdate:
    """New groups for one stored asset, and its content hash with those groups (so the next
    index run sees the asset as unchanged). Nothing else about the asset changes."""

    asset_id: str
    groups: Sequence[str]
    content_hash: str


@dataclass(frozen=True)
class FusionSettings:
    """How BM25 and vector rankings are fused: `method` is "rrf" (weighted reciprocal-rank
    fusion), "convex" (weighted sum of min-max normalised scores) or "zscore" (weighted sum of
    z-scores); the math is in labsearch/stores/fusion.py, shared by every store."""

    bm25_weight: float = 1.0
    dense_weight: float = 1.0
    rrf_k: int = 60
    candidates: int = 100  # taken from each side before fusion
    method: str = "rrf"

    @classmethod
    def from_settings(cls, settings: Settings) -> FusionSettings:
        """The fusion `settings` configure (what the search service uses)."""
        return cls(
            bm25_weight=settings.bm25_weight,
            dense_weight=settings.dense_weight,
            rrf_k=settings.rrf_k,
            candidates=settings.candidates,
            method=settings.fusion_method,
        )


@dataclass(frozen=True)
class SearchRequest:
    text: str = ""
    vector: Sequence[float] | None = None
    filters: dict[str, Any] | None = None
    k: int = 10
    offset: int = 0
    mode: SearchMode = SearchMode.HYBRID
    fusion: FusionSettings = field(default_factory=FusionSettings)
    highlight: bool = True


@dataclass
class ScoredAsset:
    asset: Asset
    score: float
    highlights: list[str] = field(default_factory=list)
    bm25_rank: int | None = None
    dense_rank: int | None = None


@dataclass
class MatchResult:
    """Every visible asset satisfying the filter: complete, not a top-k guess."""

    assets: list[Asset]
    count: int


@dataclass(frozen=True)
class IndexInfo:
    model: str
    dimension: int
    count: int
    backend: str


@runtime_checkable
class AssetStore(Protocol):
    def info(self) -> IndexInfo:
        """Model, dimension and number of assets in the index."""
        ...

    def upsert(self, items: Sequence[IndexedAsset]) -> None:
        """Insert or replace assets by id, atomically per call (all or nothing)."""
        ...

    def delete(self, ids: Sequence[str]) -> int:
        """Delete assets by id; returns how many existed."""
        ...

    def get(self, asset_id: str, access: Access) -> Asset | None:
        """The asset, or None if it is missing or `access` may not see it (indistinguishable)."""
        ...

    def get_many(self, asset_ids: Sequence[str], access: Access) -> list[Asset]:
        """The visible assets among `asset_ids`, in the order asked for."""
        ...

    def hashes_by_source(self, source: str) -> dict[str, str]:
        """Asset id -> content hash for every asset a source produced (operator view)."""
        ...

    def iter_assets(self, batch_size: int = 500) -> Iterator[list[StoredAsset]]:
        """Every stored asset with its content hash (operator view), in id order, at most
        `batch_size` per list: memory stays bounded however big the index is. Each batch is
        read when the previous one was consumed, so writes in between may be seen."""
        ...

    def set_groups(self, updates: Sequence[GroupsUpdate]) -> int:
        """Replace the groups and content hash of stored assets, keeping vector, text and every
        other field; returns how many assets were changed. Unknown ids are ignored (the last of
        duplicate ids wins). Atomic per call where the backend has transactions (embedded);
        elsewhere each asset is rewritten whole, so repeating a failed call converges."""
        ...

    def search(self, request: SearchRequest, access: Access) -> list[ScoredAsset]:
        """Ranked search: BM25, dense or hybrid (fused), filtered and permission-checked."""
        ...

    def match(
        self, filters: dict[str, Any] | None, access: Access, limit: int | None = None
    ) -> MatchResult:
        """Every visible asset matching `filters` (count is exact even when `limit` cuts)."""
        ...

    def facets(
        self,
        fields: Sequence[str],
        access: Access,
        filters: dict[str, Any] | None = None,
        text: str = "",
        size: int = 20,
    ) -> dict[str, dict[str, int]]:
        """Value counts per field over visible assets matching filters (and text, if given)."""
        ...

    def values(
        self, field: str, access: Access, filters: dict[str, Any] | None = None
    ) -> dict[str, int]:
        """Every distinct value of `field` over visible assets matching `filters`, with how many
        assets carry it: a value dictionary, never cut to a top N (question understanding
        recognises instrument or species names against it)."""
        ...

    def close(self) -> None: ...
