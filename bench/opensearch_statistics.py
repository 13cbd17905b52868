"""What OpenSearch's BM25 statistics reveal to a caller, and what closing it would cost.

    scripts/opensearch-node start
    .venv/bin/python bench/opensearch_statistics.py [--url URL] [--queries 200]

Part 1, the store as shipped (one index, permissions as a filter): bob (lab B) searches words
his own assets hold; then lab A adds documents that share those words, and bob searches again.
Lucene computes document frequencies over every document of the shard, so bob's scores (and
possibly his order) move although nothing he may see changed: a caller can learn that other
groups hold a word, and roughly how often. The embedded store computes BM25 over the caller's
rows instead (labsearch/stores/sparse.py; tests/test_store_embedded.py).

Part 2, what closing it would cost: one index per visibility class (a distinct group set), a
caller's search going to the indices of its classes with `dfs_query_then_fetch`, which makes
the shards gather term statistics first so they cover exactly the indices searched. Measured:
bob's scores with lab A's index outside his search (unchanged by construction), and the
latency of a lexical search over 1 index against the same documents split over 8 class indices,
with and without the DFS round trip.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labsearch.access import Access  # noqa: E402
from labsearch.schema import Asset, Provenance  # noqa: E402
from labsearch.settings import Settings  # noqa: E402
from labsearch.stores.opensearch import OpenSearchStore  # noqa: E402
from labsearch.stores.protocol import IndexedAsset, SearchMode, SearchRequest  # noqa: E402

DIM = 8
BOB = Access.for_groups(["lab-b"], user="bob")
BOB_TEXTS = ["liver rna extraction", "liver biopsy", "kidney rna", "rna quality liver liver"]
QUESTION = "liver rna"
WORDS = [
    "liver",
    "kidney",
    "rna",
    "biopsy",
    "extraction",
    "quality",
    "sample",
    "run",
    "lane",
    "flow",
    "cell",
    "library",
]


def item(asset_id: str, text: str, group: str, seed: int) -> IndexedAsset:
    vector = np.random.default_rng(seed).normal(size=DIM)
    asset = Asset(
        id=asset_id,
        source="bench://statistics",
        kind="file",
        title=asset_id,
        text=text,
        provenance=Provenance(source="bench://statistics"),
        groups=[group],
    )
    return IndexedAsset(asset, (vector / np.linalg.norm(vector)).tolist(), asset_id)


def bobs_ranking(store: OpenSearchStore) -> list[tuple[str, float]]:
    request = SearchRequest(text=QUESTION, mode=SearchMode.BM25, k=10, highlight=False)
    return [(hit.asset.id, round(hit.score, 4)) for hit in store.search(request, BOB)]


def open_store(url: str, name: str) -> OpenSearchStore:
    settings = Settings(backend="opensearch", opensearch_url=url, opensearch_index=name)
    return OpenSearchStore.open(settings, DIM)


def part_one(url: str) -> None:
    store = open_store(url, f"bench-stats-{uuid.uuid4().hex[:8]}")
    try:
        store.upsert([item(f"b-{i}", t, "lab-b", i) for i, t in enumerate(BOB_TEXTS)])
        before = bobs_ranking(store)
        store.upsert(
            [item(f"a-{i}", f"liver liver rna sample {i}", "lab-a", 100 + i) for i in range(40)]
        )
        after = bobs_ranking(store)
    finally:
        store.client.indices.delete(index=f"{store.alias}*", ignore_unavailable=True)
        store.client.close()
    print("Part 1: one index as shipped; bob's BM25 results for", repr(QUESTION))
    print(f"  {'asset':8} {'before':>9} {'after lab A adds 40 docs':>26}")
    scores_after = dict(after)
    for asset_id, score in before:
        print(f"  {asset_id:8} {score:9.4f} {scores_after.get(asset_id, float('nan')):26.4f}")
    same_ids = {a for a, _ in before} == {a for a, _ in after}
    order_changed = [a for a, _ in before] != [a for a, _ in after]
    print(f"  same assets: {same_ids}; order changed: {order_changed}")


def part_two(url: str, queries: int) -> None:
    rng = np.random.default_rng(7)
    documents = [" ".join(rng.choice(WORDS, size=12)) for _ in range(8000)]
    prefix = f"bench-stats-{uuid.uuid4().hex[:8]}"
    store = open_store(url, f"{prefix}-probe")  # only for its client
    client = store.client
    single, classes = f"{prefix}-one", [f"{prefix}-class-{c}" for c in range(8)]
    try:
        for name in [single, *classes]:
            client.indices.create(
                index=name,
                body={
                    "settings": {"number_of_shards": 1, "number_of_replicas": 0},
                    "mappings": {"properties": {"text": {"type": "text"}}},
                },
            )
        for start in range(0, len(documents), 1000):
            lines = []
            for i, text in enumerate(documents[start : start + 1000], start):
                for name in (single, classes[i % len(classes)]):
                    lines += [{"index": {"_index": name, "_id": str(i)}}, {"text": text}]
            client.bulk(body=lines)
        client.indices.refresh(index=f"{prefix}-*")
        body = {"size": 10, "query": {"match": {"text": QUESTION}}}
        cases = {
            "1 index, query_then_fetch": (single, None),
            "8 class indices, query_then_fetch": (",".join(classes), None),
            "8 class indices, dfs_query_then_fetch": (",".join(classes), "dfs_query_then_fetch"),
            "2 of 8 class indices, dfs_query_then_fetch": (
                ",".join(classes[:2]),
                "dfs_query_then_fetch",
            ),
        }
        print(f"\nPart 2: lexical search latency, {len(documents)} documents, {queries} queries")
        print(f"  {'case':45} {'p50 ms':>8} {'p95 ms':>8}")
        for label, (index, search_type) in cases.items():
            timings = []
            for _ in range(queries):
                params = {"search_type": search_type} if search_type else {}
                started = time.perf_counter()
                client.search(index=index, body=body, params=params)
                timings.append((time.perf_counter() - started) * 1000)
            p95 = statistics.quantiles(timings, n=20)[-1]
            print(f"  {label:45} {statistics.median(timings):8.2f} {p95:8.2f}")
    finally:
        client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True)
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_url = os.environ.get("LABSEARCH_OPENSEARCH_URL", "http://127.0.0.1:9200")
    parser.add_argument("--url", default=default_url, help="OpenSearch URL")
    parser.add_argument("--queries", type=int, default=200, help="queries per latency case")
    args = parser.parse_args()
    part_one(args.url)
    part_two(args.url, args.queries)
    print(f"\nload average at the end: {[round(x, 1) for x in os.getloadavg()]}")


if __name__ == "__main__":
    main()
