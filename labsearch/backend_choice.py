"""`LABSEARCH_EMBED_BACKEND=auto`: which document backend to use on this CPU, measured once.

Only backends that held retrieval quality are candidates (docs/evaluation.md, "Document
embedding"): sentence-transformers on torch (float32, or bfloat16 autocast where that measured
faster) and the model's float32 ONNX export through onnxruntime, whose vectors equal torch's to
cosine >= 0.99999. Dynamic int8 ONNX is not one: it lost 0.009-0.017 nDCG@10 on the lab
evaluation's descriptive and experiment questions, over the 0.005 bound.

Which is faster depends on the CPU and the library versions (bfloat16 autocast was 2.6x float32
on one machine and 0.64x on the next), so the first run that embeds documents times both on the
same calibration texts and remembers the answer in `<export_dir>/backend.json`, keyed by CPU
model, core count and library versions. What is compared is CPU seconds (loading the model,
libraries excluded, plus embedding): other jobs on a shared machine disturb them less than wall
time. Later processes read that file: an unchanged re-index decides without loading a model.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CANDIDATES = ("torch", "onnx")
CHOICE_FILE = "backend.json"


def cpu_key() -> str:
    """What the measurement depends on: CPU model, usable cores, torch and onnxruntime."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions = []
    for package in ("torch", "onnxruntime"):
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{package} absent")
    return f"{cpu}|{cores} cores|{'|'.join(versions)}"


def calibration_texts(count: int = 48) -> list[str]:
    """Texts like an indexed asset's (about 130 word pieces: a run's metadata and description),
    varied so that batches are not all one length."""
    base = (
        "Quilt package lab-a/run-{i} in registry s3://lab-data. Message: RNA-seq of mouse liver "
        "after dexamethasone, library prepared with the TruSeq stranded kit and sequenced on a "
        "NovaSeq 6000, paired-end 2x150. Samples from three animals per group, harvested 24 h "
        "after treatment. Files: FASTQ reads, a sample sheet and a README with the protocol. "
    )
    return [base.format(i=i) + "Counts per gene and QC. " * (i % 9) for i in range(count)]


def remembered(export_dir: Path | None) -> str | None:
    """The backend measured fastest on this CPU, if measured."""
    if export_dir is None:
        return None
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        choice = json.loads((export_dir / CHOICE_FILE).read_text())[cpu_key()]["backend"]
        if choice in CANDIDATES:
            return str(choice)
    return None


def remember(export_dir: Path | None, seconds: dict[str, dict[str, float]]) -> str:
    """Pick the backend with the fewest CPU seconds (loading the model and embedding the
    calibration texts) and write the measurement down; returns the choice."""
    choice = min(seconds, key=lambda name: seconds[name]["cpu_s"])
    entry: dict[str, Any] = {"backend": choice, **seconds}
    log.info("document embedding backend on %s: %s", cpu_key(), entry)
    if export_dir is not None:
        path = export_dir / CHOICE_FILE
        known: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            known = json.loads(path.read_text())
        known[cpu_key()] = entry
        with contextlib.suppress(OSError):
            export_dir.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f".{path.name}.{os.getpid()}")
            temporary.write_text(json.dumps(known, indent=2))
            os.replace(temporary, path)
    return choice
