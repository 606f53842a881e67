"""Boosts after fusion: bounded multiplicative factors, switchable, stable order."""

from __future__ import annotations

import random

import pytest

from indexers import Hit
from search_service.search.boosts import (
    AVAILABILITY_MAX,
    DAY_MS,
    RECENCY_HALF_LIFE_MS,
    RECENCY_MAX,
    STRENGTH_MAX,
    BoostConfig,
    apply_boosts,
    boost_factors,
)

NOW = 1_800_000_000_000


def test_recency_halves_its_bonus_every_half_life() -> None:
    fresh = dict(boost_factors({"updated_at": NOW}, BoostConfig(strength=False), NOW))
    half = dict(
        boost_factors({"updated_at": NOW - RECENCY_HALF_LIFE_MS}, BoostConfig(strength=False), NOW)
    )
    assert fresh["recency"] == pytest.approx(1 + RECENCY_MAX)
    assert half["recency"] == pytest.approx(1 + RECENCY_MAX / 2)


def test_a_future_timestamp_is_capped_at_the_maximum() -> None:
    got = dict(boost_factors({"updated_at": NOW + DAY_MS}, BoostConfig(), NOW))
    assert got["recency"] == pytest.approx(1 + RECENCY_MAX)


def test_strength_scales_and_availability_needs_a_preference() -> None:
    payload = {"strength": 50, "availability": "weekends"}
    got = dict(boost_factors(payload, BoostConfig(recency=False), NOW))
    assert got.keys() == {"strength"}
    assert got["strength"] == pytest.approx(1 + STRENGTH_MAX / 2)
    got = dict(
        boost_factors(
            payload, BoostConfig(recency=False, strength=False, availability="weekends"), NOW
        )
    )
    assert got.keys() == {"availability"}
    assert got["availability"] == pytest.approx(1 + AVAILABILITY_MAX)
    assert boost_factors(payload, BoostConfig(recency=False, strength=False), NOW) == []


def test_missing_fields_earn_nothing() -> None:
    assert boost_factors({}, BoostConfig(availability="weekends"), NOW) == []


def test_boosts_reorder_near_ties_only() -> None:
    hits = [Hit(id=1, score=0.0164), Hit(id=2, score=0.0161), Hit(id=3, score=0.0100)]
    payloads = {2: {"strength": 100, "updated_at": NOW}, 3: {"strength": 100, "updated_at": NOW}}
    out = apply_boosts(hits, payloads, BoostConfig(), NOW)
    assert [h.id for h in out.hits] == [2, 1, 3]  # a near tie flips, a clear gap stays
    assert dict(out.factors[2]) == {
        "recency": pytest.approx(1 + RECENCY_MAX),
        "strength": pytest.approx(1 + STRENGTH_MAX),
    }
    assert 1 not in out.factors
    assert out.hits[0].score == pytest.approx(0.0161 * (1 + RECENCY_MAX) * (1 + STRENGTH_MAX))


def test_switched_off_boosts_leave_the_fused_order() -> None:
    hits = [Hit(id=1, score=0.5), Hit(id=2, score=0.4)]
    out = apply_boosts(
        hits, {2: {"strength": 100}}, BoostConfig(recency=False, strength=False), NOW
    )
    assert out.hits == hits and out.factors == {}


def test_equal_scores_keep_the_retrieval_order() -> None:
    hits = [Hit(id=9, score=0.5), Hit(id=3, score=0.5)]
    out = apply_boosts(hits, {}, BoostConfig(), NOW)
    assert [h.id for h in out.hits] == [9, 3]


@pytest.mark.parametrize("seed", range(5))
def test_apply_boosts_multiplies_exactly_the_factors_boost_factors_gives(seed: int) -> None:
    # apply_boosts computes the factors inline for speed: they must stay the ones
    # boost_factors documents (the explanation shows them), on odd payloads too.
    rng = random.Random(seed)
    now = 1_800_000_000_000
    updated = [None, 0, 1.5, True, now + 5, now - 10**11, now - 40 * DAY_MS]
    strengths = [None, 0, -3, 7.0, 50, 100, 150, True]
    for _ in range(200):
        cfg = BoostConfig(
            recency=rng.random() < 0.7,
            strength=rng.random() < 0.7,
            availability=rng.choice([None, "full_time", "part_time"]),
        )
        hits = [Hit(i, rng.random()) for i in range(20)]
        payloads: dict[int, dict[str, object]] = {}
        for i in range(20):
            fields = {
                "updated_at": rng.choice([*updated, now - rng.randint(0, 10**10)]),
                "availability": rng.choice(["full_time", "part_time", None]),
                "strength": rng.choice(strengths),
            }
            payloads[i] = {k: v for k, v in fields.items() if v is not None}
        got = apply_boosts(hits, payloads, cfg, now)
        for hit in got.hits:
            want = boost_factors(payloads[hit.id], cfg, now)
            score = hits[hit.id].score
            for _, factor in want:
                score *= factor
            assert got.factors.get(hit.id, []) == want
            assert hit.score == score
