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

Inputs are lists of (key, score), best first; keys are anything hashable and orderable (store
row ids, document ids). Ties are broken by key so results are deterministic.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

from labsearch.errors import ConfigError

K = TypeVar("K", bound=Hashable)

METHODS = ("rrf", "convex")


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
    else:
        raise ConfigError(f"unknown fusion method {method!r}; use one of {', '.join(METHODS)}")
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))
