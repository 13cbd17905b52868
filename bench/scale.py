"""The embedded store at scale: a million assets with real text and realistic vectors.

    .venv/bin/python bench/scale.py --assets 1000000          # build (once), then measure
    .venv/bin/python bench/scale.py --assets 100000 --dir /tmp/scale-100k

What it measures, in this order:
1. ingest at the store: assets/s of `EmbeddedStore.upsert` alone (batches of the indexer's
   default size), not counting building the synthetic records;
2. the vector index: seconds to cluster and load it from the database (first search of a new
   process), then to load it from the saved `.vectors` file (the next process);
3. ANN recall@10 against exact search, for callers who see 100%, 30% and 3% of the rows, with no
   filter and filters selecting 20% and 2%, and the plan the store chose (clusters visited);
4. store latency (hybrid, filtered hybrid, dense, BM25) with the shipped fusion settings;
5. in a fresh process (`--serve-only`): `/v1/search` through the real FastAPI app, query
   embedding included, and that process's peak RSS.

The corpus is derived from SciFact (`$LABSEARCH_SHARED/datasets/scifact`), embedded once with
the configured model (through the embedding cache) and kept in the cache directory: each asset
takes a window of one abstract as its text, and a vector near that abstract's embedding (plus a
second abstract's and noise), so the vectors cluster like real embeddings and the BM25 terms are
real. SciFact's own queries, with their real embeddings, are the queries. The index is kept in
`--dir` (default: under the cache directory) and reused when it holds `--assets` assets.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eval.beir import load_beir  # noqa: E402
from labsearch.access import Access  # noqa: E402
from labsearch.embeddings import Embedder  # noqa: E402
from labsearch.schema import Asset, Provenance  # noqa: E402
from labsearch.settings import Settings, UserConfig  # noqa: E402
from labsearch.stores import vectors as vector_index  # noqa: E402
from labsearch.stores.embedded import EmbeddedStore  # noqa: E402
from labsearch.stores.protocol import (  # noqa: E402
    FusionSettings,
    IndexedAsset,
    SearchMode,
    SearchRequest,
)

SOURCE = "bench://scale"
INSTRUMENTS = ["NovaSeq 6000", "HiSeq 2500", "MiSeq", "NextSeq 550", "PacBio Sequel"]  # 20% each
PROJECTS = [f"proj-{i:02d}" for i in range(50)]  # 2% each
CALLERS = {  # who sees what share of the rows
    "sees 100%": Access.for_groups(["everyone"], user="all"),
    "sees 30%": Access.for_groups(["lab-30"], user="member30"),
    "sees 3%": Access.for_groups(["lab-3"], user="member3"),
}
FILTERS: dict[str, dict[str, Any] | None] = {
    "no filter": None,
    "filter 20%": {"instrument": "MiSeq"},
    "filter 2%": {"project": "proj-07"},
}


# ------------------------------------------------------------------------ corpus


def base_corpus(settings: Settings) -> dict[str, Any]:
    """SciFact abstracts and queries with their embeddings (cached beside the embeddings)."""
    cache = settings.cache_dir / "bench" / f"scifact-{settings.model.replace('/', '_')}.npz"
    if cache.exists():
        with np.load(cache, allow_pickle=False) as saved:
            return {key: saved[key] for key in saved.files}
    dataset = load_beir(settings.shared / "datasets" / "scifact", split="test")
    titles = [title for title, _ in dataset.corpus.values()]
    texts = [text for _, text in dataset.corpus.values()]
    queries = list(dataset.queries.values())
    embedder = Embedder.from_settings(settings, show_progress=True)
    doc_vectors = embedder.embed([f"{t}\n{x}" for t, x in zip(titles, texts, strict=True)])
    query_vectors = np.stack([embedder.embed_query(q) for q in queries])
    cache.parent.mkdir(parents=True, exist_ok=True)
    base = {
        "titles": np.array(titles),
        "texts": np.array(texts),
        "doc_vectors": doc_vectors.astype(np.float32),
        "queries": np.array(queries),
        "query_vectors": query_vectors.astype(np.float32),
    }
    np.savez(cache, **base)
    return base


def batches(base: dict[str, Any], n: int, size: int, seed: int = 1) -> Iterator[list[IndexedAsset]]:
    rng = np.random.default_rng(seed)
    docs = base["doc_vectors"]
    words = [str(text).split() for text in base["texts"]]
    for start in range(0, n, size):
        count = min(size, n - start)
        main, other = rng.integers(0, len(docs), count), rng.integers(0, len(docs), count)
        noise = rng.normal(size=(count, docs.shape[1])).astype(np.float32)
        noise /= np.linalg.norm(noise, axis=1, keepdims=True)
        vectors = docs[main] + 0.35 * docs[other] + 0.3 * noise
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        shares = rng.random((count, 2))
        items = []
        for offset in range(count):
            i, j = start + offset, int(main[offset])
            window = int(rng.integers(0, max(1, len(words[j]) - 60)))
            groups = ["everyone"]
            groups += ["lab-30"] if shares[offset, 0] < 0.30 else []
            groups += ["lab-3"] if shares[offset, 1] < 0.03 else []
            asset = Asset(
                id=f"scale:{i:07d}",
                source=SOURCE,
                kind="file",
                title=str(base["titles"][j])[:120],
                text=" ".join(words[j][window : window + 60]),
                identifiers=[f"RUN-{i:07d}", f"SMP-{i // 4:06d}"],
                groups=groups,
                metadata={
                    "instrument": INSTRUMENTS[i % len(INSTRUMENTS)],
                    "project": PROJECTS[int(rng.integers(0, len(PROJECTS)))],
                    "read_count": int(rng.integers(10_000, 50_000_000)),
                    "date": f"20{int(rng.integers(18, 26))}-{int(rng.integers(1, 13)):02d}-15",
                },
                provenance=Provenance(source=SOURCE, record_id=str(i)),
            )
            items.append(IndexedAsset(asset, vectors[offset], asset.id))
        yield items


def build(settings: Settings, base: dict[str, Any], n: int) -> dict[str, Any]:
    """Index n assets unless the index already holds n; seconds spent inside upsert only."""
    dimension = base["doc_vectors"].shape[1]
    directory = settings.index_dir
    with EmbeddedStore.open(directory, settings.model, dimension) as store:
        if store.info().count == n:
            return {"reused": True}
    store = EmbeddedStore.open(directory, settings.model, dimension, recreate=True)
    in_store, cpu, started = 0.0, 0.0, time.perf_counter()
    for done, items in enumerate(batches(base, n, settings.index_batch_size), 1):
        began, began_cpu = time.perf_counter(), time.process_time()
        store.upsert(items)
        in_store += time.perf_counter() - began
        cpu += time.process_time() - began_cpu
        if done % 200 == 0:
            print(
                f"  {done * len(items):,} assets, {done * len(items) / in_store:,.0f}/s in upsert",
                file=sys.stderr,
                flush=True,
            )
    store.finish_rebuild()
    store.close()
    return {
        "upsert_seconds": round(in_store, 1),
        "assets_per_second_at_store": round(n / in_store),
        # CPU time too: on a shared machine wall time includes waiting for a core.
        "assets_per_cpu_second_at_store": round(n / cpu),
        "wall_seconds_with_record_building": round(time.perf_counter() - started, 1),
    }


# ------------------------------------------------------------------------ measurements


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1),
    }


def timed(fn: Callable[[int], Any], count: int) -> dict[str, float]:
    fn(0)
    samples = []
    for i in range(count):
        start = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - start) * 1000)
    return percentiles(samples)


def vector_index_times(
    settings: Settings, dimension: int, query: np.ndarray, rebuild: bool
) -> dict[str, float]:
    """First dense search of a new process: building the in-memory indexes from the database
    (the saved file is removed first; skipped unless `rebuild`), then loading the saved file."""
    request = SearchRequest(vector=query, mode=SearchMode.DENSE, k=10)
    access = CALLERS["sees 100%"]
    times = {}
    labels = ["built_from_database_seconds"] if rebuild else []
    for label in [*labels, "loaded_from_file_seconds"]:
        with EmbeddedStore.open(settings.index_dir, settings.model, dimension) as store:
            store.query_timeout = 3600
            if label.startswith("built"):
                Path(f"{store.path}.vectors").unlink(missing_ok=True)
            start = time.perf_counter()
            store.search(request, access)
            times[label] = round(time.perf_counter() - start, 1)
    return times


def recall(store: EmbeddedStore, base: dict[str, Any], queries: int) -> dict[str, Any]:
    """recall@10 of the store's dense search against an exact scan over the same rows."""
    from labsearch.filters import parse
    from labsearch.stores import sql_filters

    table = {}
    vectors = base["query_vectors"][:queries]
    store.query_timeout = 3600  # one read transaction for the whole comparison
    with store._read() as conn:  # noqa: SLF001 - the bench compares against the exact scan
        cache = store._cached_vectors(conn)  # noqa: SLF001
        for caller, access in CALLERS.items():
            for label, filters in FILTERS.items():
                mask = cache.group_mask(conn, access.groups)
                if filters:
                    where = sql_filters.compile_filter(parse(filters))
                    from labsearch.stores.vectors import keys

                    rows = keys(
                        conn, f"SELECT a.pk AS k FROM assets a WHERE {where.text}", where.params
                    )
                    mask &= cache.mask_of(rows)
                found = []
                for vector in vectors:
                    approx = {k for k, _ in cache.top(vector, mask, 10)}
                    exact = {k for k, _ in cache.top(vector, mask, 10, exact=True)}
                    found.append(len(approx & exact) / max(1, len(exact)))
                allowed = int((mask & cache.alive).sum())
                table[f"{caller}, {label}"] = {
                    "rows": allowed,
                    "clusters_visited": cache.plan(allowed),
                    "clusters": cache.nlist,
                    "recall_at_10": round(float(np.mean(found)), 3),
                }
    return table


