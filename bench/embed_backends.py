"""Document-embedding throughput of each backend on the same texts (SciFact abstracts, cut like
the indexer cuts them), each backend in a fresh process, repeated.

    python bench/embed_backends.py [--docs 512] [--repeat 3] [--json]

Backends: torch at bfloat16 autocast (today's default on a CPU with native bfloat16), torch at
float32, the ONNX export at float32 and its int8 variant (onnxruntime dynamic quantisation,
per-channel). Reported per backend: the model load (and, for ONNX, the session) and the
embedding itself, wall and CPU seconds (user + system; the machine has two cores and other jobs),
texts per wall second. Retrieval quality per backend is `labsearch eval beir` with
LABSEARCH_EMBED_BACKEND (docs/evaluation.md).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = {
    "torch-bfloat16": {"backend": "torch", "precision": "bfloat16"},
    "torch-float32": {"backend": "torch", "precision": "float32"},
    "onnx-float32": {"backend": "onnx", "precision": "float32"},
    "onnx-int8": {"backend": "onnx-int8", "precision": "float32"},
}

SIDE = r"""
import json, sys, time
from pathlib import Path
args = json.loads(sys.argv[1])
texts = json.loads(Path(args["texts"]).read_text())
t0, c0 = time.perf_counter(), time.process_time()
from labsearch.embeddings import Embedder
e = Embedder("all-MiniLM-L6-v2", batch_size=32, precision=args["precision"],
             backend=args["backend"], export_dir=Path(args["export_dir"]))
e._encode(texts[:2])  # loads the model / session
t1, c1 = time.perf_counter(), time.process_time()
runs = []
for _ in range(args["repeat"]):
    a, b = time.perf_counter(), time.process_time()
    e._encode(texts)
    runs.append((time.perf_counter() - a, time.process_time() - b))
print(json.dumps({"load": [t1 - t0, c1 - c0], "runs": runs}))
"""


def scifact_texts(shared: Path, count: int, max_chars: int = 2000) -> list[str]:
    texts = []
    with (shared / "datasets" / "scifact" / "corpus.jsonl").open() as handle:
        for line in handle:
            doc = json.loads(line)
            texts.append(f"{doc.get('title', '')}\n{doc.get('text', '')}"[:max_chars])
            if len(texts) == count:
                break
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backend", action="append", choices=list(BACKENDS))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from labsearch.settings import Settings

    settings = Settings()
    shared = settings.shared if settings.shared.is_absolute() else (ROOT / settings.shared)
    export_dir = settings.export_dir or settings.cache_dir / "onnx"
    texts_file = Path(settings.cache_dir) / "bench-embed-texts.json"
    texts_file.parent.mkdir(parents=True, exist_ok=True)
    texts_file.write_text(json.dumps(scifact_texts(shared.resolve(), args.docs)))
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(ROOT), env.get("PYTHONPATH", "")] if p)
    results = {}
    for name in args.backend or list(BACKENDS):
        side = dict(
            BACKENDS[name], texts=str(texts_file), export_dir=str(export_dir), repeat=args.repeat
        )
        completed = subprocess.run(
            [sys.executable, "-c", SIDE, json.dumps(side)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        out = json.loads(completed.stdout.strip().splitlines()[-1])
        walls = [w for w, _ in out["runs"]]
        cpus = [c for _, c in out["runs"]]
        results[name] = {
            "load_wall_s": out["load"][0],
            "load_cpu_s": out["load"][1],
            "embed_wall_s": statistics.median(walls),
            "embed_wall_min_s": min(walls),
            "embed_cpu_s": statistics.median(cpus),
            "texts_per_s": args.docs / statistics.median(walls),
            "runs": out["runs"],
        }
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{args.docs} SciFact texts, batches of 32, median of {args.repeat}")
    print(
        f"{'backend':16}{'load wall':>10}{'load cpu':>10}{'embed wall':>12}{'min':>8}"
        f"{'embed cpu':>11}{'texts/s':>9}"
    )
    for name, r in results.items():
        print(
            f"{name:16}{r['load_wall_s']:10.2f}{r['load_cpu_s']:10.2f}{r['embed_wall_s']:12.2f}"
            f"{r['embed_wall_min_s']:8.2f}{r['embed_cpu_s']:11.2f}{r['texts_per_s']:9.1f}"
        )


if __name__ == "__main__":
    main()
