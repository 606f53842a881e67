"""Employer search: facet counts, zero-result suggestions and the search counters.

Runs on SQLite and PostgreSQL, and on both store adapters (the ``rt`` fixture).
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, update

from models import Availability, OutboxEvent, User, UserStatus, Visibility, now_ms
from search_service.db import session_scope
from search_service.refresh.freshness import refresh_stale
from search_service.refresh.writer import reindex
from search_service.runtime import PROFILES, Runtime
from search_service.users.api_keys import create_api_key
from tests.factories import make_student

URL = "/v1/search"
ALL_FACETS = ["skills", "languages", "availability", "location"]


def _employer(rt: Runtime) -> dict[str, str]:
    with session_scope(rt.engine) as session:
        _, key = create_api_key(session, role="employer")
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def employer(rt: Runtime) -> dict[str, str]:
    """Headers of an employer key on ``rt``."""
    return _employer(rt)


@pytest.fixture(scope="module")
def module_employer(module_rt: Runtime) -> dict[str, str]:
    """Headers of an employer key on ``module_rt``."""
    return _employer(module_rt)


def _student(rt: Runtime, clerk_id: str, **fields: Any) -> User:
    return make_student(rt, clerk_id=clerk_id, **fields)


@pytest.fixture
def corpus(rt: Runtime) -> dict[str, int]:
    """Six indexed students, one of them with a private skills section; clerk id -> id.
    The test's own, for the tests that change it."""
    return _corpus(rt)


@pytest.fixture(scope="module")
def module_corpus(module_rt: Runtime) -> dict[str, int]:
    """:func:`corpus` once per database and store adapter, for the module's tests
    that only search it."""
    return _corpus(module_rt)


def _corpus(rt: Runtime) -> dict[str, int]:
    people = [
        _student(
            rt,
            "ana",
            headline="Frontend developer",
            bio="I build React apps.",
            skills=("react", "figma", "typescript"),
            languages=("English", "Spanish"),
            location="Berlin, Germany",
            availability=Availability.WEEKENDS,
        ),
        _student(
            rt,
            "ben",
            headline="Backend developer",
            bio="Python and Django APIs.",
            skills=("python", "django"),
            languages=("English",),
            location="Munich, Germany",
            availability=Availability.PART_TIME,
        ),
        _student(
            rt,
            "cho",
            headline="Accounting student",
            bio="Month-end close in Excel.",
            skills=("excel",),
            languages=("English", "Korean"),
            location="Seoul, South Korea",
            availability=Availability.WEEKENDS,
        ),
        _student(
            rt,
            "dev",
            headline="UI designer",
            bio="Figma prototypes.",
            skills=("figma",),
            languages=("German",),
            location="Berlin, Germany",
            availability=Availability.EVENINGS,
        ),
        _student(
            rt,
            "eve",
            headline="Chef",
            bio="Pastry and catering.",
            skills=("baking",),
            languages=("French",),
            location="Paris, France",
        ),
        _student(
            rt,
            "gus",
            headline="Mainframe developer",
            bio="Batch jobs.",
            skills=("cobol", "react"),
            languages=("English",),
            location="Berlin, Germany",
            availability=Availability.WEEKENDS,
            visibility={"skills": Visibility.PRIVATE},
        ),
    ]
    reindex(rt, progress=False)
    return {u.clerk_id: u.id for u in people if u.id is not None}


