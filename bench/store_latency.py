"""Latency of the embedded store on synthetic assets: hybrid, bm25, dense, filtered hybrid, match
and facets, as a lab member (permission filtering on) would see them.

    .venv/bin/python bench/store_latency.py --assets 10000
    .venv/bin/python bench/store_latency.py --assets 100000 --json

Random vectors have no neighbourhood structure, so from 50k assets on (where the store clusters
its vector index) the dense side's recall here says nothing; bench/scale.py measures recall and
latency on realistic vectors and real text.

The corpus is deterministic (seeded): random unit vectors (384 dimensions, like all-MiniLM-L6-v2),
short texts drawn from a Zipf-distributed vocabulary, identifiers and metadata with a few
realistic cardinalities. The index is built in a temporary directory unless --dir is given
(an existing index there with the same number of assets is reused).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labsearch.access import Access  # noqa: E402
from labsearch.schema import Asset, Provenance  # noqa: E402
from labsearch.settings import Settings  # noqa: E402
from labsearch.stores.embedded import EmbeddedStore  # noqa: E402
from labsearch.stores.protocol import (  # noqa: E402
    AssetStore,
    FusionSettings,
    IndexedAsset,
    SearchMode,
    SearchRequest,
)

DIM = 384
MODEL = "bench-random"
INSTRUMENTS = ["NovaSeq 6000", "HiSeq 2500", "MiSeq", "NextSeq 550", "PacBio Sequel"]
ORGANISMS = ["Mus musculus", "Homo sapiens", "Danio rerio"]
KINDS = ["package", "package_entry", "file", "sample", "experiment"]
GROUPS = [["lab-a"], ["lab-b"], ["public"], ["lab-a", "lab-b"]]
ACCESS = Access.for_groups(["lab-a"], user="bench")


def vocabulary(size: int = 3000, seed: int = 7) -> list[str]:
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    return ["".join(rng.choice(letters, rng.integers(4, 10))) for _ in range(size)]


def corpus(n: int, seed: int = 1, batch: int = 1000) -> Iterator[list[tuple[dict[str, Any], Any]]]:
    """Batches of (record, vector): plain records so each engine can load them its own way."""
    rng = np.random.default_rng(seed)
    words = vocabulary()
    zipf = 1.0 / np.arange(1, len(words) + 1)
    zipf /= zipf.sum()
    for start in range(0, n, batch):
        size = min(batch, n - start)
        vectors = rng.normal(size=(size, DIM)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        records = []
        for offset in range(size):
            i = start + offset
            text = " ".join(rng.choice(words, 30, p=zipf))
            samples = [f"SMP-{rng.integers(0, n // 4 + 1):06d}" for _ in range(2)]
            records.append(
                {
                    "id": f"bench:{i:07d}",
                    "title": " ".join(rng.choice(words, 5, p=zipf)),
                    "text": text,
                    "kind": KINDS[i % len(KINDS)],
                    "identifiers": [f"RUN-{i:07d}", *samples],
                    "groups": GROUPS[i % len(GROUPS)],
                    "metadata": {
                        "instrument": INSTRUMENTS[int(rng.integers(0, len(INSTRUMENTS)))],
                        "organism": ORGANISMS[int(rng.integers(0, len(ORGANISMS)))],
                        "project": f"proj-{int(rng.integers(0, 20)):02d}",
                        "read_count": int(rng.integers(10_000, 50_000_000)),
                        "samples": samples,
                        "date": f"20{int(rng.integers(18, 25))}-{int(rng.integers(1, 13)):02d}-15",
                    },
                }
            )
        yield list(zip(records, vectors, strict=True))


def to_indexed(record: dict[str, Any], vector: Any) -> IndexedAsset:
    asset = Asset(
        source="bench://synthetic",
        provenance=Provenance(source="bench://synthetic"),
        **record,
    )
    return IndexedAsset(asset=asset, vector=vector, content_hash=record["id"])


def queries(count: int = 60, seed: int = 99) -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    words = vocabulary()
    out = []
    for _ in range(count):
        # Mid-frequency words, as real questions mostly carry a few content words.
        text = " ".join(words[int(j)] for j in rng.integers(20, 800, 3))
        vector = rng.normal(size=DIM).astype(np.float32)
        out.append((text, vector / np.linalg.norm(vector)))
    return out


def timed(fn: Callable[[], Any], repeat: int) -> list[tuple[float, float]]:
    """(wall ms, CPU ms) per call. CPU time is reported too because the machine may be shared:
    wall time then includes waiting for a core, CPU time does not."""
    fn()  # warm-up (caches, first matrix load)
    samples = []
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        samples.append(((time.perf_counter() - start) * 1000, (time.process_time() - cpu) * 1000))
    return samples


def percentiles(samples: list[tuple[float, float]]) -> dict[str, float]:
    wall = sorted(w for w, _ in samples)
    return {
        "p50_ms": round(statistics.median(wall), 2),
        "p95_ms": round(wall[min(len(wall) - 1, int(0.95 * len(wall)))], 2),
        "cpu_p50_ms": round(statistics.median(c for _, c in samples), 2),
    }


def build(directory: Path, n: int) -> float:
    """Index n synthetic assets; returns seconds taken (0 if an index of that size exists)."""
    store = EmbeddedStore.open(directory, MODEL, DIM)
    try:
        if store.info().count == n:
            return 0.0
        store.close()
        store = EmbeddedStore.open(directory, MODEL, DIM, recreate=True)
        start = time.perf_counter()
        for batch in corpus(n):
            store.upsert([to_indexed(record, vector) for record, vector in batch])
        store.finish_rebuild()  # a recreated index is built beside the old one until published
        return time.perf_counter() - start
    finally:
        store.close()


def after_commit(reader: EmbeddedStore, directory: Path, n: int) -> dict[str, float]:
    """A server's first query after `labsearch index` committed a batch (cache refresh)."""
    writer = EmbeddedStore.open(directory, MODEL, DIM)
    text, vector = queries(1, seed=5)[0]
    request = SearchRequest(text=text, vector=vector)
    samples = []
    for round_ in range(5):
        batch = next(corpus(256, seed=1000 + round_, batch=256))
        items = [to_indexed({**r, "id": f"extra:{round_}:{r['id']}"}, v) for r, v in batch]
        writer.upsert(items)
        samples.append(_once(lambda: reader.search(request, ACCESS)))
        writer.delete([item.asset.id for item in items])
    writer.close()
    return percentiles(samples)


