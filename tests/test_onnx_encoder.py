"""The torch-free query path: the ONNX export matches sentence-transformers, is keyed by the
model's files, and Embedder.embed_query uses it without importing torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from labsearch.embeddings import Embedder, resolve_model_path
from labsearch.onnx_encoder import (
    META_FILE,
    OnnxEncoder,
    export_key,
    export_path,
    find_export,
)

ROOT = Path(__file__).resolve().parent.parent
TEXTS = [
    "liver",
    "Bulk RNA-seq of mouse liver 24 h after dexamethasone.",
    "NovaSeq 6000 run LIV-0042 " * 80,  # past the model's 256 word pieces: truncated alike
    "What is the role of p53 in apoptosis?",
]


@pytest.fixture(scope="module")
def export() -> Path:
    """The session's export (tests/conftest.py sets LABSEARCH_EXPORT_DIR), made if missing."""
    embedder = Embedder("all-MiniLM-L6-v2", export_dir=Path(os.environ["LABSEARCH_EXPORT_DIR"]))
    directory = embedder.export_query_model()
    assert directory is not None
    return directory


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    return Embedder("all-MiniLM-L6-v2", precision="float32").embed(TEXTS)


def test_export_matches_sentence_transformers(export, reference):
    encoder = OnnxEncoder(export, "float32")
    batch = encoder.encode(TEXTS)  # padded to the longest text
    one_by_one = np.stack([encoder.encode([t])[0] for t in TEXTS])
    assert batch.shape == reference.shape and batch.dtype == np.float32
    assert (batch * reference).sum(axis=1).min() > 0.99999
    assert (one_by_one * reference).sum(axis=1).min() > 0.99999
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)


def test_int8_variant_stays_close(export, reference):
    vectors = OnnxEncoder(export, "int8").encode(TEXTS)
    assert (vectors * reference).sum(axis=1).min() > 0.98


def test_export_records_what_it_came_from(export):
    meta = json.loads((export / META_FILE).read_text())
    model = Path(resolve_model_path("all-MiniLM-L6-v2"))
    assert meta["model_path"] == str(model.resolve())
    assert meta["pooling"] == "mean" and meta["max_seq_length"] == 256 and meta["dimension"] == 384
    assert set(meta["weights_sha256"]) == {"model.safetensors"}
    assert export == find_export(export.parent, model)


def test_export_key_follows_the_model_files(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"weights")
    before = export_key(model)
    assert export_key(model) == before
    (model / "model.safetensors").write_bytes(b"other weights")
    assert export_key(model) != before
    assert find_export(tmp_path / "exports", model) is None
    assert export_path(tmp_path, "sentence-transformers/some-hub-model") is None


def test_max_tokens_cut_queries_like_documents(export):
    full = OnnxEncoder(export).encode([TEXTS[2]])[0]
    short = OnnxEncoder(export, max_length=16).encode([TEXTS[2]])[0]
    reference = Embedder("all-MiniLM-L6-v2", precision="float32", max_tokens=16).embed([TEXTS[2]])
    assert float(short @ reference[0]) > 0.99999
    assert float(full @ short) < 0.999


def test_embed_query_skips_torch_where_the_export_exists(export, tmp_path):
    code = (
        "import sys, json\n"
        "from pathlib import Path\n"
        "from labsearch.embeddings import Embedder\n"
        f"e = Embedder('all-MiniLM-L6-v2', Path({str(tmp_path)!r}),"
        f" export_dir=Path({str(export.parent)!r}))\n"
        "v = e.embed_query('liver RNA-seq')\n"
        "print(json.dumps({'torch': 'torch' in sys.modules,"
        " 'st': 'sentence_transformers' in sys.modules, 'norm': float((v * v).sum())}))\n"
    )
    path = os.pathsep.join(p for p in [str(ROOT), os.environ.get("PYTHONPATH", "")] if p)
    completed = subprocess.run(
        [sys.executable, "-c", code],
        env=dict(os.environ, PYTHONPATH=path),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report == {"torch": False, "st": False, "norm": pytest.approx(1.0, abs=1e-5)}


def test_torch_backend_and_no_export_directory_use_torch(tmp_path):
    torch_only = Embedder("all-MiniLM-L6-v2", tmp_path, query_backend="torch")
    assert torch_only.query_encoder() is None
    no_dir = Embedder("all-MiniLM-L6-v2")  # no cache, no export directory
    assert no_dir.query_encoder() is None


def test_unexportable_model_keeps_torch(tmp_path, monkeypatch, caplog):
    from labsearch import embeddings

    embedder = Embedder("all-MiniLM-L6-v2", tmp_path, export_dir=tmp_path / "exports")
    monkeypatch.setattr(embeddings, "resolve_model_path", lambda name: "org/hub-only-model")
    monkeypatch.setattr(Embedder, "_load", lambda self: object())
    assert embedder.query_encoder() is None
    assert "no ONNX export" in caplog.text and "use torch" in caplog.text
    assert embedder.query_encoder() is None  # decided once, not retried per query


def test_onnx_document_backend_keys_its_vectors_apart(export, tmp_path, reference):
    torch_side = Embedder("all-MiniLM-L6-v2", tmp_path, export_dir=export.parent)
    int8 = Embedder(
        "all-MiniLM-L6-v2", tmp_path, export_dir=export.parent, backend="onnx-int8", batch_size=2
    )
    assert int8.vector_key == "all-MiniLM-L6-v2#onnx-int8" != torch_side.vector_key
    vectors = int8.embed(TEXTS)  # more texts than a batch: sorted by word pieces, then restored
    assert (vectors * reference).sum(axis=1).min() > 0.98
    assert int8.query_variant == "int8"  # auto: queries like the documents
    assert int8.dimension == 384