def store_latency(store: EmbeddedStore, settings: Settings, base: dict[str, Any], count: int):
    texts, vectors = base["queries"], base["query_vectors"]
    fusion = FusionSettings.from_settings(settings)
    member = CALLERS["sees 30%"]

    def case(mode: SearchMode, filters: dict[str, Any] | None, access: Access):
        def run(i: int) -> Any:
            j = i % len(texts)
            request = SearchRequest(
                text=str(texts[j]),
                vector=vectors[j],
                mode=mode,
                filters=filters,
                k=10,
                fusion=fusion,
            )
            return store.search(request, access)

        return run

    cases = {
        "hybrid (sees 100%)": case(SearchMode.HYBRID, None, CALLERS["sees 100%"]),
        "hybrid (sees 30%)": case(SearchMode.HYBRID, None, member),
        "hybrid + filter 20% (sees 30%)": case(SearchMode.HYBRID, FILTERS["filter 20%"], member),
        "hybrid + filter 2% (sees 30%)": case(SearchMode.HYBRID, FILTERS["filter 2%"], member),
        "hybrid + a new ~20% range filter each query (sees 30%)": fresh_ranges(case, member),
        "dense (sees 100%)": case(SearchMode.DENSE, None, CALLERS["sees 100%"]),
        "bm25 (sees 30%)": case(SearchMode.BM25, None, member),
    }
    results = {name: timed(fn, count) for name, fn in cases.items()}
    # The filtered cases above repeat one filter, as a user paging through a facet value does:
    # its row mask is read once per write. Again with the mask read afresh every time:
    cached, vector_index.MAX_CACHED_CONDITIONS = vector_index.MAX_CACHED_CONDITIONS, 0
    try:
        for name in ("hybrid + filter 20% (sees 30%)", "hybrid + filter 2% (sees 30%)"):
            results[f"{name}, filter read afresh"] = timed(cases[name], count)
    finally:
        vector_index.MAX_CACHED_CONDITIONS = cached
    return results


