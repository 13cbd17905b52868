"""Load: 50 configured users mixing searches, list questions and streamed chats against a real
`labsearch serve` on loopback, for a bounded time.

    .venv/bin/python bench/load.py                      # 50 users, 5 minutes, embedded store
    .venv/bin/python bench/load.py --minutes 2 --users 20
    .venv/bin/python bench/load.py --backend opensearch  # the node of scripts/opensearch-node

The lab is an ELN export of `--records` records over five labs (runs, samples, experiments;
each lab's users see their lab and nothing else), indexed with `labsearch index` (the real
pipeline and model). The server is a separate process; every user is a thread with its own API
key and HTTP connection that loops: pick a request (50% hybrid search with a filter, 30% list
or count question answered as JSON, 20% streamed chat read to its last event), send it, wait a
random think time. Reported: requests and p50/p95/max latency per route, errors (anything but
2xx, apart from 429s, which are counted apart), and the server's resident memory at minute 1 and
at the end, with the growth between them (the issue asks for at most 10%). Results also go to
artifacts/reliability/load.json for docs/reliability.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
LABS = ["lab-a", "lab-b", "lab-c", "lab-d", "lab-e"]
INSTRUMENTS = ["NovaSeq 6000", "HiSeq 2500", "NextSeq 500", "MiSeq"]
ASSAYS = ["RNA-seq", "ATAC-seq", "WGS", "ChIP-seq"]
TISSUES = ["liver", "kidney", "heart", "lung", "brain"]
REPORT = REPO / "artifacts" / "reliability" / "load.json"
OPENSEARCH = os.environ.get("LABSEARCH_OPENSEARCH_URL", "http://127.0.0.1:9200")
INDEX = f"labsearch-load-{os.getpid()}"


def export(path: Path, records: int, seed: int = 7) -> dict[str, list[str]]:
    """An ELN export over five labs; returns each lab's sample ids (for questions)."""
    rng = random.Random(seed)
    samples: dict[str, list[str]] = defaultdict(list)
    lines = []
    per_lab = max(1, records // len(LABS))
    for lab_number, lab in enumerate(LABS):
        prefix = "LAB" + "ABCDE"[lab_number]
        experiments = max(1, per_lab // 10)
        n_samples = max(1, per_lab * 3 // 10)
        for e in range(experiments):
            assay = rng.choice(ASSAYS)
            lines.append(
                {
                    "id": f"{prefix}-ELN-{e:03d}",
                    "type": "experiment",
                    "title": f"{assay} of {rng.choice(TISSUES)} tissue, series {e}",
                    "description": f"{assay} experiment {e} of {lab}: time course and controls.",
                    "access_groups": [lab],
                    "metadata": {"assay": assay, "lab": lab},
                }
            )
        for s in range(n_samples):
            sample = f"{prefix}-S{s:04d}"
            samples[lab].append(sample)
            tissue = rng.choice(TISSUES)
            lines.append(
                {
                    "id": sample,
                    "type": "sample",
                    "title": f"Sample {sample}, mouse {tissue}",
                    "experiment": f"{prefix}-ELN-{s % experiments:03d}",
                    "access_groups": [lab],
                    "metadata": {"organism": "Mus musculus", "tissue": tissue, "lab": lab},
                }
            )
        for r in range(per_lab - experiments - n_samples):
            used = rng.sample(samples[lab], k=min(2, len(samples[lab])))
            instrument = rng.choice(INSTRUMENTS)
            lines.append(
                {
                    "id": f"{prefix}-RUN-{r:04d}",
                    "type": "run",
                    "title": f"{instrument} run {r} of {', '.join(used)}",
                    "description": f"Sequencing run {r} on the {instrument}.",
                    "experiment": f"{prefix}-ELN-{r % experiments:03d}",
                    "samples": used,
                    "instrument": instrument,
                    "created": f"2024-{1 + r % 12:02d}-{1 + r % 28:02d}",
                    "access_groups": [lab],
                    "metadata": {"lab": lab, "assay": rng.choice(ASSAYS)},
                }
            )
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return samples


def config(home: Path, users: int, backend: str) -> Path:
    lines = [f'home = "{home}"', f'cache_dir = "{home / "cache"}"', f'backend = "{backend}"']
    if backend == "opensearch":
        lines += [f'opensearch_url = "{OPENSEARCH}"', f'opensearch_index = "{INDEX}"']
    for i in range(users):
        lines += [
            f"[users.user{i:02d}]",
            f'groups = ["{LABS[i % len(LABS)]}"]',
            f'api_keys = ["load-key-{i:02d}"]',
        ]
    path = home / "labsearch.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Results:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[str, Counter[int]] = defaultdict(Counter)
        self.errors: list[str] = []

    def add(self, route: str, seconds: float, status: int, problem: str | None = None) -> None:
        with self.lock:
            self.statuses[route][status] += 1
            if 200 <= status < 300:
                self.latency[route].append(seconds)
            elif status != 429 and len(self.errors) < 50:
                self.errors.append(f"{route} {status}: {problem}")


def user(number: int, url: str, samples: list[str], stop: threading.Event, out: Results) -> None:
    rng = random.Random(number)
    headers = {"X-API-Key": f"load-key-{number:02d}"}
    timeout = httpx.Timeout(120.0)
    with httpx.Client(base_url=url, headers=headers, timeout=timeout) as client:
        while not stop.is_set():
            pick = rng.random()
            sample = rng.choice(samples)
            started = time.perf_counter()
            try:
                if pick < 0.5:
                    route = "POST /v1/search"
                    body = {
                        "query": rng.choice(["liver RNA-seq", "kidney", sample, "NovaSeq run"]),
                        "filters": {"entity": rng.choice(["run", "sample", "experiment"])},
                        "facets": ["metadata.instrument"],
                        "size": 10,
                    }
                    response = client.post("/v1/search", json=body)
                    status, problem = response.status_code, response.text[:200]
                elif pick < 0.8:
                    route = "POST /v1/chat (list question)"
                    question = rng.choice(
                        [
                            f"which runs used sample {sample}?",
                            f"how many runs used sample {sample}?",
                            f"which runs were on the {rng.choice(INSTRUMENTS)}?",
                        ]
                    )
                    response = client.post("/v1/chat", json={"message": question})
                    status, problem = response.status_code, response.text[:200]
                else:
                    route = "POST /v1/chat (stream)"
                    message = {"message": f"tell me about sample {sample}", "stream": True}
                    with client.stream("POST", "/v1/chat", json=message) as response:
                        text = response.read().decode()
                    status = response.status_code
                    problem = text[-200:]
                    if status == 200 and "event: done" not in text:
                        status, problem = 599, "stream ended without a done event: " + problem
            except httpx.HTTPError as exc:
                status, problem = 598, f"{type(exc).__name__}: {exc}"
            out.add(route, time.perf_counter() - started, status, problem)
            stop.wait(rng.uniform(0.5, 1.5))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--backend", choices=["embedded", "opensearch"], default="embedded")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABSEARCH_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", QUILT_DISABLE_USAGE_METRICS="true")
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    cli = [sys.executable, "-m", "shell.cli"]
    with tempfile.TemporaryDirectory(prefix="labsearch-load-") as scratch:
        home = Path(scratch)
        samples = export(home / "lab-export.jsonl", args.records)
        env["LABSEARCH_CONFIG"] = str(config(home, args.users, args.backend))
        started = time.monotonic()
        subprocess.run(
            [*cli, "index", f"eln+file://{home / 'lab-export.jsonl'}"], env=env, check=True,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        print(f"indexed {args.records} records in {time.monotonic() - started:.0f} s")
        port = free_port()
        with (home / "server.log").open("w") as log:
            server = subprocess.Popen(
                [*cli, "serve", "--port", str(port)], env=env, stdout=log, stderr=log
            )
            url = f"http://127.0.0.1:{port}"
            try:
                run(args, url, server.pid, samples)
            finally:
                server.send_signal(signal.SIGTERM)
                server.wait(30)
                if args.backend == "opensearch":
                    httpx.delete(f"{OPENSEARCH}/{INDEX}-v*", params={"expand_wildcards": "all"})


def run(args: argparse.Namespace, url: str, pid: int, samples: dict[str, list[str]]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/v1/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    out, stop = Results(), threading.Event()
    threads = [
        threading.Thread(
            target=user, args=(i, url, samples[LABS[i % len(LABS)]], stop, out), daemon=True
        )
        for i in range(args.users)
    ]
    rss: list[tuple[float, int]] = []
    begin = time.monotonic()
    for thread in threads:
        thread.start()
    seconds = args.minutes * 60
    while (elapsed := time.monotonic() - begin) < seconds:
        rss.append((elapsed, rss_kib(pid)))
        time.sleep(min(5.0, max(0.1, seconds - elapsed)))
    rss.append((time.monotonic() - begin, rss_kib(pid)))
    stop.set()
    for thread in threads:
        thread.join(150)
    first_minute = next((kib for t, kib in rss if t >= min(60.0, seconds / 5)), rss[-1][1])
    report = summarize(args, out, first_minute, rss[-1][1], rss)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "rss_samples_kib"}, indent=2))


def summarize(
    args: argparse.Namespace, out: Results, first: int, last: int, rss: list[tuple[float, int]]
) -> dict[str, Any]:
    routes = {}
    for route, statuses in sorted(out.statuses.items()):
        latency = out.latency[route]
        routes[route] = {
            "requests": sum(statuses.values()),
            "ok": len(latency),
            "429": statuses.get(429, 0),
            "errors": sum(n for s, n in statuses.items() if not (200 <= s < 300 or s == 429)),
            "p50_ms": round(1000 * statistics.median(latency), 1) if latency else None,
            "p95_ms": round(1000 * percentile(latency, 0.95), 1) if latency else None,
            "max_ms": round(1000 * max(latency), 1) if latency else None,
        }
    return {
        "command": "bench/load.py " + " ".join(sys.argv[1:]),
        "users": args.users,
        "minutes": args.minutes,
        "records": args.records,
        "backend": args.backend,
        "cpus": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "routes": routes,
        "errors": sum(r["errors"] for r in routes.values()),
        "429s": sum(r["429"] for r in routes.values()),
        "first_errors": out.errors[:10],
        "rss_minute_1_mib": round(first / 1024, 1),
        "rss_end_mib": round(last / 1024, 1),
        "rss_growth_percent": round(100 * (last - first) / first, 1) if first else None,
        "rss_samples_kib": rss,
    }


if __name__ == "__main__":
    main()
