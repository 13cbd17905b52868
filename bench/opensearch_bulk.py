"""Bulk loading into OpenSearch: a rebuild (`labsearch index --rebuild`) and incremental upserts.

    scripts/opensearch-node start
    .venv/bin/python bench/opensearch_bulk.py --assets 100000
    .venv/bin/python bench/opensearch_bulk.py --assets 10000 --modes rebuild incremental

rebuild: the store opened with recreate=True on an existing alias, every asset upserted in
batches of --batch, then finish_rebuild() (refresh, settings restored, alias swapped): the time
until the new index answers searches. incremental: upserts into the live index, each call
searchable when it returns (and atomic: the stored versions are read first). Vectors are given
(bench/store_latency.py's seeded corpus), so embedding is not part of the figure.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from store_latency import DIM, MODEL, corpus, to_indexed  # noqa: E402

from labsearch.settings import Settings  # noqa: E402
from labsearch.stores.opensearch import OpenSearchStore  # noqa: E402


def load(store: OpenSearchStore, n: int, batch: int) -> float:
    """Seconds spent in upsert calls (building the batches is not counted)."""
    spent = 0.0
    for chunk in corpus(n, batch=batch):
        items = [to_indexed(record, vector) for record, vector in chunk]
        started = time.perf_counter()
        store.upsert(items)
        spent += time.perf_counter() - started
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500, help="assets per upsert call")
    parser.add_argument("--modes", nargs="+", default=["rebuild", "incremental"])
    parser.add_argument(
        "--url", default=os.environ.get("LABSEARCH_OPENSEARCH_URL", "http://127.0.0.1:9200")
    )
    args = parser.parse_args()
    alias = f"labsearch-bulk-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        backend="opensearch",
        model=MODEL,
        opensearch_url=args.url,
        opensearch_index=alias,
        index_batch_size=args.batch,
    )
    try:
        OpenSearchStore.open(settings, DIM).close()  # the live index a rebuild replaces
        print(
            f"{args.assets:,} assets x {DIM}, batches of {args.batch}, "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )
        for mode in args.modes:
            store = OpenSearchStore.open(settings, DIM, recreate=(mode == "rebuild"))
            try:
                in_upserts = load(store, args.assets, args.batch)
                started = time.perf_counter()
                store.finish_rebuild()
                total = in_upserts + time.perf_counter() - started
                count = store.info().count
            finally:
                store.close()
            print(
                f"{mode:>11}: {args.assets / total:,.0f} assets/s ({total:.1f} s until "
                f"searchable, {in_upserts:.1f} s of it in upsert calls), {count:,} in the index"
            )
    finally:
        requests.delete(f"{args.url}/{alias}-v*", params={"expand_wildcards": "all"}, timeout=60)


if __name__ == "__main__":
    main()
