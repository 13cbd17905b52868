"""Latency of a running API, measured over HTTP as a client sees it.

    python -m chat_api.measure --url http://127.0.0.1:8000 --key demo-alice

Reports /v1/search p50/p95 over a set of queries, and for streamed chat answers the time to the
first `token`, first `citation` and `done` events.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import httpx

SEARCHES = [
    "RNA-seq liver",
    "NovaSeq 6000 runs",
    "processed data",
    "sample",
    "ATAC-seq kidney",
    "variant calls VCF",
    "imaging OME-TIFF",
    "protocol RNA extraction",
    "single-cell h5ad",
    "QC report",
]
QUESTIONS = [
    "what was sequenced on the NovaSeq 6000?",
    "how many runs are there?",
    "which files are processed data?",
    "what is the RNA extraction protocol?",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure_search(client: httpx.Client, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        for query in SEARCHES:
            started = time.perf_counter()
            response = client.post("/v1/search", json={"query": query, "facets": ["entity"]})
            response.raise_for_status()
            times.append(time.perf_counter() - started)
    return times


def measure_chat(client: httpx.Client, question: str) -> dict[str, float | None]:
    marks: dict[str, float | None] = {"token": None, "citation": None, "done": None}
    started = time.perf_counter()
    body = {"message": question, "stream": True}
    with client.stream("POST", "/v1/chat", json=body, timeout=600) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if line.startswith("event:"):
                name = line[6:].strip()
                if name in marks and marks[name] is None:
                    marks[name] = time.perf_counter() - started
                if name == "error":
                    raise RuntimeError(f"error event for {question!r}")
    return marks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--key", default="demo-alice")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    headers = {"X-API-Key": args.key}
    with httpx.Client(base_url=args.url, headers=headers, timeout=120) as client:
        client.post("/v1/search", json={"query": "warm up"}).raise_for_status()
        searches = measure_search(client, args.rounds)
        chats = [measure_chat(client, question) for question in QUESTIONS]
    report = {
        "search_requests": len(searches),
        "search_p50_ms": round(statistics.median(searches) * 1000, 1),
        "search_p95_ms": round(percentile(searches, 0.95) * 1000, 1),
    }
    for name in ("token", "citation", "done"):
        values = [c[name] for c in chats if c[name] is not None]
        if values:
            report[f"chat_first_{name}_median_ms"] = round(statistics.median(values) * 1000, 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
