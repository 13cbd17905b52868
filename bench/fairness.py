"""Does one user's most expensive allowed request slow another user down? (embedded store)

    .venv/bin/python bench/fairness.py --assets 50000
    .venv/bin/python bench/fairness.py --assets 50000 --seconds 30

Two users on one store, as two API worker threads would be. The victim (lab-b) runs ordinary
hybrid searches with a few words, one after another, and its latency is measured: first alone,
then while the attacker (lab-a) loops the most expensive search the limits allow - a query of
MAX_TERMS common words, 32 facet fields counted over its matches, highlights on, the largest
page. The figure is the victim's p95 under attack divided by its p95 alone; the issue asks for at
most 2x. The corpus is bench/store_latency.py's (seeded synthetic assets, Zipf vocabulary).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from store_latency import DIM, MODEL, build, queries, vocabulary  # noqa: E402

from labsearch.access import Access  # noqa: E402
from labsearch.stores import fts_query  # noqa: E402
from labsearch.stores.embedded import EmbeddedStore  # noqa: E402
from labsearch.stores.protocol import FusionSettings, SearchRequest  # noqa: E402

VICTIM = Access.for_groups(["lab-b"], user="bob")
ATTACKER = Access.for_groups(["lab-a"], user="mallory")
FACET_FIELDS = 32  # retriever/service.py MAX_FACET_FIELDS
FUSION = FusionSettings(bm25_weight=0.6, dense_weight=0.4, candidates=200, method="convex")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assets", type=int, default=50_000)
    parser.add_argument("--seconds", type=float, default=20.0, help="Per phase.")
    parser.add_argument("--dir", type=Path, help="Reuse an index here (built if missing).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="labsearch-fair-") as scratch:
        directory = args.dir or Path(scratch) / "index"
        built = build(directory, args.assets)
        if built:
            print(f"built {args.assets} assets in {built:.1f} s")
        store = EmbeddedStore.open(directory, MODEL, DIM)
        try:
            run(store, args.seconds)
        finally:
            store.close()


def run(store: EmbeddedStore, seconds: float) -> None:
    victim_queries = queries(200)
    alone = victim(store, victim_queries, seconds, threading.Event())
    stop, attacks = threading.Event(), []
    attacker = threading.Thread(target=attack, args=(store, stop, attacks), daemon=True)
    attacker.start()
    time.sleep(1.0)  # the attack is under way
    under_attack = victim(store, victim_queries, seconds, stop)
    stop.set()
    attacker.join()
    print(f"victim alone:        {summary(alone)}")
    print(f"victim under attack: {summary(under_attack)}")
    print(f"attacker requests:   {summary(attacks)}")
    print(f"victim p95 ratio:    {p95(under_attack) / p95(alone):.2f}x (target <= 2x)")


def victim(store, victim_queries, seconds: float, stop: threading.Event) -> list[float]:
    latencies = []
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        text, vector = victim_queries[n % len(victim_queries)]
        n += 1
        request = SearchRequest(text=text, vector=vector.tolist(), k=10, fusion=FUSION)
        started = time.perf_counter()
        store.search(request, VICTIM)
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def attack(store, stop: threading.Event, latencies: list[float]) -> None:
    words = vocabulary()[: fts_query.MAX_TERMS]  # the most common words: the longest postings
    text = " ".join(words)
    fields = ["instrument", "organism", "project", "read_count", "samples", "date", "kind"]
    fields += [f"field_{n}" for n in range(FACET_FIELDS - len(fields))]
    while not stop.is_set():
        started = time.perf_counter()
        request = SearchRequest(text=text, k=100, fusion=FUSION, highlight=True)
        store.search(request, ATTACKER)
        store.facets(fields, ATTACKER, text=text)
        latencies.append((time.perf_counter() - started) * 1000)


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def summary(samples: list[float]) -> str:
    return (
        f"{len(samples)} requests, p50 {statistics.median(samples):.1f} ms, "
        f"p95 {p95(samples):.1f} ms"
    )


if __name__ == "__main__":
    main()
