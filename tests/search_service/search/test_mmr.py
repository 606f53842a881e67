"""MMR diversity: the greedy selection itself, and through employer search on a
fixture of near-duplicate profiles (both store adapters, SQLite and PostgreSQL)."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from indexers import Hit
from search_service.refresh.freshness import refresh_stale
from search_service.runtime import Runtime
from search_service.search.mmr import mmr_select, relevance
from tests.search_service.profile_helpers import new_user_with_key, student_with_key


def _unit(*xs: float) -> np.ndarray:
    v = np.asarray(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


# 1 and 2 are near-duplicates; 3 points elsewhere.
POOL = [Hit(id=1, score=0.9), Hit(id=2, score=0.85), Hit(id=3, score=0.5)]
VECTORS = {1: _unit(1, 0, 0), 2: _unit(1, 0.05, 0), 3: _unit(0, 1, 0)}


class TestMmrSelect:
    def test_zero_diversity_keeps_the_ranking(self) -> None:
        picked = mmr_select(POOL, VECTORS, diversity=0.0, count=3)
        assert [h.id for h in picked] == [1, 2, 3]

    def test_diversity_moves_a_near_duplicate_down(self) -> None:
        # lambda 0.5: after 1, item 2 gains 0.5*0.875 - 0.5*~1.0 < 0; item 3 gains 0 - 0.
        picked = mmr_select(POOL, VECTORS, diversity=0.5, count=3)
        assert [h.id for h in picked] == [1, 3, 2]

    def test_resuming_after_served_ids_continues_one_greedy_run(self) -> None:
        whole = mmr_select(POOL, VECTORS, diversity=0.5, count=3)
        rest = mmr_select(POOL, VECTORS, diversity=0.5, count=2, selected={whole[0].id})
        assert whole[1:] == rest

    def test_relevance_is_min_max_normalised(self) -> None:
        assert relevance(POOL).tolist() == pytest.approx([1.0, 0.875, 0.0])

    @pytest.mark.parametrize("bad", [-0.01, 1.01])
    def test_diversity_outside_zero_to_one_is_refused(self, bad: float) -> None:
        with pytest.raises(ValueError, match="diversity"):
            mmr_select(POOL, VECTORS, diversity=bad, count=1)


def test_diversity_reorders_near_duplicate_profiles_in_search(rt: Runtime, api: TestClient) -> None:
    clones = [
        student_with_key(
            rt, f"clone_{i}", headline="Python data analyst", bio="python pandas sql " * (5 - i)
        ).id
        for i in range(3)
    ]
    other = student_with_key(rt, "designer", headline="Python designer", bio="figma sketch").id
    employer = new_user_with_key(rt, "emp_mmr", role="employer")
    refresh_stale(rt)

    def order(diversity: float | None) -> list[int]:
        body: dict[str, object] = {"query": "python data analyst pandas", "limit": 10}
        if diversity is not None:
            body["diversity"] = diversity
        r = api.post("/v1/search", json=body, headers=employer.headers)
        assert r.status_code == 200, r.text
        return [h["userId"] for h in r.json()["results"]]

    plain = order(None)
    assert set(plain[:3]) == set(clones) and plain[3] == other  # duplicates crowd the top
    assert order(0.0) == plain
    diverse = order(0.8)
    assert sorted(diverse) == sorted(plain)
    assert diverse[0] == plain[0] and diverse.index(other) < 3  # the distinct one moved up
