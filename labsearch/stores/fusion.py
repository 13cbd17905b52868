"""Fusion of ranked lists (BM25 and dense) into one ranking: pure functions every store shares.

Two methods, chosen by `FusionSettings.method`:

- `rrf`: weighted reciprocal-rank fusion, score = sum over lists of weight / (rrf_k + rank).
  Uses ranks only, so it needs no calibration, but it throws away how far apart scores are.
- `convex`: min-max normalise each list's scores to [0, 1] over its own candidates, then
  score = sum of weight * normalised score (weights are the mix; a document absent from a list
  gets 0 from it, i.e. no better than that list's last candidate). Bruch et al., "An Analysis of
  Fusion Functions for Hybrid Retrieval" (ACM TOIS 2023), find this convex combination beats RRF
  once its weight is tuned on a little training data — as it is here, on SciFact's train split
  (docs/evaluation.md).
- `zscore`: the same weighted sum over z-scores (each list's scores minus their mean, over their
  standard deviation); a document absent from a list gets that list's lowest z-score. Min-max
  leans on the two extreme scores of a list, z-scores on all of them; on SciFact it scored
  nDCG@10 +0.0025 over `convex` on train and +0.0046 on test (docs/evaluation.md, issue 22).

Inputs are lists of (key, score), best first; keys are anything hashable and orderable (store
row ids, document ids). Ties are broken by key so results are deterministic.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

from labsearch.errors import ConfigError

K = TypeVar("K", bound=Hashable)

METHODS = ("rrf", "convex", "zscore")


def rrf(lists: Sequence[Sequence[tuple[K, float]]], weights: Sequence[float], rrf_k: int) -> dict:
    """Key -> weighted reciprocal-rank score (ranks are 1-based)."""
    fused: dict = {}
    for ranked, weight in zip(lists, weights, strict=True):
        for rank, (key, _score) in enumerate(ranked, start=1):
            fused[key] = fused.get(key, 0.0) + weight / (rrf_k + rank)
    return fused


def min_max(ranked: Sequence[tuple[K, float]]) -> dict:
    """Key -> score scaled to [0, 1] over this list (all 1.0 when every score is equal)."""
    if not ranked:
        return {}
    scores = [score for _key, score in ranked]
    low, high = min(scores), max(scores)
    span = high - low
    return {key: (score - low) / span if span > 0 else 1.0 for key, score in ranked}


def convex(lists: Sequence[Sequence[tuple[K, float]]], weights: Sequence[float]) -> dict:
    """Key -> weighted sum of min-max normalised scores."""
    fused: dict = {}
    for ranked, weight in zip(lists, weights, strict=True):
        for key, value in min_max(ranked).items():
            fused[key] = fused.get(key, 0.0) + weight * value
    return fused


def z_scores(ranked: Sequence[tuple[K, float]]) -> tuple[dict, float]:
    """Key -> (score - mean) / standard deviation over this list, and the lowest of them (what a
    key missing from the list gets). A list whose scores are all equal (one candidate, say)
    carries rank and no spread: its keys get 1.0 and missing keys 0.0, as with min-max."""
    if not ranked:
        return {}, 0.0
    scores = [score for _key, score in ranked]
    mean = sum(scores) / len(scores)
    spread = (sum((score - mean) ** 2 for score in scores) / len(scores)) ** 0.5
    if spread <= 1e-12 * max(1.0, abs(mean)):
        return {key: 1.0 for key, _score in ranked}, 0.0
    normalised = {key: (score - mean) / spread for key, score in ranked}
    return normalised, min(normalised.values())


def zscore(lists: Sequence[Sequence[tuple[K, float]]], weights: Sequence[float]) -> dict:
    """Key -> weighted sum of z-scores; a key absent from a list gets that list's lowest."""
    normalised = [z_scores(ranked) for ranked in lists]
    keys = dict.fromkeys(key for values, _floor in normalised for key in values)
    return {
        key: sum(
            weight * values.get(key, floor)
            for (values, floor), weight in zip(normalised, weights, strict=True)
        )
        for key in keys
    }


def fuse(
    lists: Sequence[Sequence[tuple[K, float]]],
    weights: Sequence[float],
    method: str = "rrf",
    rrf_k: int = 60,
) -> list[tuple[K, float]]:
    """One ranking from several: (key, fused score), best first, ties by key."""
    if method == "rrf":
        fused = rrf(lists, weights, rrf_k)
    elif method == "convex":
        fused = convex(lists, weights)
    elif method == "zscore":
        fused = zscore(lists, weights)
    else:
        raise ConfigError(f"unknown fusion method {method!r}; use one of {', '.join(METHODS)}")
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))