def _once(fn: Callable[[], Any]) -> tuple[float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - start) * 1000, (time.process_time() - cpu) * 1000


# The fusion the service uses with default settings (defaults only: no environment or config
# file), so the benchmark measures what users get.
SHIPPED = FusionSettings.from_settings(Settings.model_construct())


def query_cases(store: AssetStore) -> dict[str, Callable[[], Any]]:
    """The operations both benchmarks time, each a no-argument call on `store`."""
    cycle = iter(queries() * 1000)
    selective = {"project": "proj-07"}
    broad = {"instrument": {"in": ["NovaSeq 6000", "HiSeq 2500"]}}

    def search(mode: SearchMode, filters: dict[str, Any] | None = None) -> Callable[[], Any]:
        def run() -> Any:
            text, vector = next(cycle)
            request = SearchRequest(
                text=text, vector=vector, mode=mode, filters=filters, k=10, fusion=SHIPPED
            )
            return store.search(request, ACCESS)

        return run

    return {
        "hybrid": search(SearchMode.HYBRID),
        "bm25": search(SearchMode.BM25),
        "dense": search(SearchMode.DENSE),
        "hybrid + filter (5%)": search(SearchMode.HYBRID, selective),
        "hybrid + filter (40%)": search(SearchMode.HYBRID, broad),
        "match (5%, limit 100)": lambda: store.match(selective, ACCESS, limit=100),
        "match identifier": lambda: store.match({"identifiers": "RUN-0000042"}, ACCESS),
        "facets kind+instrument+samples": lambda: store.facets(
            ["kind", "instrument", "samples"], ACCESS, filters=selective
        ),
    }


def measure(directory: Path, n: int) -> dict[str, Any]:
    ingest = build(directory, n)
    store = EmbeddedStore.open(directory, MODEL, DIM)
    load_start = time.perf_counter()
    store.search(SearchRequest(vector=np.ones(DIM), mode=SearchMode.DENSE, k=1), ACCESS)
    first_load = time.perf_counter() - load_start
    cases = query_cases(store)
    repeat = 40 if n > 50_000 else 100
    results = {name: percentiles(timed(fn, repeat)) for name, fn in cases.items()}
    results["hybrid after a 256-asset commit"] = after_commit(store, directory, n)
    # The index file is reached through the `labsearch.sqlite3` link too: count it once.
    size = sum(p.stat().st_size for p in directory.iterdir() if p.is_file() and not p.is_symlink())
    store.close()
    return {
        "assets": n,
        "dimension": DIM,
        "ingest_seconds": round(ingest, 1) if ingest else None,
        "ingest_per_second": round(n / ingest) if ingest else None,
        "first_vector_load_seconds": round(first_load, 2),
        "disk_mb": round(size / 1e6, 1),
        "latency": results,
        "load_average": [round(x, 1) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=10_000, help="number of synthetic assets")
    parser.add_argument("--dir", type=Path, help="index directory to build/reuse (default: tmp)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    if args.dir:
        report = measure(args.dir, args.assets)
    else:
        with tempfile.TemporaryDirectory(prefix="labsearch-bench-") as tmp:
            report = measure(Path(tmp), args.assets)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(
        f"embedded store, {report['assets']:,} assets x {DIM} dims, "
        f"ingest {report['ingest_seconds']} s ({report['ingest_per_second']}/s), "
        f"disk {report['disk_mb']} MB, first vector load {report['first_vector_load_seconds']} s"
    )
    print(f"load average at the end: {report['load_average']}")
    print(f"{'operation':34} {'p50 ms':>8} {'p95 ms':>8} {'CPU p50':>8}")
    for name, f in report["latency"].items():
        print(f"{name:34} {f['p50_ms']:8.2f} {f['p95_ms']:8.2f} {f['cpu_p50_ms']:8.2f}")


if __name__ == "__main__":
    main()
