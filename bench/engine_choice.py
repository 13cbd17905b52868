"""SQLite (FTS5 + exact numpy cosine, our EmbeddedStore) against LanceDB, on the same data.

    .venv/bin/python bench/engine_choice.py --assets 100000 [--json]

Both engines get the same synthetic corpus as bench/store_latency.py (random unit vectors of
384 dimensions, Zipf texts, metadata) and the same queries, and both do exact (flat) vector
search - LanceDB without an ANN index, as the embedded store - so the comparison is about the
engines, not about recall. Every query runs as a lab member: permission filtering is on in both
(a groups list column with array_has_any in LanceDB). Reported: ingest time (including the
full-text index), on-disk size, and hybrid latency p50/p95 without and with a metadata filter.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from store_latency import (  # noqa: E402
    ACCESS,
    DIM,
    build,
    corpus,
    percentiles,
    queries,
    timed,
)

from labsearch.stores.embedded import EmbeddedStore  # noqa: E402
from labsearch.stores.protocol import SearchMode, SearchRequest  # noqa: E402

FILTER = {"project": "proj-07"}  # about 5% of the corpus
LANCE_FILTER = "project = 'proj-07'"
LANCE_ACCESS = "array_has_any(groups, ['lab-a', 'public'])"


def disk_mb(directory: Path) -> float:
    return round(sum(p.stat().st_size for p in directory.rglob("*") if p.is_file()) / 1e6, 1)


def sqlite_engine(directory: Path, n: int, repeat: int) -> dict[str, Any]:
    ingest = build(directory, n)
    store = EmbeddedStore.open(directory, "bench-random", DIM)
    cycle = iter(queries() * 100)

    def hybrid(filters: dict[str, Any] | None) -> Callable[[], Any]:
        def run() -> Any:
            text, vector = next(cycle)
            request = SearchRequest(text=text, vector=vector, filters=filters, k=10)
            return store.search(request, ACCESS)

        return run

    # Warm the vector cache, as a running server has it.
    store.search(SearchRequest(vector=np.ones(DIM), mode=SearchMode.DENSE, k=1), ACCESS)
    result = {
        "ingest_seconds": round(ingest, 1),
        "disk_mb": disk_mb(directory),
        "hybrid": percentiles(timed(hybrid(None), repeat)),
        "hybrid_filtered": percentiles(timed(hybrid(FILTER), repeat)),
    }
    store.close()
    return result


def _arrow_batch(batch: list[tuple[dict[str, Any], Any]]) -> pa.Table:
    records = [record for record, _ in batch]
    vectors = np.stack([vector for _, vector in batch]).astype(np.float32)
    metadata = [record["metadata"] for record in records]
    return pa.table(
        {
            "id": [r["id"] for r in records],
            "title": [r["title"] for r in records],
            # One full-text column: title, identifiers and text (no per-column weights here).
            "text": ["\n".join([r["title"], *r["identifiers"], r["text"]]) for r in records],
            "kind": [r["kind"] for r in records],
            "identifiers": [r["identifiers"] for r in records],
            "groups": [r["groups"] for r in records],
            "instrument": [m["instrument"] for m in metadata],
            "organism": [m["organism"] for m in metadata],
            "project": [m["project"] for m in metadata],
            "read_count": [m["read_count"] for m in metadata],
            "samples": [m["samples"] for m in metadata],
            "date": [m["date"] for m in metadata],
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), DIM),
        }
    )


def lancedb_engine(directory: Path, n: int, repeat: int) -> dict[str, Any]:
    import lancedb
    from lancedb.index import FTS

    shutil.rmtree(directory, ignore_errors=True)
    start = time.perf_counter()
    db = lancedb.connect(directory)
    table = None
    for batch in corpus(n, batch=5000):
        data = _arrow_batch(batch)
        if table is None:
            table = db.create_table("assets", data=data)
        else:
            table.add(data)
    assert table is not None
    table.create_index("text", config=FTS())
    ingest = time.perf_counter() - start
    cycle = iter(queries() * 100)

    def hybrid(where: str) -> Callable[[], Any]:
        def run() -> Any:
            text, vector = next(cycle)
            query = table.search(query_type="hybrid").vector(vector).text(text)
            return query.where(where, prefilter=True).limit(10).to_list()

        return run

    return {
        "ingest_seconds": round(ingest, 1),
        "disk_mb": disk_mb(directory),
        "hybrid": percentiles(timed(hybrid(LANCE_ACCESS), repeat)),
        "hybrid_filtered": percentiles(timed(hybrid(f"{LANCE_FILTER} AND {LANCE_ACCESS}"), repeat)),
        "version": lancedb.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=50, help="queries timed per case")
    parser.add_argument("--dir", type=Path, help="where to build (default: a temporary dir)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    base = args.dir or Path(tempfile.mkdtemp(prefix="labsearch-engines-"))
    try:
        report = {
            "assets": args.assets,
            "dimension": DIM,
            "sqlite": sqlite_engine(base / "sqlite", args.assets, args.repeat),
            "lancedb": lancedb_engine(base / "lancedb", args.assets, args.repeat),
        }
    finally:
        if not args.dir:
            shutil.rmtree(base, ignore_errors=True)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{args.assets:,} assets x {DIM} dims, exact vector search, permission filter on")
    print(f"{'engine':8} {'ingest s':>9} {'disk MB':>8} {'hybrid p50/p95 ms':>19} {'filtered':>15}")
    for name in ("sqlite", "lancedb"):
        r = report[name]
        plain = f"{r['hybrid']['p50_ms']}/{r['hybrid']['p95_ms']}"
        filtered = f"{r['hybrid_filtered']['p50_ms']}/{r['hybrid_filtered']['p95_ms']}"
        print(f"{name:8} {r['ingest_seconds']:9} {r['disk_mb']:8} {plain:>19} {filtered:>15}")


if __name__ == "__main__":
    main()
