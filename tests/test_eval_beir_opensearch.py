"""SciFact on OpenSearch ranks as well as on the embedded store (issue 19).

Both stores index the same SciFact test split with the same cached embeddings and answer the
300 queries in hybrid mode (what users get); their nDCG@10 may differ by at most 0.02 (HNSW is
approximate, Lucene's BM25 is not FTS5's to the last digit). Slow like tests/test_eval_beir.py:
the embeddings come from the shared cache (`LABSEARCH_CACHE_DIR`, computed once); indexing into
the node and the queries take about a minute.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import requests
from opensearch_fixtures import *  # noqa: F403 - pytest fixtures, used by name

from eval.beir import evaluate_beir
from labsearch.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.integration]

TOLERANCE = 0.02


def _settings(**overrides) -> Settings:
    cache = os.environ.get("LABSEARCH_CACHE_DIR")
    return Settings(**({"cache_dir": Path(cache)} if cache else {}), **overrides)


def test_scifact_hybrid_on_opensearch_is_within_002_of_the_embedded_store(
    shared_dir: Path, opensearch_node: str
) -> None:
    dataset = shared_dir / "datasets" / "scifact"
    embedded = evaluate_beir(_settings(backend="embedded"), dataset, "test", modes=("hybrid",))
    alias = f"labsearch-test-{uuid.uuid4().hex[:12]}"
    settings = _settings(
        backend="opensearch",
        opensearch_url=opensearch_node,
        opensearch_index=alias,
        opensearch_user=None,
        opensearch_password=None,
        opensearch_aws_region=None,
    )
    try:
        on_node = evaluate_beir(settings, dataset, "test", modes=("hybrid",))
    finally:
        requests.delete(f"{opensearch_node}/{alias}-*", timeout=60)
    assert on_node.backend == "opensearch" and on_node.queries == 300
    assert on_node.documents == embedded.documents == 5183
    ours, theirs = on_node.metrics["hybrid"]["ndcg@10"], embedded.metrics["hybrid"]["ndcg@10"]
    print(f"SciFact hybrid nDCG@10: OpenSearch {ours}, embedded {theirs}")  # shown with -s
    assert abs(ours - theirs) <= TOLERANCE, (
        f"SciFact hybrid nDCG@10: OpenSearch {ours} vs embedded {theirs} "
        f"(fusion {on_node.fusion}; docs/opensearch.md explains the differences)"
    )
