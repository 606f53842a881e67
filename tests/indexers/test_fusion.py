"""Client-side fusion of the dense and BM25 candidate lists, against hand-computed scores."""

from __future__ import annotations

import math

import pytest

from indexers import Fusion, FusionSpec, Hit, Norm, fuse

DENSE = [Hit(1, 0.9, version=10), Hit(2, 0.5, version=20), Hit(3, 0.1, version=30)]
KEYWORD = [Hit(3, 12.0), Hit(4, 6.0), Hit(1, 3.0, version=10)]


def _scores(hits: list[Hit]) -> dict[int, float]:
    return {h.id: h.score for h in hits}


def test_rrf_sums_weighted_reciprocal_ranks_counted_from_zero() -> None:
    got = _scores(fuse(DENSE, KEYWORD, FusionSpec(rrf_k=10, dense_weight=2.0)))
    assert got[1] == pytest.approx(2 / 10 + 1 / 12)
    assert got[2] == pytest.approx(2 / 11)
    assert got[3] == pytest.approx(2 / 12 + 1 / 10)
    assert got[4] == pytest.approx(1 / 11)


def test_weights_change_the_winner() -> None:
    dense_heavy = fuse(DENSE, KEYWORD, FusionSpec(dense_weight=3.0))
    keyword_heavy = fuse(DENSE, KEYWORD, FusionSpec(keyword_weight=3.0))
    assert dense_heavy[0].id == 1
    assert keyword_heavy[0].id == 3


def test_convex_min_max() -> None:
    got = _scores(fuse(DENSE, KEYWORD, FusionSpec(Fusion.CONVEX, alpha=0.25)))
    # dense min-max: 1 -> 1, 2 -> 0.5, 3 -> 0; BM25: 3 -> 1, 4 -> 1/3, 1 -> 0
    assert got[1] == pytest.approx(0.25)
    assert got[2] == pytest.approx(0.125)
    assert got[3] == pytest.approx(0.75)
    assert got[4] == pytest.approx(0.75 / 3)


def test_convex_theoretical_min_max_uses_the_score_bounds() -> None:
    got = _scores(fuse(DENSE, KEYWORD, FusionSpec(Fusion.CONVEX, alpha=0.5, norm=Norm.TMM)))
    # dense: (s + 1) / (0.9 + 1); BM25: s / 12
    assert got[2] == pytest.approx(0.5 * 1.5 / 1.9)
    assert got[1] == pytest.approx(0.5 * 1.9 / 1.9 + 0.5 * 3 / 12)
    assert got[4] == pytest.approx(0.5 * 6 / 12)


def test_dbsf_maps_mean_plus_minus_three_sample_sd() -> None:
    got = _scores(fuse(DENSE, [], FusionSpec(Fusion.DBSF)))
    mean, sd = 0.5, math.sqrt((0.16 + 0 + 0.16) / 2)
    assert got[1] == pytest.approx((0.9 - (mean - 3 * sd)) / (6 * sd))
    assert got[2] == pytest.approx(0.5)


def test_dbsf_does_not_clip_outliers() -> None:
    hits = [Hit(1, 100.0)] + [Hit(i, 1.0 + i / 100) for i in range(2, 40)]
    got = _scores(fuse([], hits, FusionSpec(Fusion.DBSF)))
    assert got[1] > 1.0


def test_order_is_by_score_then_id_and_versions_are_kept() -> None:
    fused = fuse([Hit(5, 1.0), Hit(2, 1.0)], [], FusionSpec(Fusion.CONVEX, alpha=1.0))
    assert [h.id for h in fused] == [2, 5]  # tied at 1.0
    versions = {h.id: h.version for h in fuse(DENSE, KEYWORD, FusionSpec())}
    assert versions == {1: 10, 2: 20, 3: 30, 4: None}
    assert all(h.terms is None for h in fuse(DENSE, KEYWORD, FusionSpec()))


def test_empty_lists_fuse_to_nothing() -> None:
    assert fuse([], [], FusionSpec()) == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rrf_k": 0},
        {"dense_weight": -1.0},
        {"dense_weight": 0.0, "keyword_weight": 0.0},
        {"alpha": 1.1},
    ],
)
def test_bad_parameters_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        FusionSpec(**kwargs)  # type: ignore[arg-type]


def test_labels() -> None:
    assert FusionSpec().label == "fusion=rrf k=60 w=1:1"
    assert FusionSpec(Fusion.DBSF, keyword_weight=1.5).label == "fusion=dbsf w=1:1.5"
    assert (
        FusionSpec(Fusion.CONVEX, alpha=0.3, norm=Norm.TMM).label
        == "fusion=convex norm=tmm alpha=0.3"
    )
