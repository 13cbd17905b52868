"""Bulk loading into OpenSearch: a rebuild (`labsearch index --rebuild`) and incremental upserts;
then, on the rebuilt index, hybrid latency and dense recall@10 against exact search.

    scripts/opensearch-node start
    .venv/bin/python bench/opensearch_bulk.py --assets 100000
    .venv/bin/python bench/opensearch_bulk.py --assets 1000000 --modes rebuild --search 300
    .venv/bin/python bench/opensearch_bulk.py --assets 100000 --ef-construction 64 --recall 100

rebuild: the store opened with recreate=True on an existing alias, every asset upserted in
batches of --batch (sent in the background, --workers requests at a time), then
finish_rebuild() (refresh, settings restored, alias swapped): the time until the new index
answers searches. incremental: upserts into the live index, each call searchable when it returns
(and atomic: the stored versions are read first). Vectors are given, so embedding is not part of
the figure; building the synthetic records is not counted either.

--corpus scifact (default) is bench/scale.py's SciFact-derived corpus: real abstract text and
vectors clustered like real embeddings, SciFact's own queries with their real embeddings (cached;
the first run embeds SciFact once). --corpus synthetic is bench/store_latency.py's random one
(random vectors, the figures of earlier runs).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import scale  # noqa: E402
import store_latency  # noqa: E402

from labsearch.access import Access  # noqa: E402
from labsearch.settings import Settings  # noqa: E402
from labsearch.stores import opensearch_mapping  # noqa: E402
from labsearch.stores.opensearch import OpenSearchStore  # noqa: E402
from labsearch.stores.protocol import (  # noqa: E402
    FusionSettings,
    IndexedAsset,
    SearchMode,
    SearchRequest,
)

EVERYONE = Access.as_operator()


class Corpus:
    """Batches of IndexedAsset, and (scifact) queries with their vectors."""

    def __init__(self, kind: str, settings: Settings) -> None:
        self.kind = kind
        self.base: dict[str, Any] | None = None
        if kind == "scifact":
            self.base = scale.base_corpus(settings)
            self.dimension = int(self.base["doc_vectors"].shape[1])
            self.model = settings.model
        else:
            self.dimension, self.model = store_latency.DIM, store_latency.MODEL

    def batches(self, n: int, size: int) -> Iterator[list[IndexedAsset]]:
        if self.base is not None:
            yield from scale.batches(self.base, n, size)
            return
        for chunk in store_latency.corpus(n, batch=size):
            yield [store_latency.to_indexed(record, vector) for record, vector in chunk]

    def vectors(self, n: int, size: int) -> np.ndarray:
        """Every asset's vector in id order (for exact search), as the batches give them."""
        return np.concatenate(
            [
                np.asarray([item.vector for item in batch], np.float32)
                for batch in self.batches(n, size)
            ]
        )


def load(store: OpenSearchStore, corpus: Corpus, n: int, batch: int) -> tuple[float, float]:
    """Seconds and CPU seconds of this process spent in upsert calls."""
    spent = cpu = 0.0
    for items in corpus.batches(n, batch):
        started, began_cpu = time.perf_counter(), time.process_time()
        store.upsert(items)
        spent += time.perf_counter() - started
        cpu += time.process_time() - began_cpu
    return spent, cpu


def hybrid_latency(store: OpenSearchStore, corpus: Corpus, count: int) -> dict[str, float]:
    """Store latency of hybrid search with the shipped fusion settings (SciFact queries)."""
    assert corpus.base is not None
    texts, vectors = corpus.base["queries"], corpus.base["query_vectors"]
    fusion = FusionSettings.from_settings(Settings())
    samples = []
    for i in range(count + 1):
        j = i % len(texts)
        request = SearchRequest(text=str(texts[j]), vector=vectors[j], k=10, fusion=fusion)
        started = time.perf_counter()
        store.search(request, EVERYONE)
        if i:  # the first query warms the node's caches
            samples.append((time.perf_counter() - started) * 1000)
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1),
    }


