"""Retrieval options side by side, in one run: SciFact, the demo lab, the real data, latency.

    python -m eval.options ../shared/datasets/scifact --demo-config labsearch.toml \\
        --option default --option zscore --out DIR

Each option is a set of settings (OPTIONS below, or `name:field=value,field=value` on the
command line) applied over the configured ones. For each it reports SciFact (`--split`, test by
default) nDCG@10 of the three modes, the demo lab evaluation (`eval lab`: descriptive nDCG@10
and recall@10, entity F1, leaks), the real-data evaluation (`eval lab --set real`, when
LABSEARCH_REALDATA or `--real-data` points at it) and `/v1/search` p50/p95 on the demo index of
`--demo-config`, measured over HTTP against `labsearch serve` started with the option's settings
(chat_api.measure's searches). Options that change only the query side share the lab indexes.
Issue 22's rule for a default: SciFact up, neither lab evaluation down, p95 at most 2x today's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from labsearch.settings import Settings

# Named options: settings over the configured ones (docs/evaluation.md, "Options"). zscore-0.55
# is the best weighting on SciFact's train split; zscore-0.6 the best that lowered neither lab
# evaluation; convex-0.6 the fusion chosen before (issue 3), rrf the one before that.
OPTIONS: dict[str, dict[str, Any]] = {
    "default": {},
    "convex-0.6": {"fusion_method": "convex", "bm25_weight": 0.6, "dense_weight": 0.4},
    "zscore-0.55": {"fusion_method": "zscore", "bm25_weight": 0.55, "dense_weight": 0.45},
    "zscore-0.6": {"fusion_method": "zscore", "bm25_weight": 0.6, "dense_weight": 0.4},
    "rrf": {"fusion_method": "rrf", "bm25_weight": 1.0, "dense_weight": 1.0, "candidates": 100},
}
# Settings that change what is indexed: options differing in them get their own lab indexes.
INDEX_FIELDS = ("model", "embed_max_chars", "embed_max_tokens", "embed_backend")


def parse_option(text: str) -> tuple[str, dict[str, Any]]:
    """`name` (one of OPTIONS) or `name:field=value,field=value` (values read as JSON if they
    parse, else as strings)."""
    if ":" not in text:
        if text not in OPTIONS:
            raise SystemExit(f"unknown option {text!r}; known: {', '.join(OPTIONS)}")
        return text, OPTIONS[text]
    name, _, pairs = text.partition(":")
    overrides: dict[str, Any] = {}
    for pair in filter(None, pairs.split(",")):
        field, _, value = pair.partition("=")
        try:
            overrides[field.strip()] = json.loads(value)
        except json.JSONDecodeError:
            overrides[field.strip()] = value
    return name, overrides


def index_key(settings: Settings) -> str:
    described = json.dumps({f: str(getattr(settings, f)) for f in INDEX_FIELDS}, sort_keys=True)
    return hashlib.sha256(described.encode()).hexdigest()[:12]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def search_latency(overrides: dict[str, Any], demo_config: Path, rounds: int) -> dict[str, Any]:
    """`/v1/search` p50/p95 (ms) of `labsearch serve` on the demo, started with `overrides`."""
    from chat_api.measure import SEARCHES, measure_search, percentile

    port = _free_port()
    # The searches come back to back: the per-key rate limit (120/min) would answer 429.
    env = os.environ | {
        "LABSEARCH_CONFIG": str(demo_config),
        "LABSEARCH_RATE_LIMIT_PER_MINUTE": "1000000",
    }
    env |= {f"LABSEARCH_{field.upper()}": str(value) for field, value in overrides.items()}
    server = subprocess.Popen(
        [sys.executable, "-m", "shell.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, headers={"X-API-Key": "demo-alice"}, timeout=60) as http:
            deadline = time.monotonic() + 180
            while True:  # readyz answers 200 once a warm-up query was embedded
                try:
                    if http.get("/v1/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"labsearch serve on {url} did not become ready")
                time.sleep(0.5)
            measure_search(http, 1)  # warm the caches the first searches fill
            times = measure_search(http, rounds)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {
        "requests": len(times),
        "queries": len(SEARCHES),
        "p50_ms": round(sorted(times)[len(times) // 2] * 1000, 1),
        "p95_ms": round(percentile(times, 0.95) * 1000, 1),
    }


def run_option(
    name: str, overrides: dict[str, Any], args: argparse.Namespace, base: Settings
) -> dict[str, Any]:
    from eval.beir import evaluate_beir
    from eval.lab import evaluate_lab
    from eval.real.evaluate import evaluate_real, real_data_dir

    settings = base.with_overrides(**overrides)
    row: dict[str, Any] = {"option": name, "settings": overrides}
    started = time.perf_counter()
    beir = evaluate_beir(settings, args.beir, args.split)
    row["scifact"] = {mode: beir.metrics[mode]["ndcg@10"] for mode in beir.metrics}
    row["scifact_hybrid_p95_ms"] = beir.metrics["hybrid"]["p95_ms"]
    labs = args.lab_dir / index_key(settings)
    lab = evaluate_lab(settings, labs)
    row["lab"] = {
        "descriptive_ndcg@10": lab.summary["descriptive"]["all"]["ndcg@10"],
        "descriptive_recall@10": lab.summary["descriptive"]["all"]["recall@10"],
        "entity_f1": lab.summary["entity"]["all"]["f1"],
        "leaks": lab.summary["permission"]["leaks"],
    }
    data = args.real_data or real_data_dir()
    if data.is_dir():
        real = evaluate_real(settings, labs / "real", data=data).summary["all"]
        row["real"] = {k: real[k] for k in ("f1", "count_ok", "complete", "false_complete")}
        row["real"]["leaks"] = real["leaks"]
    if args.demo_config:
        row["search"] = search_latency(overrides, args.demo_config, args.rounds)
    row["seconds"] = round(time.perf_counter() - started, 1)
    return row


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| option | SciFact hybrid / BM25 / dense nDCG@10 | lab descriptive nDCG@10 / recall@10 "
        "| lab entity F1, leaks | real F1 / count ok / false complete, leaks "
        "| /v1/search p50 / p95 ms |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        s, lab, real, search = row["scifact"], row["lab"], row.get("real"), row.get("search")
        lines.append(
            f"| {row['option']} | {s['hybrid']:.4f} / {s['bm25']:.4f} / {s['dense']:.4f} "
            f"| {lab['descriptive_ndcg@10']:.4f} / {lab['descriptive_recall@10']:.4f} "
            f"| {lab['entity_f1']:.4f}, {lab['leaks']} "
            + (
                f"| {real['f1']:.4f} / {real['count_ok']:.4f} / {real['false_complete']}, "
                f"{real['leaks']} "
                if real
                else "| - "
            )
            + (f"| {search['p50_ms']} / {search['p95_ms']} |" if search else "| - |")
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("beir", type=Path, help="SciFact (a BEIR dataset directory)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--option", action="append", help="name or name:field=value,...")
    parser.add_argument("--demo-config", type=Path, help="labsearch.toml of a demo index")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the 10 searches")
    parser.add_argument("--real-data", type=Path)
    parser.add_argument(
        "--lab-dir", type=Path, help="where lab indexes are built (default: cache_dir/eval-lab)"
    )
    parser.add_argument("--out", type=Path, help="write options.jsonl and options.md here")
    parser.add_argument(
        "--latency-only",
        type=int,
        metavar="REPEATS",
        help="only /v1/search latency: the options in turn, REPEATS times (a busy machine's "
        "load drifts; alternating keeps the comparison fair)",
    )
    args = parser.parse_args(argv)
    base = Settings()
    if args.latency_only:
        if not args.demo_config:
            raise SystemExit("--latency-only needs --demo-config")
        options = [parse_option(text) for text in args.option or ["default"]]
        for repeat in range(args.latency_only):
            for name, overrides in options:
                measured = search_latency(overrides, args.demo_config, args.rounds)
                print(json.dumps({"option": name, "repeat": repeat} | measured), flush=True)
        return
    args.lab_dir = args.lab_dir or base.cache_dir / "eval-lab"
    rows = []
    for text in args.option or ["default"]:
        name, overrides = parse_option(text)
        rows.append(run_option(name, overrides, args, base))
        print(json.dumps(rows[-1]), flush=True)
    table = markdown(rows)
    print(table)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "options.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        (args.out / "options.md").write_text(table)


if __name__ == "__main__":
    main()
