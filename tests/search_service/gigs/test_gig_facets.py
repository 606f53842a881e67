"""Gig search: facet counts, zero-result suggestions and the search counters.

Runs on SQLite and PostgreSQL, and on both store adapters (the ``rt`` fixture).
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from models import Gig
from search_service.db import session_scope
from search_service.refresh.freshness import refresh_stale
from search_service.runtime import Runtime
from tests.search_service.profile_helpers import Student, new_user_with_key

URL = "/v1/gigs/search"


@pytest.fixture
def student(rt: Runtime) -> Student:
    """A student searching gigs."""
    return new_user_with_key(rt, "gig_seeker")


def _pay(amount: int) -> dict[str, Any]:
    return {"amountMinor": amount, "currency": "EUR", "unit": "hour"}


GIGS: dict[str, dict[str, Any]] = {
    "barista": {
        "title": "Barista for weekend events",
        "requiredSkills": ["coffee"],
        "location": "Berlin, Germany",
        "availability": "weekends",
        "pay": _pay(1500),
    },
    "react": {
        "title": "React developer",
        "requiredSkills": ["React"],
        "niceSkills": ["Figma"],
        "remote": True,
        "availability": "part_time",
        "pay": _pay(2500),
    },
    "designer": {
        "title": "Figma designer",
        "requiredSkills": ["figma"],
        "location": "Berlin, Germany",
        "remote": True,
        "availability": "part_time",
        "pay": _pay(2000),
    },
    "tutor": {
        "title": "Python tutor",
        "requiredSkills": ["python"],
        "location": "Munich, Germany",
        "availability": "evenings",
    },
}


@pytest.fixture
def gigs(api: TestClient, rt: Runtime) -> dict[str, int]:
    """Four open, indexed gigs of one employer; name -> gig id."""
    owner = new_user_with_key(rt, "gig_owner", role="employer")
    ids = {}
    for name, body in GIGS.items():
        r = api.post("/v1/gigs", json={**body, "status": "open"}, headers=owner.headers)
        assert r.status_code == 201, r.text
        ids[name] = r.json()["id"]
    refresh_stale(rt)
    return ids


def _search(client: TestClient, who: Student, **body: Any) -> dict[str, Any]:
    r = client.post(URL, json=body, headers=who.headers)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def _counts(data: dict[str, Any], facet: str) -> dict[str, int]:
    return {v["value"]: v["count"] for v in data["facets"]["values"][facet]}


def test_filter_only_facets_count_every_open_gig(
    api: TestClient, student: Student, gigs: dict[str, int]
) -> None:
    data = _search(api, student, facets=["skills", "availability", "location", "remote"])
    assert data["facets"]["basis"] == "all_matches"
    assert data["facets"]["counted"] == 4
    assert _counts(data, "skills") == {"coffee": 1, "react": 1, "figma": 2, "python": 1}
    assert _counts(data, "availability") == {"weekends": 1, "part_time": 2, "evenings": 1}
    assert _counts(data, "location") == {"berlin, germany": 2, "munich, germany": 1}
    assert _counts(data, "remote") == {"true": 2, "false": 2}


def test_a_gig_that_closes_leaves_the_counts_at_once(
    api: TestClient,
    student: Student,
    rt: Runtime,
    gigs: dict[str, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(rt.index("gigs").store, "delete", lambda ids: None)
    with session_scope(rt.engine) as session:
        gig = session.get(Gig, gigs["designer"])
        assert gig is not None
        gig.status = "closed"
    data = _search(api, student, filters={"remote": True}, facets=["skills"])
    assert data["facets"]["counted"] == 1
    assert _counts(data, "skills") == {"react": 1, "figma": 1}


class TestSuggestion:
    def test_suggests_the_filter_whose_removal_finds_most(
        self, api: TestClient, student: Student, gigs: dict[str, int]
    ) -> None:
        filters = {"remote": True, "location": "munich", "payMin": 1800}
        data = _search(api, student, filters=filters)
        assert data["results"] == []
        # Without remote: nothing in Munich pays 18 EUR; without the location: react,
        # designer; without payMin: nothing remote in Munich.
        assert data["suggestion"] == {"drop": "location", "value": "munich", "results": 2}
        relaxed = {k: v for k, v in filters.items() if k != "location"}
        assert len(_search(api, student, filters=relaxed, limit=100)["results"]) == 2

    def test_text_query_and_a_list_item(
        self, api: TestClient, student: Student, gigs: dict[str, int]
    ) -> None:
        body = {"query": "designer developer", "mode": "keyword"}
        data = _search(api, student, **body, filters={"skills": ["figma", "python"]})
        assert data["results"] == []
        assert data["suggestion"] == {"drop": "skills", "value": "python", "results": 2}
        got = _search(api, student, **body, filters={"skills": ["figma"]}, limit=100)
        assert len(got["results"]) == 2

    def test_none_when_results_were_found(
        self, api: TestClient, student: Student, gigs: dict[str, int]
    ) -> None:
        assert _search(api, student, filters={"remote": True})["suggestion"] is None


def test_gig_searches_are_counted_under_their_kind(
    api: TestClient, student: Student, gigs: dict[str, int], metrics_headers: dict[str, str]
) -> None:
    _search(api, student, query="barista")
    _search(api, student, filters={"skills": ["rust"]})
    text = api.get("/metrics", headers=metrics_headers).text
    assert 'gigsy_searches_total{kind="gigs"} 2.0' in text
    assert 'gigsy_zero_result_searches_total{kind="gigs"} 1.0' in text
    assert 'gigsy_searches_total{kind="profiles"} 0.0' in text
