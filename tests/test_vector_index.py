"""The embedded store's vector index once it is clustered (approximate search): filters and
permissions still return every match, the planner falls back to an exact scan when few rows are
allowed, and the saved index is reused by the next process and never mistaken for another's.

The clustering threshold is lowered so a few thousand rows stand in for a million: what matters
is the share of rows a caller may see and a filter selects, not the absolute count.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from store_conformance import MODEL, make_asset

from labsearch.access import Access
from labsearch.stores import vectors
from labsearch.stores.embedded import EmbeddedStore
from labsearch.stores.protocol import IndexedAsset, SearchMode, SearchRequest

DIM = 16
ROWS = 3000
EVERYONE = Access.for_groups(["everyone"], user="all")
RARE = Access.for_groups(["rare"], user="rare-member")  # sees 1 row in 50


@pytest.fixture(autouse=True)
def clusters_from_a_thousand_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vectors, "MIN_ROWS_FOR_CLUSTERS", 1000)
    monkeypatch.setattr(vectors, "BASE_NPROBE", 4)  # of 54 clusters: approximate at 100%


def clustered_vectors(count: int, seed: int = 0) -> np.ndarray:
    """Unit vectors around 40 centres, like embeddings of documents on a few dozen topics."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(40, DIM))
    points = centres[rng.integers(0, 40, count)] + 0.3 * rng.normal(size=(count, DIM))
    return points / np.linalg.norm(points, axis=1, keepdims=True)


def item(i: int, vector: np.ndarray, **metadata: object) -> IndexedAsset:
    groups = ["everyone"] + (["rare"] if i % 50 == 0 else [])
    asset = make_asset(f"row-{i:05d}", groups=groups, metadata={"bucket": i % 1000, **metadata})
    return IndexedAsset(asset=asset, vector=vector.tolist(), content_hash=asset.content_hash(MODEL))


