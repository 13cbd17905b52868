"""The retrieval-quality floor: SciFact test split on the embedded store, all three modes.

Slow: embedding SciFact's 5,183 abstracts takes minutes on two cores the first time. The
embeddings go to `LABSEARCH_CACHE_DIR` (default ~/.cache/labsearch, the same cache `labsearch
eval beir` uses), so later runs only rebuild the SQLite index and run the 300 queries.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from eval.beir import evaluate_beir

pytestmark = pytest.mark.slow

# Hybrid nDCG@10 on the SciFact test split: 0.72 since issue 3; raised by issue 22's z-score
# fusion, which measured 0.7379 (docs/evaluation.md, "Options").
FLOOR = 0.73


@pytest.fixture(scope="module")
def scifact_run(shared_dir: Path):
    from labsearch.settings import Settings

    dataset = shared_dir / "datasets" / "scifact"
    cache = os.environ.get("LABSEARCH_CACHE_DIR")
    settings = Settings(backend="embedded", **({"cache_dir": Path(cache)} if cache else {}))
    return evaluate_beir(settings, dataset, "test")


def test_hybrid_keeps_the_floor(scifact_run) -> None:
    hybrid = scifact_run.metrics["hybrid"]
    assert scifact_run.queries == 300 and scifact_run.documents == 5183
    assert hybrid["ndcg@10"] >= FLOOR, (
        f"hybrid nDCG@10 {hybrid['ndcg@10']} < {FLOOR} with embed_max_chars="
        f"{scifact_run.embed_max_chars} and fusion {scifact_run.fusion} (docs/evaluation.md: "
        f"z-score 0.6/0.4 -> 0.7379, convex 0.6/0.4 -> 0.7283): {scifact_run.metrics}"
    )


def test_hybrid_beats_both_single_modes(scifact_run) -> None:
    metrics = scifact_run.metrics
    assert metrics["hybrid"]["ndcg@10"] > metrics["bm25"]["ndcg@10"], metrics
    assert metrics["hybrid"]["ndcg@10"] > metrics["dense"]["ndcg@10"], metrics
    assert metrics["hybrid"]["recall@100"] >= max(
        metrics["bm25"]["recall@100"], metrics["dense"]["recall@100"]
    ), metrics