def dense_recall(store: OpenSearchStore, corpus: Corpus, n: int, batch: int, count: int) -> float:
    """recall@10 of the store's dense search (k=10; HNSW explores the fusion pool of 100, as in
    hybrid search) against exact cosine search over the same vectors."""
    assert corpus.base is not None
    everything = corpus.vectors(n, batch)
    everything /= np.linalg.norm(everything, axis=1, keepdims=True)
    found = []
    for query in corpus.base["query_vectors"][:count]:
        exact = {f"scale:{i:07d}" for i in np.argsort(-(everything @ query))[:10]}
        request = SearchRequest(vector=query, mode=SearchMode.DENSE, k=10)
        approx = {hit.asset.id for hit in store.search(request, EVERYONE)}
        found.append(len(approx & exact) / 10)
    return round(float(np.mean(found)), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000, help="assets per upsert call")
    parser.add_argument("--modes", nargs="+", default=["rebuild", "incremental"])
    parser.add_argument("--corpus", choices=["scifact", "synthetic"], default="scifact")
    parser.add_argument("--workers", type=int, default=None, help="bulk requests in flight")
    parser.add_argument("--m", type=int, default=None, help="HNSW m (default: the mapping's)")
    parser.add_argument("--ef-construction", type=int, default=None, help="HNSW ef_construction")
    parser.add_argument("--search", type=int, default=0, help="hybrid queries timed after")
    parser.add_argument("--recall", type=int, default=0, help="queries for dense recall@10")
    parser.add_argument(
        "--url", default=os.environ.get("LABSEARCH_OPENSEARCH_URL", "http://127.0.0.1:9200")
    )
    args = parser.parse_args()
    if args.m:
        opensearch_mapping.HNSW_PARAMETERS["m"] = args.m
    if args.ef_construction:
        opensearch_mapping.HNSW_PARAMETERS["ef_construction"] = args.ef_construction
    alias = f"labsearch-bulk-{uuid.uuid4().hex[:8]}"
    corpus = Corpus(args.corpus, Settings())
    settings = Settings(
        backend="opensearch",
        model=corpus.model,
        opensearch_url=args.url,
        opensearch_index=alias,
        index_batch_size=args.batch,
    )
    options = {} if args.workers is None else {"bulk_workers": args.workers}
    try:
        OpenSearchStore.open(settings, corpus.dimension).close()  # the index a rebuild replaces
        print(
            f"{args.assets:,} assets x {corpus.dimension} ({args.corpus}), batches of "
            f"{args.batch}, HNSW {opensearch_mapping.HNSW_PARAMETERS}, workers "
            f"{args.workers or 'default'}; load average {os.getloadavg()[0]:.1f} on "
            f"{os.cpu_count()} CPUs",
            flush=True,
        )
        for mode in args.modes:
            store = OpenSearchStore.open(settings, corpus.dimension, recreate=(mode == "rebuild"))
            for name, value in options.items():
                setattr(store, name, value)
            try:
                in_upserts, cpu = load(store, corpus, args.assets, args.batch)
                started = time.perf_counter()
                store.finish_rebuild()
                total = in_upserts + time.perf_counter() - started
                count = store.info().count
            finally:
                store.close()
            print(
                f"{mode:>11}: {args.assets / total:,.0f} assets/s ({total:.1f} s until "
                f"searchable, {in_upserts:.1f} s of it in upsert calls, {cpu:.1f} CPU s in this "
                f"process), {count:,} in the index; load average {os.getloadavg()[0]:.1f}",
                flush=True,
            )
        if args.search or args.recall:
            with OpenSearchStore.open(settings, corpus.dimension) as store:
                if args.search:
                    figures = hybrid_latency(store, corpus, args.search)
                    print(f"     hybrid: {figures} over {args.search} queries", flush=True)
                if args.recall:
                    value = dense_recall(store, corpus, args.assets, args.batch, args.recall)
                    print(f"  recall@10: {value} (dense, {args.recall} queries)", flush=True)
    finally:
        requests.delete(f"{args.url}/{alias}-v*", params={"expand_wildcards": "all"}, timeout=60)


if __name__ == "__main__":
    main()