def fresh_ranges(case: Callable[..., Callable[[int], Any]], access: Access) -> Callable[[int], Any]:
    """Queries each with its own read_count range (about 20% of the rows, never repeated). A
    range is two conditions (gte, lt), each read from the value index on its own: here 80%
    and 60% of the rows."""

    def run(i: int) -> Any:
        low = 40_000_000 + 1_000 * i  # read counts are uniform in [10k, 50M)
        return case(
            SearchMode.HYBRID, {"read_count": {"gte": low - 10_000_000, "lt": low}}, access
        )(i)

    return run


def serve(settings: Settings, base: dict[str, Any], count: int) -> dict[str, Any]:
    """`/v1/search` through the app (auth, query embedding, store, response), then peak RSS."""
    from fastapi.testclient import TestClient

    from chat_api.app import create_app

    served = settings.with_overrides(
        users={"member30": UserConfig(groups=["lab-30"], api_keys=["bench-member30"])},
        rate_limit_per_minute=1_000_000,
    )
    texts = [str(t) for t in base["queries"]]
    headers = {"Authorization": "Bearer bench-member30"}
    with TestClient(create_app(served)) as client:
        started = time.perf_counter()
        while client.get("/v1/readyz").status_code != 200 and time.perf_counter() - started < 600:
            time.sleep(0.5)
        ready = time.perf_counter() - started

        def search(i: int) -> None:
            body = {"query": texts[i % len(texts)], "k": 10}
            response = client.post("/v1/search", json=body, headers=headers)
            response.raise_for_status()

        latency = timed(search, count)
    return {
        "ready_after_seconds": round(ready, 1),
        "/v1/search": latency,
        "peak_rss_mb": peak_rss_mb(),
    }


