"""Cold `labsearch search` as a new process, the way a shell runs it, on an existing index.

    python bench/cold_search.py --dir DEMO_DIR [--repeat 5] [--backend onnx --backend torch]
    python bench/cold_search.py --dir DEMO_DIR --profile

DEMO_DIR is what `labsearch demo --no-serve --dir DEMO_DIR` built (its lab/labsearch.toml and
home/); without --dir the current LABSEARCH_CONFIG / LABSEARCH_HOME are used. Each repeat is a
fresh interpreter running `python -m shell.cli search QUERY --as-user bob`; wall time is measured
around the process and CPU time (user + system) from the children's rusage, since other jobs may
share the machine's two cores. The first run of a backend without its ONNX export makes it
(`labsearch index` normally does): run once to warm it, or see the first row.

--profile runs the same search in one process with phase timings (imports, opening the index
and model, embedding the query, ranking, printing) and the top modules by import time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUERY = "dexamethasone liver RNA-seq"

PROFILE = r"""
import json, sys, time
marks = [("start", time.perf_counter(), time.process_time())]
def mark(name):
    marks.append((name, time.perf_counter(), time.process_time()))
import shell.cli
mark("import shell.cli (typer, rich, pydantic, settings)")
from labsearch.access import Access
from labsearch.models import SearchRequestModel
from labsearch.settings import get_settings
from retriever.service import SearchService
mark("import retriever.service")
settings = get_settings()
mark("read settings")
service = SearchService.from_settings(settings)
mark("open index and embedder (no model yet)")
encoder = service.embedder.query_encoder()
mark("load query model (ONNX session)" if encoder else "no ONNX export")
vector = service.embedder.embed_query(sys.argv[1])
mark("embed the query")
response = service.search(SearchRequestModel(query=sys.argv[1]), Access.as_operator())
mark("rank (store search) and build hits")
shell.cli.out.print(response.hits[0].title if response.hits else "(no hits)")
mark("print")
service.close()
mark("close")
heavy = ["torch", "sentence_transformers", "transformers", "onnxruntime", "fastapi", "langchain"]
print(json.dumps({
    "phases": [(b[0], b[1] - a[1], b[2] - a[2]) for a, b in zip(marks, marks[1:])],
    "imported": {m: m in sys.modules for m in heavy},
}))
"""


def environment(directory: Path | None, backend: str | None) -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(ROOT), env.get("PYTHONPATH", "")] if p)
    if directory is not None:
        env["LABSEARCH_CONFIG"] = str(directory / "lab" / "labsearch.toml")
        env["LABSEARCH_HOME"] = str(directory / "home")
    if backend:
        env["LABSEARCH_QUERY_BACKEND"] = backend
    return env


def one_search(env: dict[str, str], query: str) -> tuple[float, float]:
    """(wall, cpu) seconds of one `python -m shell.cli search` in a new process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "shell.cli", "search", query, "--as-user", "bob"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        sys.exit(f"search failed:\n{completed.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def measure(env: dict[str, str], query: str, repeat: int) -> dict:
    first = one_search(env, query)
    runs = [one_search(env, query) for _ in range(repeat)]
    walls, cpus = [w for w, _ in runs], [c for _, c in runs]
    return {
        "first": {"wall_s": first[0], "cpu_s": first[1]},
        "wall_s": {"median": statistics.median(walls), "min": min(walls), "max": max(walls)},
        "cpu_s": {"median": statistics.median(cpus), "min": min(cpus), "max": max(cpus)},
        "repeat": repeat,
    }


def profile(env: dict[str, str], query: str) -> dict:
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", PROFILE, query],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    top = []  # modules imported at the top level, with everything they imported
    for line in completed.stderr.splitlines():
        parts = line.split("|")
        if line.startswith("import time:") and len(parts) == 3 and parts[1].strip().isdigit():
            name = parts[2][1:]  # one space after the bar; more means a nested import
            if not name.startswith(" "):
                top.append((name.strip(), int(parts[1]) / 1e6))
    top.sort(key=lambda item: -item[1])
    result["top_level_imports_s"] = top[:15]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, help="a `labsearch demo --dir` directory")
    parser.add_argument("--query", default=QUERY)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--backend",
        action="append",
        choices=["auto", "onnx", "onnx-int8", "torch"],
        help="LABSEARCH_QUERY_BACKEND values to compare (default: the configured one)",
    )
    parser.add_argument("--profile", action="store_true", help="phase timings of one search")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    results: dict = {}
    for backend in args.backend or [None]:
        env = environment(args.dir, backend)
        label = backend or "configured"
        results[label] = (
            profile(env, args.query) if args.profile else measure(env, args.query, args.repeat)
        )
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for label, result in results.items():
        if args.profile:
            print(f"{label}: phases (wall s / cpu s)")
            for name, wall, cpu in result["phases"]:
                print(f"  {name:52}{wall:7.3f}{cpu:7.3f}")
            print(f"  imported: {result['imported']}")
            print("  top-level imports (cumulative s):")
            for name, seconds in result["top_level_imports_s"]:
                print(f"    {name:40}{seconds:7.3f}")
            continue
        wall, cpu = result["wall_s"], result["cpu_s"]
        print(
            f"{label:10} first {result['first']['wall_s']:.2f} s wall / "
            f"{result['first']['cpu_s']:.2f} s cpu; then x{result['repeat']}: wall median "
            f"{wall['median']:.2f} (min {wall['min']:.2f}, max {wall['max']:.2f}), cpu median "
            f"{cpu['median']:.2f} (min {cpu['min']:.2f}, max {cpu['max']:.2f})"
        )


if __name__ == "__main__":
    main()