def _search(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    r = client.post(URL, json=body, headers=headers)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def _counts(data: dict[str, Any], facet: str) -> dict[str, int]:
    return {v["value"]: v["count"] for v in data["facets"]["values"][facet]}


def _pairs(data: dict[str, Any], facet: str) -> list[tuple[str, int]]:
    return [(v["value"], v["count"]) for v in data["facets"]["values"][facet]]


class TestFacetCounts:
    def test_no_facets_unless_asked(
        self, module_api: TestClient, module_employer: dict[str, str], module_corpus: dict[str, int]
    ) -> None:
        api, employer = module_api, module_employer
        assert _search(api, employer)["facets"] is None

    def test_filter_only_counts_every_match_exactly(
        self, module_api: TestClient, module_employer: dict[str, str], module_corpus: dict[str, int]
    ) -> None:
        api, employer = module_api, module_employer
        data = _search(api, employer, facets=ALL_FACETS, limit=1)
        assert data["facets"]["basis"] == "all_matches"
        assert data["facets"]["counted"] == 6
        assert _pairs(data, "skills") == [
            ("figma", 2),
            ("baking", 1),
            ("django", 1),
            ("excel", 1),
            ("python", 1),
            ("react", 1),
            ("typescript", 1),
        ]
        assert _pairs(data, "languages") == [
            ("english", 4),
            ("french", 1),
            ("german", 1),
            ("korean", 1),
            ("spanish", 1),
        ]
        assert _pairs(data, "availability") == [
            ("weekends", 3),
            ("evenings", 1),
            ("part_time", 1),
        ]
        assert _pairs(data, "location") == [
            ("berlin, germany", 3),
            ("munich, germany", 1),
            ("paris, france", 1),
            ("seoul, south korea", 1),
        ]

    def test_counts_follow_the_filters(
        self, module_api: TestClient, module_employer: dict[str, str], module_corpus: dict[str, int]
    ) -> None:
        api, employer = module_api, module_employer
        data = _search(
            api,
            employer,
            filters={"location": "germany", "languages": ["english"]},
            facets=["skills", "availability"],
        )
        assert data["facets"]["counted"] == 3  # ana, ben, gus
        assert _counts(data, "skills") == {
            "react": 1,
            "figma": 1,
            "typescript": 1,
            "python": 1,
            "django": 1,
        }
        assert _counts(data, "availability") == {"weekends": 2, "part_time": 1}
        assert set(data["facets"]["values"]) == {"skills", "availability"}

    def test_a_facet_value_as_a_filter_finds_as_many_profiles(
        self, module_api: TestClient, module_employer: dict[str, str], module_corpus: dict[str, int]
    ) -> None:
        api, employer = module_api, module_employer
        data = _search(api, employer, facets=["location", "skills"])
        for facet, key in (("location", "location"), ("skills", "skills")):
            for value, n in _counts(data, facet).items():
                filters = {key: value if key == "location" else [value]}
                got = _search(api, employer, filters=filters, limit=100)
                assert len(got["results"]) == n, (facet, value)

    def test_text_query_counts_the_union_of_the_candidates(
        self, module_api: TestClient, module_employer: dict[str, str], module_corpus: dict[str, int]
    ) -> None:
        api, employer = module_api, module_employer
        data = _search(
            api, employer, query="developer", mode="keyword", facets=["skills", "location"]
        )
        # BM25 alone: exactly the profiles whose text says "developer".
        assert {h["externalId"] for h in data["results"]} == {"ext-ana", "ext-ben", "ext-gus"}
        assert data["facets"]["basis"] == "candidates"
        assert data["facets"]["counted"] == 3
        assert _counts(data, "location") == {"berlin, germany": 2, "munich, germany": 1}
        hybrid = _search(api, employer, query="developer", facets=["skills"])
        # The dense retriever returns every profile within its prefetch depth.
        assert hybrid["facets"]["counted"] == 6

    def test_top_values_are_capped_by_count_then_name(
        self, api: TestClient, employer: dict[str, str], rt: Runtime
    ) -> None:
        for i in range(25):
            _student(rt, f"s{i:02d}", skills=tuple(f"skill{j:02d}" for j in range(i + 1)))
        reindex(rt, progress=False)
        data = _search(api, employer, facets=["skills"])
        values = _pairs(data, "skills")
        assert len(values) == 20
        # skill00 is on all 25 profiles, skill01 on 24, ...
        assert values == [(f"skill{j:02d}", 25 - j) for j in range(20)]


class TestPrivacy:
    def test_a_private_section_is_never_counted(
        self, module_api: TestClient, module_employer: dict[str, str], module_corpus: dict[str, int]
    ) -> None:
        api, employer = module_api, module_employer
        data = _search(api, employer, facets=ALL_FACETS, filters={"location": "berlin"})
        assert data["facets"]["counted"] == 3  # gus is counted, his skills are not
        assert "cobol" not in _counts(data, "skills")
        assert _counts(data, "skills") == {"react": 1, "figma": 2, "typescript": 1}
        assert _counts(data, "languages")["english"] == 2

    def test_values_vanish_at_once_when_a_section_goes_private(
        self,
        api: TestClient,
        employer: dict[str, str],
        rt: Runtime,
        corpus: dict[str, int],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        # The index lags: removals do not reach the store.
        monkeypatch.setattr(rt.index(PROFILES).store, "delete", lambda ids: None)
        before = _search(api, employer, facets=["skills"])
        assert _counts(before, "skills")["typescript"] == 1
        _student(
            rt,
            "ana",
            headline="Frontend developer",
            bio="I build React apps.",
            skills=("react", "figma", "typescript"),
            languages=("English", "Spanish"),
            location="Berlin, Germany",
            availability=Availability.WEEKENDS,
            visibility={"skills": Visibility.PRIVATE},
        )
        assert rt.index(PROFILES).store.payloads([corpus["ana"]])[corpus["ana"]][
            "skills"
        ]  # still indexed
        now = _search(api, employer, facets=["skills"])
        assert "typescript" not in _counts(now, "skills")
        assert now["facets"]["counted"] == 5
        # With the removal no longer pending, the privacy floor alone still hides it.
        with session_scope(rt.engine) as session:
            session.exec(update(OutboxEvent).values(processed_at=now_ms()))
        assert "typescript" not in _counts(_search(api, employer, facets=["skills"]), "skills")
        # Once re-indexed, ana is counted again, without her skills.
        refresh_stale(rt)
        after = _search(api, employer, facets=["skills", "languages"])
        assert after["facets"]["counted"] == 6
        assert "typescript" not in _counts(after, "skills")
        assert _counts(after, "languages")["spanish"] == 1

    def test_a_user_leaving_search_leaves_the_counts_at_once(
        self,
        api: TestClient,
        employer: dict[str, str],
        rt: Runtime,
        corpus: dict[str, int],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(rt.index(PROFILES).store, "delete", lambda ids: None)
        with session_scope(rt.engine) as session:
            ben = session.get(User, corpus["ben"])
            assert ben is not None
            ben.status = UserStatus.SUSPENDED.value
            dev = session.get(User, corpus["dev"])
            assert dev is not None
            dev.deleted_at = now_ms()
        with session_scope(rt.engine) as session:
            session.exec(
                update(OutboxEvent)
                .where(col(OutboxEvent.processed_at).is_(None))
                .values(processed_at=now_ms())
            )
        assert rt.index(PROFILES).store.count() == 6  # both points are still in the index
        data = _search(api, employer, facets=ALL_FACETS)
        assert data["facets"]["counted"] == 4
        assert "python" not in _counts(data, "skills")
        assert "german" not in _counts(data, "languages")
        assert _counts(data, "availability") == {"weekends": 3}
        text = _search(api, employer, query="developer designer", facets=["skills"])
        assert "python" not in _counts(text, "skills")
        assert text["facets"]["counted"] == 4


class TestSuggestion:
    def test_filter_only_suggests_the_best_filter_to_drop(
        self, module_api: TestClient, module_employer: dict[str, str], module_corpus: dict[str, int]
    ) -> None:
        api, employer = module_api, module_employer
        filters = {"location": "berlin", "availability": "part_time", "languages": ["english"]}
        data = _search(api, employer, filters=filters)
        assert data["results"] == []
        # Without the location: ben; without the availability: ana and gus;
        # without the language: nobody in Berlin works part time.
        assert data["suggestion"] == {"drop": "availability", "value": "part_time", "results": 2}
        relaxed = {k: v for k, v in filters.items() if k != "availability"}
        assert len(_search(api, employer, filters=relaxed, limit=100)["results"]) == 2

    def test_drops_one_item_of_a_list_filter(
        self, module_api: TestClient, module_employer: dict[str, str], module_corpus: dict[str, int]
    ) -> None:
        api, employer = module_api, module_employer
        data = _search(api, employer, filters={"skills": ["figma", "COBOL"]})
        assert data["results"] == []
        # gus's cobol is private: dropping figma leaves nobody.
        assert data["suggestion"] == {"drop": "skills", "value": "COBOL", "results": 2}
        got = _search(api, employer, filters={"skills": ["figma"]}, limit=100)
        assert len(got["results"]) == 2

    def test_text_query_counts_as_the_query_would(
        self, module_api: TestClient, module_employer: dict[str, str], module_corpus: dict[str, int]
    ) -> None:
        api, employer = module_api, module_employer
        body = {"query": "developer", "mode": "keyword"}
        data = _search(api, employer, **body, filters={"languages": ["korean"]})
        assert data["results"] == []
        assert data["suggestion"] == {"drop": "languages", "value": "korean", "results": 3}
        assert len(_search(api, employer, **body, limit=100)["results"]) == 3

    def test_none_without_filters_or_when_nothing_helps(
        self, module_api: TestClient, module_employer: dict[str, str], module_corpus: dict[str, int]
    ) -> None:
        api, employer = module_api, module_employer
        empty = _search(api, employer, query="zzzqqq", mode="keyword")
        assert empty["results"] == []
        assert empty["suggestion"] is None
        hopeless = _search(
            api, employer, query="zzzqqq", mode="keyword", filters={"skills": ["figma"]}
        )
        assert hopeless["suggestion"] is None

    def test_none_when_there_are_results_or_past_the_first_page(
        self, module_api: TestClient, module_employer: dict[str, str], module_corpus: dict[str, int]
    ) -> None:
        api, employer = module_api, module_employer
        assert _search(api, employer, filters={"skills": ["figma"]})["suggestion"] is None
        deep = _search(api, employer, filters={"skills": ["figma", "cobol"]}, offset=20)
        assert deep["results"] == []
        assert deep["suggestion"] is None

    def test_servability_bounds_the_suggested_count(
        self, api: TestClient, employer: dict[str, str], rt: Runtime, corpus: dict[str, int]
    ) -> None:
        with session_scope(rt.engine) as session:
            ana = session.get(User, corpus["ana"])
            assert ana is not None
            ana.status = UserStatus.SUSPENDED.value
        data = _search(api, employer, filters={"skills": ["figma", "cobol"]})
        assert data["suggestion"] == {"drop": "skills", "value": "cobol", "results": 1}


def _metric(client: TestClient, headers: dict[str, str], line_start: str) -> float:
    text = client.get("/metrics", headers=headers).text
    for line in text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{line_start} not in /metrics")


def test_searches_and_zero_result_searches_are_counted_per_kind(
    api: TestClient,
    employer: dict[str, str],
    corpus: dict[str, int],
    metrics_headers: dict[str, str],
) -> None:
    total = 'gigsy_searches_total{kind="profiles"}'
    zero = 'gigsy_zero_result_searches_total{kind="profiles"}'
    assert _metric(api, metrics_headers, total) == 0
    assert _metric(api, metrics_headers, zero) == 0
    _search(api, employer, query="developer")
    _search(api, employer, filters={"skills": ["cobol"]})
    _search(api, employer, query="developer", offset=50)  # a later page is no new search
    assert _metric(api, metrics_headers, total) == 2
    assert _metric(api, metrics_headers, zero) == 1
    assert _metric(api, metrics_headers, 'gigsy_searches_total{kind="gigs"}') == 0


def test_openapi_shows_the_new_fields_with_examples(module_api: TestClient) -> None:
    schemas = module_api.get("/openapi.json").json()["components"]["schemas"]
    assert "facets" in schemas["SearchRequest"]["properties"]
    assert schemas["SearchRequest"]["examples"][0]["facets"] == ["skills", "location"]
    response = schemas["SearchResponse"]["properties"]
    assert {"facets", "suggestion"} <= set(response)
    assert schemas["FacetCounts"]["examples"][0]["basis"] == "all_matches"
    assert schemas["FilterSuggestion"]["examples"][0]["drop"] == "skills"
    assert set(schemas["FacetName"]["enum"]) == set(ALL_FACETS)
