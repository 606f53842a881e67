"""Maximal Marginal Relevance: diversify a ranked list of points.

MMR (Carbonell & Goldstein, SIGIR 1998) builds the list greedily, each step
taking the candidate that maximises ``lambda * rel(d) - (1 - lambda) * max_{s in
S} sim(d, s)``, where ``S`` is what was selected before. Here ``diversity`` is
``1 - lambda``: 0 keeps the ranking (pure relevance), 1 orders by novelty alone
(after the most relevant first). Relevance is the list's score min-max
normalised to 0..1 over the candidate pool; similarity is the cosine of the
points' stored dense vectors (L2-normalised, so a dot product).

The selection can resume from any selected set: ``selected`` holds what earlier
pages served, and the continuation equals the steps one long greedy run would
have taken next (same pool, same vectors, the same arithmetic per step), which
is what lets cursor pages compose with MMR (``search/paging.py``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import numpy as np
import numpy.typing as npt

from indexers import Hit

__all__ = ["mmr_select", "relevance"]


def relevance(hits: Sequence[Hit]) -> npt.NDArray[np.float64]:
    """The hits' scores min-max normalised to 0..1, ``(len(hits),)`` float64
    (all ones when every score is equal)."""
    scores = np.asarray([h.score for h in hits], dtype=np.float64)
    if scores.size == 0:
        return scores
    low, high = float(scores.min()), float(scores.max())
    if high <= low:
        return np.ones_like(scores)
    return (scores - low) / (high - low)


def mmr_select(
    pool: Sequence[Hit],
    vectors: Mapping[int, npt.NDArray[np.float32]],
    *,
    diversity: float,
    count: int,
    selected: Collection[int] = (),
) -> list[Hit]:
    """Pick ``count`` hits of ``pool`` by MMR, after the ids in ``selected``.

    Args:
        pool: the candidates, best first (their scores give the relevance;
            ``selected`` ones count as chosen and are never picked again).
        vectors: point id -> stored dense vector ``(dim,)`` float32,
            L2-normalised; a point without one has similarity 0 to everything.
        diversity: ``1 - lambda``, 0..1 (0 returns the pool's order).
        count: how many to pick (fewer when the pool runs out).
        selected: ids already served (earlier pages), in any order.

    Returns:
        The picked hits in MMR order; ties go to the better-ranked hit.

    Raises:
        ValueError: ``diversity`` outside 0..1.
    """
    if not 0.0 <= diversity <= 1.0:
        raise ValueError(f"diversity must be within 0..1, got {diversity}")
    taken = set(selected)
    if diversity == 0.0:
        return [h for h in pool if h.id not in taken][:count]
    if not pool or count <= 0:
        return []
    lam = 1.0 - diversity
    rel = relevance(pool)
    dim = next((len(v) for v in vectors.values()), 0)
    matrix = np.zeros((len(pool), dim), dtype=np.float32)
    for i, h in enumerate(pool):
        found = vectors.get(h.id)
        if found is not None:
            matrix[i] = found
    # Highest similarity to anything selected so far; -inf = nothing selected yet,
    # when the penalty is 0 (the first pick of a fresh run is the most relevant).
    max_sim = np.full(len(pool), -np.inf, dtype=np.float64)
    open_ = np.ones(len(pool), dtype=bool)
    index = {h.id: i for i, h in enumerate(pool)}
    for i, h in enumerate(pool):
        if h.id in taken:
            open_[i] = False
    # Served points are folded in with the same row product a fresh run uses for
    # its picks (and a maximum does not depend on order), so both runs agree.
    for uid in taken:
        if uid in index:
            max_sim = np.maximum(max_sim, matrix @ matrix[index[uid]])
        elif (vec := vectors.get(uid)) is not None and len(vec) == dim:
            max_sim = np.maximum(max_sim, matrix @ np.asarray(vec, dtype=np.float32))
    picked: list[Hit] = []
    while len(picked) < count and open_.any():
        penalty = np.where(np.isneginf(max_sim), 0.0, max_sim)
        gain = np.where(open_, lam * rel - (1.0 - lam) * penalty, -np.inf)
        best = int(np.argmax(gain))  # first maximum: the better-ranked hit wins ties
        picked.append(pool[best])
        open_[best] = False
        max_sim = np.maximum(max_sim, matrix @ matrix[best])
    return picked