def peak_rss_mb() -> int:
    """This process's peak resident memory. VmHWM, not getrusage: ru_maxrss survives exec, so a
    child started by a large parent would report the parent's size."""
    status = Path("/proc/self/status").read_text()
    kilobytes = int(status.split("VmHWM:")[1].split()[0])
    return round(kilobytes / 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, help="labsearch home of the bench index")
    parser.add_argument("--queries", type=int, default=200, help="queries per latency case")
    parser.add_argument("--recall-queries", type=int, default=100)
    parser.add_argument(
        "--reuse-vectors",
        action="store_true",
        help="keep the saved in-memory indexes instead of timing a build from the database",
    )
    parser.add_argument(
        "--ingest-only", action="store_true", help="build the index, report ingest, stop"
    )
    parser.add_argument("--serve-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    settings = Settings()
    home = args.dir or settings.cache_dir / "bench" / f"scale-{args.assets}"
    settings = settings.with_overrides(home=home, cache_dir=settings.cache_dir)
    base = base_corpus(settings)
    if args.serve_only:
        print(json.dumps(serve(settings, base, args.queries)))
        return
    report: dict[str, Any] = {"assets": args.assets, "ingest": build(settings, base, args.assets)}
    if args.ingest_only:
        print(json.dumps(report, indent=2))
        return
    dimension = base["doc_vectors"].shape[1]
    report["vector_index"] = vector_index_times(
        settings, dimension, base["query_vectors"][0], rebuild=not args.reuse_vectors
    )
    with EmbeddedStore.open(settings.index_dir, settings.model, dimension) as store:
        report["recall"] = recall(store, base, args.recall_queries)
        report["store_latency"] = store_latency(store, settings, base, args.queries)
    command = [
        sys.executable,
        __file__,
        "--serve-only",
        "--assets",
        str(args.assets),
        "--dir",
        str(home),
        "--queries",
        str(args.queries),
    ]
    served = subprocess.run(command, capture_output=True, text=True, check=True)
    report["api"] = json.loads(served.stdout.strip().splitlines()[-1])
    size = sum(
        p.stat().st_size for p in settings.index_dir.iterdir() if p.is_file() and not p.is_symlink()
    )
    report["disk_mb"] = round(size / 1e6)
    report["load_average"] = [round(x, 1) for x in os.getloadavg()]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
