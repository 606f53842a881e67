"""Ranking and latency metrics.

Definitions follow Manning, Raghavan & Schütze, *Introduction to Information
Retrieval* (2008), ch. 8: precision@k, recall@k, MRR; nDCG@k with the
log2(rank + 1) discount of Järvelin & Kekäläinen (TOIS 2002), as computed by
``pytrec_eval``/BEIR (linear gains).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

__all__ = ["mrr", "ndcg_at_k", "percentile", "precision_at_k", "recall_at_k"]


def precision_at_k(
    ranked: Sequence[object], relevant: set[object] | frozenset[object], k: int
) -> float:
    """Fraction of the top ``k`` that is relevant (missing ranks count as misses)."""
    if k <= 0:
        raise ValueError("k must be positive")
    return sum(1 for d in ranked[:k] if d in relevant) / k


def recall_at_k(
    ranked: Sequence[object], relevant: set[object] | frozenset[object], k: int
) -> float:
    """Fraction of the relevant documents found in the top ``k`` (0 when none are relevant)."""
    if not relevant:
        return 0.0
    return sum(1 for d in ranked[:k] if d in relevant) / len(relevant)


def mrr(ranked: Sequence[object], relevant: set[object] | frozenset[object], k: int = 10) -> float:
    """Reciprocal rank of the first relevant document within the top ``k`` (0 if none)."""
    for i, d in enumerate(ranked[:k]):
        if d in relevant:
            return 1.0 / (i + 1)
    return 0.0


def ndcg_at_k(ranked: Sequence[Hashable], gains: Mapping[Any, float], k: int = 10) -> float:
    """nDCG@k with gains ``gains[doc]`` (0 when absent) and a log2(rank + 1) discount."""
    dcg = sum(gains.get(d, 0.0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted((g for g in gains.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation (NumPy's default method).

    Raises:
        ValueError: ``values`` is empty or ``q`` is outside [0, 100].
    """
    if not values:
        raise ValueError("no values")
    if not 0 <= q <= 100:
        raise ValueError("q must be within [0, 100]")
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)
