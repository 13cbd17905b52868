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
