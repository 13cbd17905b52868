"""Document-embedding throughput of each backend on the same texts (SciFact abstracts, cut like
the indexer cuts them), each backend in a fresh process, repeated.

    python bench/embed_backends.py [--docs 512] [--repeat 3] [--json]

Backends: torch at bfloat16 autocast, torch at float32, the ONNX export at float32 and its int8
variant (onnxruntime dynamic quantisation, per-channel), both through labsearch's Embedder; and,
measured for issue 18 but not product backends: the export quantised by onnxruntime's static
quantisation (`onnx-int8-static`: QDQ, per-channel int8 weights, activations calibrated on 200
SciFact texts), and OpenVINO running the float32 export (`openvino-float32`, and
`openvino-bfloat16`, OpenVINO's default precision on a CPU with bfloat16) or the static int8 model
(`openvino-int8-static`). Those reuse OnnxEncoder's tokenisation, pooling and normalisation; a
backend whose library is missing is skipped, saying so. Reported per backend: the model load
(with the libraries' imports, and for ONNX/OpenVINO the session) and the embedding itself, wall
and CPU seconds (user + system; the machine has two cores and other jobs), texts per wall second.
Retrieval quality per backend is `labsearch eval beir` with LABSEARCH_EMBED_BACKEND for the
product's backends (docs/evaluation.md), and bench/dense_ndcg.py for the others.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import numpy as np

from labsearch.onnx_encoder import META_FILE, MODEL_FILES, OnnxEncoder

ROOT = Path(__file__).resolve().parents[1]
BACKENDS: dict[str, dict[str, Any]] = {
    "torch-bfloat16": {"backend": "torch", "precision": "bfloat16"},
    "torch-float32": {"backend": "torch", "precision": "float32"},
    "onnx-float32": {"backend": "onnx", "precision": "float32"},
    "onnx-int8": {"backend": "onnx-int8", "precision": "float32"},
    # Not product backends: an encoder built here replaces the Embedder's (`encoder`).
    "onnx-int8-static": {"model": "static", "runtime": "onnxruntime"},
    "openvino-float32": {"model": "export", "runtime": "openvino-f32"},
    "openvino-bfloat16": {"model": "export", "runtime": "openvino-bf16"},
    "openvino-int8-static": {"model": "static", "runtime": "openvino-f32"},
}
CALIBRATION_TEXTS = 200

SIDE = r"""
import json, sys, time
from pathlib import Path
args = json.loads(sys.argv[1])
texts = json.loads(Path(args["texts"]).read_text())
t0, c0 = time.perf_counter(), time.process_time()
from labsearch.embeddings import Embedder
e = Embedder("all-MiniLM-L6-v2", batch_size=32, precision=args.get("precision", "float32"),
             backend=args.get("backend", "onnx"), export_dir=Path(args["export_dir"]))
if "runtime" in args:
    from embed_backends import encoder
    e._document_encoder = encoder(Path(args["model_dir"]), args["variant"], args["runtime"])
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


class OpenVinoSession:
    """What OnnxEncoder calls of an onnxruntime session (`get_inputs`, `run`), on the same ONNX
    file compiled by OpenVINO for the CPU at `precision` ("f32", "bf16")."""

    def __init__(self, path: str, precision: str) -> None:
        import openvino

        self._model = openvino.Core().compile_model(
            path, "CPU", {"INFERENCE_PRECISION_HINT": precision}
        )
        self._request = self._model.create_infer_request()

    def get_inputs(self) -> list[SimpleNamespace]:
        return [SimpleNamespace(name=port.get_any_name()) for port in self._model.inputs]

    def run(self, _outputs: Any, feeds: dict[str, Any]) -> list[Any]:
        return [self._request.infer(feeds)[self._model.output(0)]]


def encoder(directory: Path, variant: str, runtime: str) -> OnnxEncoder:
    """An OnnxEncoder of `directory`'s `variant` model, run by onnxruntime (sleeping idle
    threads, as labsearch's document sessions) or by OpenVINO in place of its session."""
    if runtime == "onnxruntime":
        return OnnxEncoder(directory, variant, spin=False)  # type: ignore[arg-type]
    import onnxruntime

    hint = runtime.removeprefix("openvino-")
    with mock.patch.object(
        onnxruntime, "InferenceSession", lambda path, *_, **__: OpenVinoSession(path, hint)
    ):
        return OnnxEncoder(directory, variant)  # type: ignore[arg-type]


