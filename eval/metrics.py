"""Retrieval and answer metrics, as pure functions over ids.

Ranking metrics follow trec_eval (what BEIR reports through pytrec_eval): graded relevance with
linear gain, log2 discount, ideal DCG over every judged-relevant document, documents absent from
the judgements count as non-relevant. Set metrics compare exact sets of ids.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np


def dcg(gains: Sequence[float]) -> float:
    """Discounted cumulative gain of gains in rank order (rank 1 has discount log2(2) = 1)."""
    return sum(g / math.log2(rank + 1) for rank, g in enumerate(gains, start=1))


def ndcg_at_k(ranked: Sequence[str], relevance: Mapping[str, int], k: int = 10) -> float:
    """nDCG@k; 0.0 when nothing is relevant (such queries are normally left out)."""
    ideal = dcg(sorted((g for g in relevance.values() if g > 0), reverse=True)[:k])
    if ideal == 0:
        return 0.0
    gains = [max(relevance.get(doc, 0), 0) for doc in _unique(ranked)[:k]]
    return dcg(gains) / ideal


def recall_at_k(ranked: Sequence[str], relevance: Mapping[str, int], k: int = 100) -> float:
    """Share of the relevant documents found in the top k."""
    relevant = {doc for doc, g in relevance.items() if g > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(_unique(ranked)[:k])) / len(relevant)


def mrr_at_k(ranked: Sequence[str], relevance: Mapping[str, int], k: int = 10) -> float:
    """Reciprocal rank of the first relevant document within the top k, else 0."""
    for rank, doc in enumerate(_unique(ranked)[:k], start=1):
        if relevance.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


def _unique(ranked: Sequence[str]) -> list[str]:
    """A document counts once, at its best rank (a store must not return duplicates anyway)."""
    return list(dict.fromkeys(ranked))


def mean(values: Iterable[float]) -> float:
    items = list(values)
    return float(sum(items) / len(items)) if items else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (linear interpolation, as numpy's default); 0.0 for no values."""
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else 0.0


@dataclass(frozen=True)
class SetScore:
    """Exact-set comparison of an answer with the truth."""

    precision: float
    recall: float
    f1: float
    missing: tuple[str, ...]  # in the truth, not in the answer
    extra: tuple[str, ...]  # in the answer, not in the truth


def set_scores(predicted: Iterable[str], expected: Iterable[str]) -> SetScore:
    """Precision, recall and F1 of a predicted set. Two empty sets agree perfectly (1.0)."""
    got, want = set(predicted), set(expected)
    hits = len(got & want)
    if not got and not want:
        return SetScore(1.0, 1.0, 1.0, (), ())
    precision = hits / len(got) if got else 0.0
    recall = hits / len(want) if want else 0.0
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    return SetScore(precision, recall, f1, tuple(sorted(want - got)), tuple(sorted(got - want)))
