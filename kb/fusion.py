"""Rank fusion as pure functions over plain ranked lists.

Dense and BM25 scores live on different scales (cosine 0.7–0.9 vs BM25 0–30), so
they are fused by rank (reciprocal rank fusion) or by min-max normalised score;
``kb eval retrieval`` measures both on the dev set.
"""

from __future__ import annotations

from collections.abc import Sequence


def rrf(rankings: Sequence[Sequence[int]], k: int = 60, weights: Sequence[float] | None = None) -> list[tuple[int, float]]:
    """Reciprocal rank fusion: score(d) = Σ w_i / (k + rank_i(d)), ranks starting at 1."""
    weights = weights or [1.0] * len(rankings)
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def minmax_weighted(
    scored: Sequence[Sequence[tuple[int, float]]], weights: Sequence[float] | None = None
) -> list[tuple[int, float]]:
    """Convex combination of min-max normalised scores; an item missing from a list scores 0 there."""
    weights = weights or [1.0] * len(scored)
    total: dict[int, float] = {}
    for items, weight in zip(scored, weights):
        if not items:
            continue
        values = [s for _, s in items]
        lo, hi = min(values), max(values)
        span = hi - lo
        for item, score in items:
            norm = (score - lo) / span if span > 0 else 1.0
            total[item] = total.get(item, 0.0) + weight * norm
    return sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))