def static_int8(export: Path, texts: list[str], target: Path) -> Path:
    """`export`'s float32 model quantised by onnxruntime's static quantisation (QDQ, int8
    per-channel weights, uint8 activations whose ranges are calibrated on `texts`, one text per
    run), saved as the int8 variant of an export directory `target` (made once)."""
    if (target / META_FILE).is_file():
        return target
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    tokenizer = OnnxEncoder(export)._tokenizer
    feeds = []
    for encoding in tokenizer.encode_batch(texts):
        ids = np.array([encoding.ids], dtype=np.int64)
        feeds.append(
            {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": ids * 0}
        )

    class Calibration(CalibrationDataReader):
        def __init__(self) -> None:
            self._feeds = iter(feeds)

        def get_next(self) -> dict[str, Any] | None:
            return next(self._feeds, None)

    work = target.with_name(f".{target.name}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    prepared = work / "prepared.onnx"
    # (the SDPA attention of the export defeats symbolic shape inference: ONNX inference only)
    quant_pre_process(str(export / MODEL_FILES["float32"]), str(prepared), skip_symbolic_shape=True)
    quantize_static(
        str(prepared),
        str(work / MODEL_FILES["int8"]),
        Calibration(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        weight_type=QuantType.QInt8,
        activation_type=QuantType.QUInt8,
    )
    prepared.unlink()
    for name in ("tokenizer.json", META_FILE):
        shutil.copy(export / name, work / name)
    shutil.rmtree(target, ignore_errors=True)
    work.rename(target)
    return target


def model_dirs(settings: Any, shared: Path) -> dict[str, Path]:
    """The float32 export labsearch made (`export`) and its static int8 quantisation (`static`,
    made on first use under the cache directory, calibrated on the first SciFact texts)."""
    from labsearch.embeddings import Embedder

    export_dir = settings.export_dir or settings.cache_dir / "onnx"
    export = Embedder("all-MiniLM-L6-v2", export_dir=export_dir).export_query_model()
    assert export is not None, "no ONNX export of all-MiniLM-L6-v2"
    target = Path(settings.cache_dir) / "bench" / f"{export.name}-int8-static-{CALIBRATION_TEXTS}"
    return {
        "export": export,
        "static": static_int8(export, scifact_texts(shared, CALIBRATION_TEXTS), target),
    }


def missing_library(name: str) -> str | None:
    """The library a backend needs that is not installed, if any."""
    needed = "openvino" if BACKENDS[name].get("runtime", "").startswith("openvino") else None
    return needed if needed and importlib.util.find_spec(needed) is None else None


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
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "bench"), env["PYTHONPATH"]])
    names = args.backend or list(BACKENDS)
    skipped = {name: library for name in names if (library := missing_library(name))}
    for name, library in skipped.items():
        print(f"skipped {name}: {library} is not installed", file=sys.stderr)
    dirs = None
    results = {}
    for name in [n for n in names if n not in skipped]:
        side = dict(
            BACKENDS[name], texts=str(texts_file), export_dir=str(export_dir), repeat=args.repeat
        )
        if "model" in side:
            dirs = dirs or model_dirs(settings, shared.resolve())
            side["model_dir"] = str(dirs[side["model"]])
            side["variant"] = "int8" if side["model"] == "static" else "float32"
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
        f"{'backend':21}{'load wall':>10}{'load cpu':>10}{'embed wall':>12}{'min':>8}"
        f"{'embed cpu':>11}{'texts/s':>9}"
    )
    for name, r in results.items():
        print(
            f"{name:21}{r['load_wall_s']:10.2f}{r['load_cpu_s']:10.2f}{r['embed_wall_s']:12.2f}"
            f"{r['embed_wall_min_s']:8.2f}{r['embed_cpu_s']:11.2f}{r['texts_per_s']:9.1f}"
        )


if __name__ == "__main__":
    main()
