"""The same synthetic corpus into the embedded store and OpenSearch, in one run: bulk indexing
throughput and search latency p50/p95 for both, as a lab member (permission filter on) sees them.

    scripts/opensearch-node start
    .venv/bin/python bench/opensearch_vs_embedded.py --assets 10000
    .venv/bin/python bench/opensearch_vs_embedded.py --assets 10000 --json

The corpus and queries are bench/store_latency.py's (seeded: 384-dim random unit vectors,
Zipf-distributed text, identifiers, metadata). OpenSearch is reached at --url (default
LABSEARCH_OPENSEARCH_URL or http://127.0.0.1:9200); the benchmark's index is deleted afterwards.
Both stores get the same batches (--batch assets per upsert call, each call returning only when
its data is searchable).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from store_latency import DIM, MODEL, corpus, percentiles, query_cases, timed, to_indexed  # noqa: E402

from labsearch.settings import Settings  # noqa: E402
from labsearch.stores.embedded import EmbeddedStore  # noqa: E402
from labsearch.stores.opensearch import OpenSearchStore  # noqa: E402
from labsearch.stores.protocol import AssetStore  # noqa: E402


def ingest(store: AssetStore, n: int, batch: int) -> float:
    """Seconds to upsert n assets in batches of `batch` (embedding excluded: vectors are given)."""
    elapsed = 0.0
    for chunk in corpus(n, batch=batch):
        items = [to_indexed(record, vector) for record, vector in chunk]
        start = time.perf_counter()
        store.upsert(items)
        elapsed += time.perf_counter() - start
    return elapsed


def latencies(store: AssetStore, repeat: int) -> dict[str, dict[str, float]]:
    cases = query_cases(store)
    return {name: percentiles(timed(fn, repeat)) for name, fn in cases.items()}


def run(n: int, batch: int, repeat: int, url: str) -> dict[str, Any]:
    report: dict[str, Any] = {
        "assets": n,
        "dimension": DIM,
        "batch": batch,
        "repeat": repeat,
        "load_average_at_start": os.getloadavg()[0],
        "cpus": os.cpu_count(),
    }
    with tempfile.TemporaryDirectory(prefix="labsearch-bench-") as tmp:
        embedded = EmbeddedStore.open(Path(tmp), MODEL, DIM)
        seconds = ingest(embedded, n, batch)
        report["embedded"] = {
            "ingest_seconds": round(seconds, 1),
            "ingest_per_second": round(n / seconds),
            "latency": latencies(embedded, repeat),
        }
        embedded.close()

    alias = f"labsearch-bench-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        backend="opensearch", model=MODEL, opensearch_url=url, opensearch_index=alias
    )
    store = OpenSearchStore.open(settings, DIM)
    try:
        seconds = ingest(store, n, batch)
        # Merge segments as a settled production index would be before measuring searches.
        requests.post(f"{url}/{alias}/_forcemerge", params={"max_num_segments": 1}, timeout=600)
        report["opensearch"] = {
            "ingest_seconds": round(seconds, 1),
            "ingest_per_second": round(n / seconds),
            "latency": latencies(store, repeat),
        }
    finally:
        store.close()
        requests.delete(f"{url}/{alias}-v*", timeout=60)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=10_000, help="number of synthetic assets")
    parser.add_argument("--batch", type=int, default=500, help="assets per upsert call")
    parser.add_argument("--repeat", type=int, default=100, help="timed runs per operation")
    parser.add_argument(
        "--url",
        default=os.environ.get("LABSEARCH_OPENSEARCH_URL", "http://127.0.0.1:9200"),
        help="OpenSearch node (scripts/opensearch-node start)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    report = run(args.assets, args.batch, args.repeat, args.url)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    emb, ops = report["embedded"], report["opensearch"]
    print(
        f"{report['assets']:,} assets x {DIM} dims, batches of {report['batch']}, "
        f"{report['repeat']} runs per operation, load average {report['load_average_at_start']:.1f}"
        f" on {report['cpus']} CPUs"
    )
    print(
        f"ingest: embedded {emb['ingest_per_second']}/s ({emb['ingest_seconds']} s), "
        f"OpenSearch {ops['ingest_per_second']}/s ({ops['ingest_seconds']} s)"
    )
    print(f"{'operation':34} {'embedded p50/p95 ms':>22} {'OpenSearch p50/p95 ms':>24}")
    for name in emb["latency"]:
        e, o = emb["latency"][name], ops["latency"][name]
        print(
            f"{name:34} {e['p50_ms']:>10.1f} /{e['p95_ms']:>9.1f} "
            f"{o['p50_ms']:>11.1f} /{o['p95_ms']:>9.1f}"
        )


if __name__ == "__main__":
    main()
