"""Boosts applied after fusion: multiplicative, bounded, switchable per request.

A boost multiplies a candidate's fused score by a factor in ``[1, 1 + max]``; the
factors of one candidate multiply. Bounds keep a boost a tie-breaker among
near-equals: with RRF (k = 60) the fused scores of ranks 1 and 10 differ by
about 13 %, so no boost at its maximum (+5 % each, +15.8 % together) lifts a
candidate more than a few places. The benchmarks (``benchmarks/README.md``,
"Boosts") show the defaults cost no relevance.

* ``recency``: ``1 + RECENCY_MAX * 2 ** (-age / RECENCY_HALF_LIFE_MS)``, where
  ``age`` is the time since the profile's last employer-visible change (its
  ``updated_at`` payload, ms since epoch). Exponential decay with a half-life,
  the shape of Elasticsearch's ``exp`` decay function (Elasticsearch reference,
  "Function score query", decay functions), here with a 30-day half-life: a
  profile changed today gets ``1 + RECENCY_MAX``, one changed 30 days ago half
  the bonus, 90 days ago an eighth.
* ``availability``: ``1 + AVAILABILITY_MAX`` when the profile's availability is the
  one the request prefers (a soft preference, unlike the hard filter).
* ``strength``: ``1 + STRENGTH_MAX * strength / 100`` with the profile strength
  (0..100, private sections earn nothing: ``profiles/strength.py``).

The maxima are product choices, not published constants.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from indexers import Hit

__all__ = [
    "AVAILABILITY_MAX",
    "DAY_MS",
    "RECENCY_HALF_LIFE_MS",
    "RECENCY_MAX",
    "STRENGTH_MAX",
    "BoostConfig",
    "Boosted",
    "apply_boosts",
    "boost_factors",
]

DAY_MS = 86_400_000
RECENCY_HALF_LIFE_MS = 30 * DAY_MS
"""Half-life of the recency bonus: 30 days, in ms."""
RECENCY_MAX = 0.05
"""Largest recency bonus (a profile changed just now): x1.05."""
AVAILABILITY_MAX = 0.05
"""Bonus for the preferred availability: x1.05."""
STRENGTH_MAX = 0.05
"""Bonus of a profile of strength 100: x1.05 (strength 50: x1.025)."""


@dataclass(frozen=True, slots=True)
class BoostConfig:
    """Which boosts a request applies.

    Attributes:
        recency: the recency decay (default on).
        strength: the profile-strength bonus (default on).
        availability: the preferred availability value (``None``: no boost).
    """

    recency: bool = True
    strength: bool = True
    availability: str | None = None

    @property
    def active(self) -> bool:
        """Whether any boost applies."""
        return self.recency or self.strength or self.availability is not None


@dataclass(frozen=True, slots=True)
class Boosted:
    """A re-ranked list: ``hits`` best first with their boosted scores, and per id
    the ``(name, factor)`` of every boost whose factor is above 1."""

    hits: list[Hit]
    factors: dict[int, list[tuple[str, float]]]


BOOST_FIELDS: tuple[str, ...] = ("updated_at", "availability", "strength")
"""The payload fields :func:`boost_factors` reads: all a boosted ranking fetches."""


def boost_factors(
    payload: Mapping[str, Any], cfg: BoostConfig, now_ms: int
) -> list[tuple[str, float]]:
    """The ``(name, factor)`` of each boost ``cfg`` applies to one candidate, factor > 1 only.

    Args:
        payload: the point's payload (``updated_at`` ms since epoch, ``availability``,
            ``strength`` 0..100); a missing field earns no boost.
        cfg: the request's switches.
        now_ms: the current time, ms since epoch.
    """
    return _factors_of(cfg, now_ms)(payload)


def _factors_of(
    cfg: BoostConfig, now_ms: int
) -> Callable[[Mapping[str, Any]], list[tuple[str, float]]]:
    """:func:`boost_factors` for one request's switches and time: the switches read
    once, so :func:`apply_boosts` pays only the per-candidate work for each pooled
    hit. Each factor is kept when above 1, and shown and multiplied rounded to 6
    digits."""
    recency, strength_on, preferred = cfg.recency, cfg.strength, cfg.availability
    available = ("availability", round(1.0 + AVAILABILITY_MAX, 6))

    def factors(payload: Mapping[str, Any]) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        updated = payload.get("updated_at")
        if recency and isinstance(updated, int) and updated > 0:
            f = 1.0 + RECENCY_MAX * 2.0 ** (-max(0, now_ms - updated) / RECENCY_HALF_LIFE_MS)
            if f > 1.0:
                out.append(("recency", round(f, 6)))
        if preferred is not None and payload.get("availability") == preferred:
            out.append(available)
        strength = payload.get("strength")
        if strength_on and isinstance(strength, int) and strength > 0:
            out.append(_STRENGTH_FACTORS[min(strength, 100)])
        return out

    return factors


_STRENGTH_FACTORS: tuple[tuple[str, float], ...] = tuple(
    ("strength", round(1.0 + STRENGTH_MAX * s / 100, 6)) for s in range(101)
)
"""``("strength", factor)`` for strength 0..100, rounded as shown."""


def apply_boosts(
    hits: Sequence[Hit],
    payloads: Mapping[int, Mapping[str, Any]],
    cfg: BoostConfig,
    now_ms: int,
) -> Boosted:
    """Multiply each hit's fused score by its boosts and re-sort (score desc, then the
    fused order: a stable sort, so equal scores keep the retrieval order).

    Args:
        hits: fused hits, best first (``score`` > 0 as RRF/DBSF give).
        payloads: point id -> payload (see :func:`boost_factors`).
        cfg: the request's switches; an inactive one returns ``hits`` unchanged.
        now_ms: the current time, ms since epoch.
    """
    if not cfg.active:
        return Boosted(hits=list(hits), factors={})
    factors_of = _factors_of(cfg, now_ms)
    empty: Mapping[str, Any] = {}
    factors: dict[int, list[tuple[str, float]]] = {}
    boosted: list[Hit] = []
    for h in hits:
        fs = factors_of(payloads.get(h.id, empty))
        score = h.score
        for _, f in fs:
            score *= f
        if fs:
            factors[h.id] = fs
        # A new Hit directly: dataclasses.replace re-reads the fields on every call.
        boosted.append(Hit(h.id, score, h.terms, h.version))
    order = sorted(range(len(boosted)), key=lambda i: -boosted[i].score)
    return Boosted(hits=[boosted[i] for i in order], factors=factors)
