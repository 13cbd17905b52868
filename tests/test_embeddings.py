"""The embedder's precision and length settings, on the real default model."""

from __future__ import annotations

import numpy as np

from labsearch.embeddings import Embedder

TEXTS = [
    "RNA-seq of mouse liver under a high-fat diet",
    "BAM alignments of sample reads against GRCm39, coordinate-sorted",
    "How do I extract total RNA from tissue?",
]


def test_bfloat16_vectors_match_float32_ones():
    exact = Embedder("all-MiniLM-L6-v2", precision="float32").embed(TEXTS)
    fast = Embedder("all-MiniLM-L6-v2", precision="bfloat16").embed(TEXTS)
    assert fast.dtype == np.float32
    assert np.all((exact * fast).sum(axis=1) > 0.999)


def test_max_tokens_cuts_long_texts_and_caches_them_apart(tmp_path):
    long_text = "liver " * 400
    full = Embedder("all-MiniLM-L6-v2", tmp_path, precision="float32")
    short = Embedder("all-MiniLM-L6-v2", tmp_path, precision="float32", max_tokens=16)
    a, b = full.embed([long_text])[0], short.embed([long_text])[0]
    assert short.computed == 1  # not served the full-length vector from the shared cache
    assert float(a @ b) < 0.9999
    # Cut at 16 word pieces, 400 repetitions read like 14 ([CLS] and [SEP] take two).
    assert float(short.embed(["liver " * 14])[0] @ b) > 0.999


def test_auto_backend_is_measured_once_per_cpu_then_read(tmp_path):
    """`LABSEARCH_EMBED_BACKEND=auto`: the first embedder times torch and float32 ONNX on this
    CPU and remembers the faster beside the exports; its vectors are keyed by it and equal
    torch's. A later embedder (a new process) reads the choice without loading any model."""
    import json
    import os
    from pathlib import Path

    from labsearch import backend_choice

    exports = Path(os.environ["LABSEARCH_EXPORT_DIR"])  # the session's export, made once
    choices = tmp_path / "exports"
    choices.mkdir()
    for entry in exports.iterdir():  # the same export, but no remembered choice yet
        (choices / entry.name).symlink_to(entry)
    first = Embedder("all-MiniLM-L6-v2", tmp_path / "a", backend="auto", export_dir=choices)
    chosen = first.backend
    measured = json.loads((choices / backend_choice.CHOICE_FILE).read_text())
    entry = measured[backend_choice.cpu_key()]
    assert entry["backend"] == chosen in backend_choice.CANDIDATES
    assert entry[chosen]["cpu_s"] == min(entry[name]["cpu_s"] for name in ("torch", "onnx"))
    assert first.vector_key == ("all-MiniLM-L6-v2" + ("" if chosen == "torch" else "#onnx"))
    reference = Embedder("all-MiniLM-L6-v2", precision="float32").embed(TEXTS)
    assert np.all((first.embed(TEXTS) * reference).sum(axis=1) > 0.9999)

    later = Embedder("all-MiniLM-L6-v2", tmp_path / "b", backend="auto", export_dir=choices)
    assert later.vector_key == first.vector_key and later._model is None
    assert later.query_variant == "int8"  # queries stay on the int8 export either way