@pytest.fixture
def index_dir(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "index"
    points = clustered_vectors(ROWS)
    with EmbeddedStore.open(directory, MODEL, DIM) as store:
        for start in range(0, ROWS, 500):
            store.upsert([item(i, points[i]) for i in range(start, min(ROWS, start + 500))])
    yield directory


def dense(store: EmbeddedStore, query: np.ndarray, access: Access, **request: object) -> list[str]:
    search = SearchRequest(vector=query.tolist(), mode=SearchMode.DENSE, **request)
    return [hit.asset.id for hit in store.search(search, access)]


def exact_order(query: np.ndarray, allowed: list[int], k: int) -> list[str]:
    points = clustered_vectors(ROWS)
    scores = points[allowed] @ (query / np.linalg.norm(query))
    best = sorted(zip(-scores, allowed, strict=True))[:k]
    return [f"row-{i:05d}" for _, i in best]


def test_the_index_is_clustered_and_finds_the_exact_neighbours_of_a_stored_vector(
    index_dir: Path,
) -> None:
    points = clustered_vectors(ROWS)
    with EmbeddedStore.open(index_dir, MODEL, DIM) as store:
        found = dense(store, points[1234], EVERYONE, k=1)
        cache = store._vectors  # noqa: SLF001 - the approximate path is under test
        assert 1 < cache.plan(ROWS) < cache.nlist
        assert found == ["row-01234"]
        hits = [dense(store, points[i], EVERYONE, k=10) for i in range(0, ROWS, 97)]
        truths = [exact_order(points[i], list(range(ROWS)), 10) for i in range(0, ROWS, 97)]
    recall = np.mean([len(set(h) & set(t)) / 10 for h, t in zip(hits, truths, strict=True)])
    assert recall >= 0.9


def test_a_selective_filter_returns_every_match_beyond_k_even_the_worst_scoring(
    index_dir: Path,
) -> None:
    """Three rows in 3,000 pass the filter, all far from the query: an approximate search over
    the nearest clusters would find none of them; the planner scans exactly and finds all."""
    points = clustered_vectors(ROWS)
    query = points[0]
    worst = [int(i) for i in np.argsort(points @ query)[:3]]
    with EmbeddedStore.open(index_dir, MODEL, DIM) as store:
        store.upsert([item(i, points[i], tag="needle") for i in worst])
        found = dense(store, query, EVERYONE, k=10, filters={"tag": "needle"})
        hybrid = SearchRequest(text="asset", vector=query.tolist(), filters={"tag": "needle"}, k=10)
        hybrid_found = {hit.asset.id for hit in store.search(hybrid, EVERYONE)}
    assert sorted(found) == sorted(f"row-{i:05d}" for i in worst)
    assert hybrid_found == set(found)


def test_a_caller_who_sees_few_rows_gets_the_exact_neighbours_among_them(index_dir: Path) -> None:
    points = clustered_vectors(ROWS)
    visible = list(range(0, ROWS, 50))
    with EmbeddedStore.open(index_dir, MODEL, DIM) as store:
        for i in (7, 777, 2222):
            assert dense(store, points[i], RARE, k=5) == exact_order(points[i], visible, 5)
        everything = dense(store, points[7], RARE, k=ROWS)
    assert sorted(everything) == sorted(f"row-{i:05d}" for i in visible)


def test_the_next_process_loads_the_saved_index_and_catches_up_with_later_writes(
    index_dir: Path,
) -> None:
    points = clustered_vectors(ROWS)
    with EmbeddedStore.open(index_dir, MODEL, DIM) as first:
        assert dense(first, points[5], EVERYONE, k=1) == ["row-00005"]
        saved = Path(f"{first.path}.vectors")
    assert saved.exists()
    with EmbeddedStore.open(index_dir, MODEL, DIM) as writer:
        writer.delete(["row-00005"])
        replacement = make_asset("new-row", groups=["everyone"])
        vector = points[5].tolist()
        writer.upsert([IndexedAsset(replacement, vector, replacement.content_hash(MODEL))])
    with EmbeddedStore.open(index_dir, MODEL, DIM) as second:
        assert dense(second, points[5], EVERYONE, k=1) == ["new-row"]
        assert "row-00005" not in dense(second, points[5], EVERYONE, k=ROWS)
        assert second._vectors.loaded_from_scratch is False  # noqa: SLF001 - loaded, not rebuilt


def test_a_saved_index_of_another_database_is_never_used(index_dir: Path, tmp_path: Path) -> None:
    points = clustered_vectors(ROWS)
    with EmbeddedStore.open(index_dir, MODEL, DIM) as store:
        dense(store, points[0], EVERYONE, k=1)
        saved = Path(f"{store.path}.vectors")
    other_dir = tmp_path / "other"
    shifted = clustered_vectors(ROWS, seed=1)
    with EmbeddedStore.open(other_dir, MODEL, DIM) as other:
        other.upsert([item(i, shifted[i]) for i in range(ROWS)])
        shutil.copy(saved, f"{other.path}.vectors")  # e.g. a restored backup of another index
        assert dense(other, shifted[42], EVERYONE, k=1) == ["row-00042"]


def test_a_rebuild_brings_its_own_vector_index_and_drops_the_old_one(index_dir: Path) -> None:
    points = clustered_vectors(ROWS)
    with EmbeddedStore.open(index_dir, MODEL, DIM) as store:
        dense(store, points[0], EVERYONE, k=1)
        old = Path(f"{store.path}.vectors")
    assert old.exists()
    rebuilt = EmbeddedStore.open(index_dir, MODEL, DIM, recreate=True)
    rebuilt.upsert([item(i, points[ROWS - 1 - i]) for i in range(ROWS)])  # reversed
    rebuilt.finish_rebuild()
    rebuilt.close()
    assert not old.exists()
    with EmbeddedStore.open(index_dir, MODEL, DIM) as store:
        assert dense(store, points[0], EVERYONE, k=1) == [f"row-{ROWS - 1:05d}"]
        assert Path(f"{store.path}.vectors").exists()


def test_a_repeated_filter_sees_rows_written_since_by_another_process(index_dir: Path) -> None:
    points = clustered_vectors(ROWS)
    tagged = {"tag": "batch-7"}
    with EmbeddedStore.open(index_dir, MODEL, DIM) as server:
        assert dense(server, points[0], EVERYONE, k=10, filters=tagged) == []
        with EmbeddedStore.open(index_dir, MODEL, DIM) as indexer:
            indexer.upsert([item(i, points[i], tag="batch-7") for i in (11, 12)])
        assert sorted(dense(server, points[0], EVERYONE, k=10, filters=tagged)) == [
            "row-00011",
            "row-00012",
        ]
        with EmbeddedStore.open(index_dir, MODEL, DIM) as indexer:
            indexer.delete(["row-00011"])
        assert dense(server, points[0], EVERYONE, k=10, filters=tagged) == ["row-00012"]
