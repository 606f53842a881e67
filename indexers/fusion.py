"""Hybrid fusion of the dense and BM25 candidate lists, client-side.

Both store adapters fetch each retriever's candidates and merge them here, so
every fusion variant (RRF with any k and weights, DBSF, a convex combination of
normalised scores) runs through one code path, the same in the API and in the
relevance harness (``python -m benchmarks relevance``).

Sources:

* RRF: Cormack, Clarke & Büttcher, "Reciprocal Rank Fusion outperforms Condorcet
  and individual rank learning methods", SIGIR 2009: score = sum of w / (k + rank),
  k = 60. Rank is counted from 0 here, as Qdrant's own RRF does (the service
  fused inside Qdrant before), which equals the paper's 1-based form with k - 1.
* DBSF: Qdrant docs, "Hybrid queries": each list's scores mapped linearly so
  that [mean - 3 sd, mean + 3 sd] (sample sd) becomes [0, 1], outliers not
  clipped, then summed (here: weighted).
* Convex combination: Bruch, Gai & Ingber, "An Analysis of Fusion Functions for
  Hybrid Retrieval", ACM TOIS 2023: alpha * dense + (1 - alpha) * BM25 on
  normalised scores, min-max (observed minimum) or theoretical min-max (the
  scoring function's lower bound: -1 for cosine, 0 for BM25).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from indexers.store import Fusion, Hit

__all__ = ["COSINE_MIN", "BM25_MIN", "FusionSpec", "Norm", "fuse"]

COSINE_MIN = -1.0
"""Theoretical lowest cosine similarity (the dense retriever's score)."""
BM25_MIN = 0.0
"""Theoretical lowest BM25 score (non-negative IDF, Lucene's form)."""


class Norm(StrEnum):
    """Score normalisation of the convex combination (Bruch, Gai & Ingber, TOIS 2023).

    ``minmax``: (s - min) / (max - min) over the list. ``tmm`` (theoretical
    min-max): (s - lower bound) / (max - lower bound), the lower bound being
    :data:`COSINE_MIN` or :data:`BM25_MIN`.
    """

    MINMAX = "minmax"
    TMM = "tmm"


@dataclass(frozen=True, slots=True)
class FusionSpec:
    """How :func:`fuse` merges the two candidate lists.

    Attributes:
        method: ``rrf``, ``dbsf`` or ``convex``.
        rrf_k: RRF constant (``rrf`` only), >= 1.
        dense_weight: weight of the dense list (``rrf``, ``dbsf``), >= 0.
        keyword_weight: weight of the BM25 list (``rrf``, ``dbsf``), >= 0.
        alpha: weight of the dense score in ``convex``, in [0, 1]; BM25 gets 1 - alpha.
        norm: score normalisation of ``convex``.

    Raises:
        ValueError: a parameter is out of range, or both weights are 0.
    """

    method: Fusion = Fusion.RRF
    rrf_k: int = 60
    dense_weight: float = 1.0
    keyword_weight: float = 1.0
    alpha: float = 0.5
    norm: Norm = Norm.MINMAX

    def __post_init__(self) -> None:
        if self.rrf_k < 1:
            raise ValueError("rrf_k must be >= 1")
        if self.dense_weight < 0 or self.keyword_weight < 0:
            raise ValueError("fusion weights must be >= 0")
        if self.dense_weight == 0 and self.keyword_weight == 0:
            raise ValueError("at least one fusion weight must be positive")
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError("alpha must be within [0, 1]")

    @property
    def label(self) -> str:
        """Short description, e.g. ``fusion=rrf k=60 w=1:1`` (weights dense:BM25) or
        ``fusion=convex norm=tmm alpha=0.3``."""
        if self.method is Fusion.CONVEX:
            return f"fusion=convex norm={self.norm.value} alpha={self.alpha:g}"
        weights = f"w={self.dense_weight:g}:{self.keyword_weight:g}"
        if self.method is Fusion.RRF:
            return f"fusion=rrf k={self.rrf_k} {weights}"
        return f"fusion=dbsf {weights}"


def _dbsf(scores: list[float]) -> list[float]:
    n = len(scores)
    mean = sum(scores) / n
    sd = math.sqrt(sum((s - mean) ** 2 for s in scores) / (n - 1)) if n > 1 else 0.0
    if sd == 0.0:
        return [0.5] * n
    low, span = mean - 3 * sd, 6 * sd
    # Not clipped to [0, 1], as in Qdrant: an outlier at the top keeps its lead.
    return [(s - low) / span for s in scores]


def _minmax(scores: list[float], lower: float | None) -> list[float]:
    top = max(scores)
    low = min(scores) if lower is None else lower
    if top <= low:
        return [1.0] * len(scores)
    return [(s - low) / (top - low) for s in scores]


def _contributions(hits: Sequence[Hit], spec: FusionSpec, *, dense: bool) -> list[float]:
    if spec.method is Fusion.RRF:
        w = spec.dense_weight if dense else spec.keyword_weight
        return [w / (spec.rrf_k + rank) for rank in range(len(hits))]
    scores = [h.score for h in hits]
    if spec.method is Fusion.DBSF:
        w = spec.dense_weight if dense else spec.keyword_weight
        return [w * s for s in _dbsf(scores)]
    lower = None
    if spec.norm is Norm.TMM:
        lower = COSINE_MIN if dense else BM25_MIN
    w = spec.alpha if dense else 1.0 - spec.alpha
    return [w * s for s in _minmax(scores, lower)]


def fuse(dense: Sequence[Hit], keyword: Sequence[Hit], spec: FusionSpec) -> list[Hit]:
    """Merge two ranked candidate lists into one, best first.

    A point missing from one list gets nothing from it. Ties break by point id,
    ascending, so the order is deterministic.

    Args:
        dense: the dense retriever's hits, best first (score: cosine similarity).
        keyword: the BM25 retriever's hits, best first (score: BM25).
        spec: the fusion function and its parameters.

    Returns:
        Every point of either list once, with the fused score as ``score`` and the
        ``version`` of whichever list carried one; ``terms`` is left unset.
        Raises nothing.
    """
    fused: dict[int, float] = {}
    versions: dict[int, int | None] = {}
    for hits, is_dense in ((dense, True), (keyword, False)):
        if not hits:
            continue
        for hit, part in zip(hits, _contributions(hits, spec, dense=is_dense), strict=True):
            fused[hit.id] = fused.get(hit.id, 0.0) + part
            if versions.get(hit.id) is None:
                versions[hit.id] = hit.version
    order = sorted(fused, key=lambda i: (-fused[i], i))
    return [Hit(id=i, score=fused[i], version=versions[i]) for i in order]
