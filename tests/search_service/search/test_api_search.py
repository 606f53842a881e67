"""``POST /v1/search`` through HTTP: auth, validation, modes, filters, explanations."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlmodel import select

from indexers import Hit
from models import Availability, User, Visibility, now_ms
from search_service.db import session_scope
from search_service.refresh.writer import reindex
from search_service.runtime import Runtime
from search_service.search.service import hydrate_profiles
from tests.factories import make_student

URL = "/v1/search"


@pytest.fixture
def corpus(runtime: Runtime) -> dict[str, int]:
    """Six indexed students; returns clerk id -> user id."""
    people = [
        make_student(
            runtime,
            clerk_id="ana",
            headline="Frontend developer",
            bio="I build React apps.",
            skills=("react", "figma", "typescript"),
            languages=("English", "Spanish"),
            location="Berlin, Germany",
            availability=Availability.WEEKENDS,
        ),
        make_student(
            runtime,
            clerk_id="ben",
            headline="Backend developer",
            bio="Python and Django APIs.",
            skills=("python", "django", "postgresql"),
            languages=("English",),
            location="Munich, Germany",
            availability=Availability.PART_TIME,
        ),
        make_student(
            runtime,
            clerk_id="cho",
            headline="Accounting student",
            bio="Account reconciliations and month-end close in Excel.",
            skills=("excel", "quickbooks"),
            languages=("English", "Korean"),
            location="Seoul, South Korea",
            availability=Availability.WEEKENDS,
        ),
        make_student(
            runtime,
            clerk_id="dev",
            headline="UI designer",
            bio="Figma prototypes and design systems.",
            skills=("figma", "sketch"),
            languages=("German",),
            location="Berlin, Germany",
            availability=Availability.EVENINGS,
        ),
        make_student(
            runtime,
            clerk_id="eve",
            headline="Chef",
            bio="Pastry and catering for events.",
            skills=("baking",),
            languages=("French",),
            location="Paris, France",
        ),
        make_student(
            runtime,
            clerk_id="fay",
            headline="Mobile developer",
            bio="React Native apps.",
            skills=("react native", "react"),
            languages=("English",),
            location="Berlin, Germany",
            availability=Availability.WEEKENDS,
        ),
    ]
    reindex(runtime, progress=False)
    return {u.clerk_id: u.id for u in people if u.id is not None}


def _search(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    r = client.post(URL, json=body, headers=headers)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def _clerks(data: dict[str, Any]) -> list[str]:
    """The clerk ids of the hits (``make_student`` imports ``<clerk id>`` as
    ``ext-<clerk id>``; hits carry no clerk id)."""
    return [hit["externalId"].removeprefix("ext-") for hit in data["results"]]


class TestAuth:
    def test_missing_key_is_401(self, client: TestClient, corpus: dict[str, int]) -> None:
        r = client.post(URL, json={"query": "react"})
        assert r.status_code == 401, r.text
        assert r.json()["error"] == "unauthorized"

    def test_unknown_key_is_401(self, client: TestClient) -> None:
        r = client.post(URL, json={"query": "react"}, headers={"Authorization": "Bearer gsk_nope"})
        assert r.status_code == 401, r.text

    def test_student_key_is_403(self, client: TestClient, student_headers: dict[str, str]) -> None:
        r = client.post(URL, json={"query": "react"}, headers=student_headers)
        assert r.status_code == 403, r.text
        assert r.json() == {"error": "forbidden", "detail": "search is for employers"}


class TestValidation:
    def test_malformed_json_is_422(
        self, client: TestClient, employer_headers: dict[str, str]
    ) -> None:
        r = client.post(
            URL,
            content=b'{"query": "react"',
            headers={**employer_headers, "Content-Type": "application/json"},
        )
        assert r.status_code == 422, r.text
        body = r.json()
        assert body["error"] == "validation_error"
        assert "body" in body["detail"]

    def test_unknown_filter_names_the_field(
        self, client: TestClient, employer_headers: dict[str, str]
    ) -> None:
        r = client.post(
            URL, json={"query": "x", "filters": {"salary": 5}}, headers=employer_headers
        )
        assert r.status_code == 422, r.text
        assert "filters.salary" in r.json()["detail"]

    @pytest.mark.parametrize("limit", [0, 101])
    def test_limit_out_of_range_names_limit(
        self, client: TestClient, employer_headers: dict[str, str], limit: int
    ) -> None:
        r = client.post(URL, json={"query": "x", "limit": limit}, headers=employer_headers)
        assert r.status_code == 422, r.text
        assert r.json()["detail"].startswith("limit:")

    def test_query_over_max_length_names_query(
        self, client: TestClient, employer_headers: dict[str, str]
    ) -> None:
        r = client.post(URL, json={"query": "a" * 513}, headers=employer_headers)
        assert r.status_code == 422, r.text
        assert r.json()["detail"].startswith("query:")

    def test_bad_mode_is_422(self, client: TestClient, employer_headers: dict[str, str]) -> None:
        r = client.post(URL, json={"query": "x", "mode": "fuzzy"}, headers=employer_headers)
        assert r.status_code == 422, r.text
        assert "mode" in r.json()["detail"]


class TestRanking:
    def test_hybrid_ranks_matching_profiles_first_with_explanation(
        self, client: TestClient, employer_headers: dict[str, str], corpus: dict[str, int]
    ) -> None:
        data = _search(client, employer_headers, query="react developer figma")
        top = data["results"][0]
        assert _clerks(data)[0] == "ana"
        ex = top["explanation"]
        assert ex["keywordRank"] == 1
        assert ex["semanticRank"] is not None
        assert set(ex["matchedTerms"]) == {"react", "developer", "figma"}
        assert top["topSkills"] == ["react", "figma", "typescript"]
        assert top["userId"] == corpus["ana"]
        assert top["externalId"] == "ext-ana"
        assert data["tookMs"] >= 0

    def test_keyword_mode_has_no_semantic_rank(
        self, client: TestClient, employer_headers: dict[str, str], corpus: dict[str, int]
    ) -> None:
        data = _search(client, employer_headers, query="reconciliations", mode="keyword")
        assert _clerks(data) == ["cho"]
        ex = data["results"][0]["explanation"]
        assert ex["semanticRank"] is None
        assert ex["keywordRank"] == 1
        assert ex["matchedTerms"] == ["reconciliations"]

    def test_semantic_mode_has_no_keyword_rank(
        self, client: TestClient, employer_headers: dict[str, str], corpus: dict[str, int]
    ) -> None:
        data = _search(client, employer_headers, query="pastry chef", mode="semantic", limit=3)
        assert _clerks(data)[0] == "eve"
        assert all(h["explanation"]["keywordRank"] is None for h in data["results"])

    def test_filters_apply_inside_every_retriever(
        self, client: TestClient, employer_headers: dict[str, str], corpus: dict[str, int]
    ) -> None:
        data = _search(
            client,
            employer_headers,
            query="developer",
            filters={"skills": ["React"], "location": "berlin", "availability": "weekends"},
        )
        assert set(_clerks(data)) == {"ana", "fay"}

    def test_language_filter_requires_all_languages(
        self, client: TestClient, employer_headers: dict[str, str], corpus: dict[str, int]
    ) -> None:
        data = _search(
            client, employer_headers, query="student", filters={"languages": ["english", "korean"]}
        )
        assert _clerks(data) == ["cho"]

    def test_paging_is_consistent(
        self, client: TestClient, employer_headers: dict[str, str], corpus: dict[str, int]
    ) -> None:
        full = _clerks(_search(client, employer_headers, query="developer apps", limit=6))
        page2 = _clerks(
            _search(client, employer_headers, query="developer apps", limit=2, offset=2)
        )
        assert page2 == full[2:4]

    def test_stopword_only_keyword_query_returns_nothing(
        self, client: TestClient, employer_headers: dict[str, str], corpus: dict[str, int]
    ) -> None:
        assert (
            _search(client, employer_headers, query="the and of", mode="keyword")["results"] == []
        )


class TestBrowse:
    def test_empty_query_browses_filtered_newest_first(
        self,
        runtime: Runtime,
        client: TestClient,
        employer_headers: dict[str, str],
        corpus: dict[str, int],
    ) -> None:
        # Touch ana so she is the most recently updated Berlin profile.
        make_student(
            runtime,
            clerk_id="ana",
            headline="Frontend developer (updated)",
            bio="I build React apps.",
            skills=("react", "figma", "typescript"),
            languages=("English", "Spanish"),
            location="Berlin, Germany",
            availability=Availability.WEEKENDS,
        )
        reindex(runtime, progress=False)
        data = _search(client, employer_headers, query="", filters={"location": "Berlin"})
        clerks = _clerks(data)
        assert set(clerks) == {"ana", "dev", "fay"}
        assert clerks[0] == "ana"
        scores = [h["score"] for h in data["results"]]
        assert scores == sorted(scores, reverse=True)


class TestHydration:
    def test_soft_deleted_user_is_dropped_even_if_still_indexed(
        self,
        runtime: Runtime,
        client: TestClient,
        employer_headers: dict[str, str],
        corpus: dict[str, int],
    ) -> None:
        with session_scope(runtime.engine) as session:
            ana = session.exec(select(User).where(User.clerk_id == "ana")).one()
            ana.deleted_at = now_ms()
        data = _search(client, employer_headers, query="react developer figma")
        assert "ana" not in _clerks(data)

    def test_suspended_user_is_dropped(
        self,
        runtime: Runtime,
        client: TestClient,
        employer_headers: dict[str, str],
        corpus: dict[str, int],
    ) -> None:
        with session_scope(runtime.engine) as session:
            cho = session.exec(select(User).where(User.clerk_id == "cho")).one()
            cho.status = "suspended"
        data = _search(client, employer_headers, query="reconciliations", mode="keyword")
        assert data["results"] == []

    @pytest.mark.parametrize("query", ["react developer figma", ""])
    def test_hydration_is_one_statement_with_the_skills_in_order(
        self, runtime: Runtime, corpus: dict[str, int], query: str
    ) -> None:
        """The cards, their privacy floors and their skills come back together."""
        ids = [corpus["ana"], corpus["cho"], 999_999]
        page = [Hit(id=uid, score=1.0, terms=frozenset(), version=now_ms()) for uid in ids]
        seen: list[str] = []

        def count(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            seen.append(statement)

        with session_scope(runtime.engine) as session:
            event.listen(runtime.engine, "before_cursor_execute", count)
            try:
                hits = hydrate_profiles(
                    session, page, dense=[], keyword=[], term_names={}, query=query
                )
            finally:
                event.remove(runtime.engine, "before_cursor_execute", count)
        assert len(seen) == 1, seen
        assert [h.user_id for h in hits] == ids[:2]
        ana, cho = hits
        assert ana.top_skills == ["react", "figma", "typescript"]  # profile order, not a-z
        assert ana.explanation.matched_skills == (["react", "figma"] if query else [])
        assert cho.top_skills == ["excel", "quickbooks"]


def test_private_section_cannot_be_found(
    runtime: Runtime, client: TestClient, employer_headers: dict[str, str]
) -> None:
    make_student(
        runtime,
        clerk_id="gus",
        headline="Student",
        bio="Plain bio.",
        work=(("Intern", "Worked on the zanzibarquux project."),),
        skills=("secretskillxyz",),
        visibility={"work_experience": Visibility.PRIVATE, "skills": Visibility.PRIVATE},
    )
    reindex(runtime, progress=False)
    for mode in ("keyword", "semantic", "hybrid"):
        data = _search(client, employer_headers, query="zanzibarquux secretskillxyz", mode=mode)
        for hit in data["results"]:
            assert hit["explanation"]["matchedTerms"] == []
            assert "secretskillxyz" not in hit["topSkills"]
    data = _search(client, employer_headers, query="", filters={"skills": ["secretskillxyz"]})
    assert data["results"] == []


def test_health_reports_index_size(client: TestClient, corpus: dict[str, int]) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ok", "indexedProfiles": 6, "indexedGigs": 0}
