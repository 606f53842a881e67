"""Employer search: boosts after fusion and matched skills in every explanation."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from models import Availability, Visibility
from search_service.refresh.writer import reindex
from search_service.runtime import Runtime
from search_service.search.boosts import AVAILABILITY_MAX, RECENCY_MAX, STRENGTH_MAX
from tests.factories import make_student

URL = "/v1/search"
NO_BOOSTS = {"recency": False, "strength": False}


@pytest.fixture
def twins(runtime: Runtime) -> dict[str, int]:
    """Two students alike in all but availability, and one with private skills."""
    people = [
        make_student(
            runtime,
            clerk_id=clerk,
            headline="Python backend developer",
            bio="Django APIs and PostgreSQL.",
            skills=("python", "django"),
            availability=availability,
        )
        for clerk, availability in (("wkd", Availability.WEEKENDS), ("eve", Availability.EVENINGS))
    ]
    people.append(
        make_student(
            runtime,
            clerk_id="hid",
            headline="Python developer",
            bio="Flask services.",
            skills=("python",),
            visibility={"skills": Visibility.PRIVATE},
        )
    )
    reindex(runtime, progress=False)
    return {u.clerk_id: u.id for u in people if u.id is not None}


def _search(client: TestClient, headers: dict[str, str], **body: Any) -> list[dict[str, Any]]:
    r = client.post(URL, json=body, headers=headers)
    assert r.status_code == 200, r.text
    results: list[dict[str, Any]] = r.json()["results"]
    return results


def test_a_text_query_explains_each_boost_with_its_factor(
    client: TestClient, employer_headers: dict[str, str], twins: dict[str, int]
) -> None:
    hits = _search(client, employer_headers, query="python developer")
    for hit in hits:
        factors = {b["name"]: b["factor"] for b in hit["explanation"]["boosts"]}
        assert set(factors) <= {"recency", "strength"} and "recency" in factors
        assert 1.0 < factors["recency"] <= 1 + RECENCY_MAX
        assert all(f <= 1 + STRENGTH_MAX for f in factors.values())


def test_boosts_switched_off_leave_the_fused_scores(
    client: TestClient, employer_headers: dict[str, str], twins: dict[str, int]
) -> None:
    boosted = _search(client, employer_headers, query="python developer")
    plain = _search(client, employer_headers, query="python developer", boosts=NO_BOOSTS)
    assert all(h["explanation"]["boosts"] == [] for h in plain)
    by_id = {h["userId"]: h["score"] for h in plain}
    for hit in boosted:
        product = 1.0
        for b in hit["explanation"]["boosts"]:
            product *= b["factor"]
        assert hit["score"] == pytest.approx(by_id[hit["userId"]] * product, rel=1e-4)


@pytest.mark.parametrize("preferred", ["weekends", "evenings"])
def test_a_preferred_availability_lifts_the_twin_that_has_it(
    client: TestClient, employer_headers: dict[str, str], twins: dict[str, int], preferred: str
) -> None:
    hits = _search(
        client,
        employer_headers,
        query="python backend developer django",
        boosts={**NO_BOOSTS, "availability": preferred},
    )
    winner = twins["wkd" if preferred == "weekends" else "eve"]
    assert hits[0]["userId"] == winner
    assert hits[0]["explanation"]["boosts"] == [
        {"name": "availability", "factor": pytest.approx(1 + AVAILABILITY_MAX)}
    ]
    assert hits[1]["explanation"]["boosts"] == []


def test_a_browse_is_never_boosted(
    client: TestClient, employer_headers: dict[str, str], twins: dict[str, int]
) -> None:
    hits = _search(client, employer_headers, query="", filters={"skills": ["python"]})
    assert hits and all(h["explanation"]["boosts"] == [] for h in hits)


def test_matched_skills_are_the_query_skills_the_profile_shows(
    client: TestClient, employer_headers: dict[str, str], twins: dict[str, int]
) -> None:
    hits = {h["userId"]: h for h in _search(client, employer_headers, query="python django")}
    assert hits[twins["wkd"]]["explanation"]["matchedSkills"] == ["python", "django"]
    # Private skills are never named, not even as a match.
    assert hits[twins["hid"]]["explanation"]["matchedSkills"] == []


def test_a_cursor_is_bound_to_its_boosts(
    client: TestClient, employer_headers: dict[str, str], twins: dict[str, int]
) -> None:
    first = client.post(URL, json={"query": "python", "limit": 1}, headers=employer_headers)
    cursor = first.json()["nextCursor"]
    assert cursor
    r = client.post(
        URL,
        json={"query": "python", "limit": 1, "cursor": cursor, "boosts": NO_BOOSTS},
        headers=employer_headers,
    )
    assert r.status_code == 422, r.text
