"""Ranking and latency metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.metrics import mrr, ndcg_at_k, percentile, precision_at_k, recall_at_k
from benchmarks.relevance import category_query


def test_precision_counts_missing_ranks_as_misses() -> None:
    assert precision_at_k([1, 2, 3], {1, 3, 9}, 10) == pytest.approx(0.2)
    assert precision_at_k([1, 2], {1, 2}, 2) == 1.0
    with pytest.raises(ValueError):
        precision_at_k([1], {1}, 0)


def test_recall_and_mrr() -> None:
    assert recall_at_k([5, 1, 2], {1, 2, 3, 4}, 2) == pytest.approx(0.25)
    assert recall_at_k([1], set(), 5) == 0.0
    assert mrr([7, 8, 1], {1}) == pytest.approx(1 / 3)
    assert mrr([7, 8], {1}) == 0.0


def test_ndcg_matches_hand_computation() -> None:
    # relevant at ranks 1 and 3 of 2 relevant docs
    dcg = 1 + 1 / math.log2(4)
    idcg = 1 + 1 / math.log2(3)
    assert ndcg_at_k(["a", "x", "b"], {"a": 1.0, "b": 1.0}, 10) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(["a", "b"], {"a": 1.0, "b": 1.0}) == pytest.approx(1.0)
    assert ndcg_at_k(["x"], {}) == 0.0


def test_percentile_agrees_with_numpy() -> None:
    xs = [5.0, 1.0, 9.0, 3.0, 7.0, 2.0]
    for q in (0, 50, 95, 99, 100):
        assert percentile(xs, q) == pytest.approx(float(np.percentile(xs, q)))
    with pytest.raises(ValueError):
        percentile([], 50)


def test_category_query() -> None:
    assert category_query("INFORMATION-TECHNOLOGY") == "information technology"
