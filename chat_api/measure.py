"""Latency of a running API, measured over HTTP as a client sees it.

    python -m chat_api.measure --url http://127.0.0.1:8000 --key demo-alice

Reports /v1/search p50/p95 over a set of queries; p50/p95 of list/count questions answered
through /v1/chat (the structured path: value dictionaries, identifier binding, exhaustive match),
paced to stay within the rate limit; and for streamed chat answers the time to the first
`provisional` (the model's unchecked text), `token` (checked text), `citation` and `done` events
(`--chat-only` for just those, e.g. with LABSEARCH_LLM=local). The list questions name the
demo lab's samples, instruments and experiments; pass `--list-questions FILE` (one per line) for
another index.
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
LIST_QUESTIONS = [  # ids of lab A in the default demo lab (`labsearch demo`, seed 7, 300 runs)
    "which runs used sample LIV-0013?",
    "runs of sample LIV-0014",
    "LIV-0016 was sequenced in which runs?",
    "how many runs used sample LIV-0017?",
    "list the sequencing runs for sample LIV-0018",
    "how many runs on the NovaSeq?",
    "which runs were on the HiSeq 2500?",
    "runs on the NovaSeq 6000 not of sample LIV-0019",
    "what did we sequence on the NovaSeq last month?",
    "how many runs in 2025?",
    "which files came from experiment ELN-107?",
    "where is the processed data for ELN-107?",
    "which files came from experiment ELN-109?",
    "where is the raw data for ELN-112?",
    "how many files came from experiment ELN-115?",
    "which runs used sample LIV-0020 on the NovaSeq 6000?",
    "which samples were sequenced in run 250530_A00814_0288_AHW74ODSX2?",
    "which runs used sample XYZ-9999?",
    "Sample LIV-0021: runs, but not on the HiSeq 2500",
    "could you please list every run made from sample LIV-0022?",
]
QUESTIONS = [  # streamed: descriptive first (answered sentence by sentence), then lists
    "what protocol do we use for RNA extraction from liver tissue?",
    "what was sequenced on the NovaSeq 6000?",
    "how many runs are there?",
    "which files are processed data?",
    "what is the RNA extraction protocol?",
]


# `provisional`: the model's first unchecked text; `token`: the first checked text (a grounded
# sentence, or the extractive answer's first word).
CHAT_MARKS = ("provisional", "token", "citation", "done")


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
    marks: dict[str, float | None] = dict.fromkeys(CHAT_MARKS)
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


def measure_list_questions(
    client: httpx.Client, questions: list[str], rounds: int, per_minute: int
) -> list[float]:
    """Seconds per answer of each list/count question, `rounds` times, paced under the limit."""
    pause = 60.0 / per_minute if per_minute else 0.0
    times = []
    for _ in range(rounds):
        for question in questions:
            started = time.perf_counter()
            response = client.post("/v1/chat", json={"message": question})
            elapsed = time.perf_counter() - started
            response.raise_for_status()
            times.append(elapsed)
            time.sleep(max(0.0, pause - elapsed))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--key", default="demo-alice")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--list-questions", help="File of list questions, one per line.")
    parser.add_argument(
        "--per-minute", type=int, default=60, help="Pace of the list questions (rate limit)."
    )
    parser.add_argument(
        "--chat-only",
        action="store_true",
        help="Only the streamed chat questions (e.g. for an LLM's time to first token).",
    )
    parser.add_argument(
        "--chat-question", action="append", help="Streamed question(s) instead of the default."
    )
    args = parser.parse_args()
    questions = LIST_QUESTIONS
    if args.list_questions:
        with open(args.list_questions, encoding="utf-8") as handle:
            questions = [line.strip() for line in handle if line.strip()]
    headers = {"X-API-Key": args.key}
    with httpx.Client(base_url=args.url, headers=headers, timeout=120) as client:
        client.post("/v1/search", json={"query": "warm up"}).raise_for_status()
        report: dict[str, float | int | list] = {}
        if not args.chat_only:
            # The list questions first: paced, they leave room in the rate limit for searches.
            lists = measure_list_questions(client, questions, args.rounds, args.per_minute)
            searches = measure_search(client, args.rounds)
            report |= {
                "search_requests": len(searches),
                "search_p50_ms": round(statistics.median(searches) * 1000, 1),
                "search_p95_ms": round(percentile(searches, 0.95) * 1000, 1),
                "list_question_requests": len(lists),
                "list_question_p50_ms": round(statistics.median(lists) * 1000, 1),
                "list_question_p95_ms": round(percentile(lists, 0.95) * 1000, 1),
            }
        chats = [measure_chat(client, question) for question in args.chat_question or QUESTIONS]
    for name in CHAT_MARKS:
        values = [c[name] for c in chats if c[name] is not None]
        if values:
            report[f"chat_first_{name}_median_ms"] = round(statistics.median(values) * 1000, 1)
    report["chat_first_events_ms"] = [
        {name: round(value * 1000, 1) for name, value in c.items() if value is not None}
        for c in chats
    ]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
