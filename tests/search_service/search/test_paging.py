"""Cursor paging of every ranked list, and MMR diversity composed with it.

The pager alone (a fake ranker), then every list through HTTP on SQLite and
PostgreSQL and on both store adapters: pages followed by ``nextCursor`` equal one
large request; edits, additions and removals between pages never repeat a
result; bad, foreign and offset-mixed cursors are 422 in the one error shape.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from fastapi.testclient import TestClient

from indexers import Hit
from search_service.errors import InvalidRequestError
from search_service.refresh.freshness import refresh_stale
from search_service.runtime import Runtime
from search_service.search.paging import Pager, pool_size
from search_service.settings import SearchSettings
from tests.search_service.profile_helpers import Student, new_user_with_key, student_with_key

pytestmark = pytest.mark.long

SEARCH = {"list": "test", "query": "q"}


class _FakeStore:
    """Only what the pager asks of a store: dense vectors (none here)."""

    def dense_vectors(self, ids: list[int]) -> dict[int, Any]:
        return {}


class _Ranker:
    """A fixed ranking of ``n`` ids (id i scores n - i); records the pools asked for."""

    def __init__(self, n: int) -> None:
        self.ids = list(range(1, n + 1))
        self.pools: list[int] = []

    def __call__(self, depth: int, pool: int) -> list[Hit]:
        self.pools.append(pool)
        return [Hit(id=i, score=float(-i)) for i in self.ids[: max(depth, 0)]][:pool]


def _follow(settings: SearchSettings, rank: _Ranker, *, limit: int) -> list[list[int]]:
    pages: list[list[int]] = []
    cursor: str | None = None
    while True:
        pager = Pager.open(settings, SEARCH, limit=limit, cursor=cursor)
        pages.append([h.id for h in pager.page(rank, _FakeStore())])  # type: ignore[arg-type]
        cursor = pager.next_cursor()
        if cursor is None:
            return pages


class TestPager:
    def test_pages_concatenate_to_the_ranking_and_the_pool_follows_the_depth(self) -> None:
        settings = SearchSettings(candidates=10, max_depth=1000)
        rank = _Ranker(45)
        pages = _follow(settings, rank, limit=7)
        assert [i for p in pages for i in p] == rank.ids
        assert all(len(p) == 7 for p in pages[:-1])
        assert rank.pools[0] == 10 and rank.pools[-1] == 80  # doubled as the pages deepened

    def test_the_deepest_page_ends_without_a_cursor(self) -> None:
        settings = SearchSettings(candidates=10, max_depth=25)
        pages = _follow(settings, _Ranker(100), limit=10)
        assert [len(p) for p in pages] == [10, 10, 5]

    def test_an_edit_between_pages_never_repeats_a_served_result(self) -> None:
        settings = SearchSettings(candidates=10)
        rank = _Ranker(20)
        first = Pager.open(settings, SEARCH, limit=5)
        assert [h.id for h in first.page(rank, _FakeStore())] == [1, 2, 3, 4, 5]  # type: ignore[arg-type]
        rank.ids = [6, 7, 3, 8, 1, 9, 10, 2, 21, 11, 12]  # 3, 1 and 2 fell; 21 is new
        second = Pager.open(settings, SEARCH, limit=5, cursor=first.next_cursor())
        assert [h.id for h in second.page(rank, _FakeStore())] == [6, 7, 8, 9, 10]  # type: ignore[arg-type]

    def test_offset_pages_are_slices_and_never_carry_a_cursor(self) -> None:
        pager = Pager.open(SearchSettings(candidates=10), SEARCH, limit=4, offset=8)
        assert [h.id for h in pager.page(_Ranker(30), _FakeStore())] == [9, 10, 11, 12]  # type: ignore[arg-type]
        assert pager.next_offset == 12 and pager.next_cursor() is None

    def test_a_cursor_with_an_offset_is_refused(self) -> None:
        settings = SearchSettings()
        first = Pager.open(settings, SEARCH, limit=2)
        first.page(_Ranker(5), _FakeStore())  # type: ignore[arg-type]
        with pytest.raises(InvalidRequestError, match="either cursor or offset"):
            Pager.open(settings, SEARCH, limit=2, offset=2, cursor=first.next_cursor())

    def test_tampered_garbled_foreign_and_other_key_cursors_are_refused(self) -> None:
        settings = SearchSettings(cursor_secret="k" * 32)
        first = Pager.open(settings, SEARCH, limit=2)
        first.page(_Ranker(5), _FakeStore())  # type: ignore[arg-type]
        cursor = first.next_cursor()
        assert cursor is not None
        raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        raw[-20] ^= 1  # a served tag changed
        tampered = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
        for bad in (tampered, "not a cursor", cursor[:-3], ""):
            with pytest.raises(InvalidRequestError, match="cursor is not valid"):
                Pager.open(settings, SEARCH, limit=2, cursor=bad)
        with pytest.raises(InvalidRequestError, match="another request"):
            Pager.open(settings, {**SEARCH, "query": "other"}, limit=2, cursor=cursor)
        other_key = SearchSettings(cursor_secret="z" * 32)
        with pytest.raises(InvalidRequestError, match="cursor is not valid"):
            Pager.open(other_key, SEARCH, limit=2, cursor=cursor)
        assert Pager.open(settings, SEARCH, limit=5, cursor=cursor).limit == 5  # limit may change

    def test_pool_size_doubles_from_candidates_and_stops_at_the_cap(self) -> None:
        assert [pool_size(d, 100, 500) for d in (1, 100, 101, 399, 401)] == [
            100,
            100,
            200,
            400,
            500,
        ]
        assert pool_size(2000, 100, 500) == 2000  # offset paging past the cap still reaches


# ---- through HTTP: every list, both adapters, SQLite and PostgreSQL ----


_WORDS = ("django", "pandas", "flask", "numpy", "sql", "docker", "aws", "linux", "git")


class Market:
    """An employer, nine Python students with keys, eight Python gigs, five applicants."""

    def __init__(self, rt: Runtime, api: TestClient) -> None:
        self.employer = new_user_with_key(rt, "emp_paging", role="employer")
        self.students: list[Student] = [
            student_with_key(
                rt,
                f"stu_{w}",
                headline=f"Python developer {w}",
                bio=" ".join(["python"] * (i + 1) + list(_WORDS[: i + 1])),
                skills=("python", w),
            )
            for i, w in enumerate(_WORDS)
        ]
        self.gigs: list[int] = []
        for i, w in enumerate(_WORDS[:8]):
            r = api.post(
                "/v1/gigs",
                json={
                    "title": f"Python developer for {w}",
                    "description": " ".join(["python"] * (i + 1) + [w]),
                    "requiredSkills": ["python", w],
                    "status": "open",
                },
                headers=self.employer.headers,
            )
            assert r.status_code == 201, r.text
            self.gigs.append(r.json()["id"])
        for s in self.students[:5]:
            r = api.put(f"/v1/gigs/{self.gigs[0]}/application", headers=s.headers)
            assert r.status_code == 200, r.text
        refresh_stale(rt)


@pytest.fixture
def market(rt: Runtime, api: TestClient) -> Market:
    """A market of the test's own, for the tests that change it between pages."""
    return Market(rt, api)


@pytest.fixture(scope="module")
def module_market(module_rt: Runtime, module_api: TestClient) -> Market:
    """One market for the module's tests that only read it (requests of ranked
    lists, refused cursors): built once per database and store adapter."""
    return Market(module_rt, module_api)


def _lists(m: Market) -> dict[str, tuple[str, str, dict[str, Any], dict[str, str], str]]:
    """name -> (method, path, body or params, headers, id field)."""
    e, s = m.employer.headers, m.students[0].headers
    g, u = m.gigs[0], m.students[0].id
    return {
        "search": ("POST", "/v1/search", {"query": "python developer"}, e, "userId"),
        "gig-search": ("POST", "/v1/gigs/search", {"query": "python developer"}, e, "gigId"),
        "recommended": ("GET", "/v1/me/recommended-gigs", {}, s, "gigId"),
        "candidates": ("GET", f"/v1/gigs/{g}/candidates", {}, e, "userId"),
        "applicants": ("GET", f"/v1/gigs/{g}/applicants", {}, e, "userId"),
        "similar-students": ("GET", f"/v1/profiles/{u}/similar", {}, e, "userId"),
        "similar-gigs": ("GET", f"/v1/gigs/{g}/similar", {}, e, "gigId"),
    }


LISTS = list(
    ("search", "gig-search", "recommended", "candidates", "applicants")
    + ("similar-students", "similar-gigs")
)


def _call(api: TestClient, m: Market, name: str, **extra: Any) -> Any:
    method, path, args, headers, _ = _lists(m)[name]
    args = {**args, **{k: v for k, v in extra.items() if v is not None}}
    if method == "POST":
        return api.post(path, json=args, headers=headers)
    return api.get(path, params=args, headers=headers)


def _ids(api: TestClient, m: Market, name: str, **extra: Any) -> tuple[list[int], Any]:
    r = _call(api, m, name, **extra)
    assert r.status_code == 200, r.text
    key = _lists(m)[name][4]
    return [h[key] for h in r.json()["results"]], r.json()


def _pages(api: TestClient, m: Market, name: str, **extra: Any) -> list[list[int]]:
    pages: list[list[int]] = []
    cursor = None
    while True:
        ids, body = _ids(api, m, name, cursor=cursor, **extra)
        pages.append(ids)
        cursor = body["nextCursor"]
        if cursor is None:
            return pages


@pytest.mark.parametrize("diversity", [0.0, 0.6])
@pytest.mark.parametrize("name", LISTS)
def test_pages_followed_by_cursor_equal_one_large_request(
    module_api: TestClient, module_market: Market, name: str, diversity: float
) -> None:
    api, market = module_api, module_market
    large, body = _ids(api, market, name, limit=50, diversity=diversity)
    assert len(large) >= 4 and body["nextCursor"] is None
    pages = _pages(api, market, name, limit=2, diversity=diversity)
    assert len(pages) >= 2
    assert [i for p in pages for i in p] == large


@pytest.mark.parametrize("name", LISTS)
def test_bad_cursors_and_out_of_range_diversity_are_422(
    module_api: TestClient, module_market: Market, name: str
) -> None:
    api, market = module_api, module_market
    _, first = _ids(api, market, name, limit=2)
    cursor = first["nextCursor"]
    assert cursor
    mixed = _call(api, market, name, limit=2, offset=2, cursor=cursor)
    assert mixed.status_code == 422, mixed.text
    assert mixed.json() == {
        "error": "validation_error",
        "detail": "give either cursor or offset, not both",
    }
    garbled = _call(api, market, name, limit=2, cursor=cursor[:-4] + "AAAA")
    assert garbled.status_code == 422 and "cursor is not valid" in garbled.json()["detail"]
    foreign = _call(api, market, name, limit=2, cursor=cursor, diversity=0.5)
    assert foreign.status_code == 422 and "another request" in foreign.json()["detail"]
    for bad in (-0.1, 1.5):
        r = _call(api, market, name, diversity=bad)
        assert r.status_code == 422, r.text
        assert r.json()["error"] == "validation_error" and "diversity" in r.json()["detail"]


def test_a_cursor_of_another_list_or_query_is_422(
    module_api: TestClient, module_market: Market
) -> None:
    api, market = module_api, module_market
    _, first = _ids(api, market, "search", limit=2)
    other_query = _call(api, market, "search", query="django", cursor=first["nextCursor"])
    assert other_query.status_code == 422 and "another request" in other_query.json()["detail"]
    _, gigs = _ids(api, market, "similar-gigs", limit=2)
    r = api.get(
        f"/v1/gigs/{market.gigs[1]}/similar",
        params={"cursor": gigs["nextCursor"]},
        headers=market.employer.headers,
    )
    assert r.status_code == 422 and "another request" in r.json()["detail"]


def _patch(api: TestClient, s: Student, **fields: Any) -> None:
    r = api.patch(
        "/v1/me/profile",
        json=fields,
        headers={**s.headers, "Content-Type": "application/merge-patch+json"},
    )
    assert r.status_code == 200, r.text


class TestChangesBetweenPages:
    """Employer search, three results a page; the index changes after page one."""

    def _rest(self, api: TestClient, m: Market, cursor: str) -> list[int]:
        out: list[int] = []
        next_cursor: str | None = cursor
        while next_cursor is not None:
            ids, body = _ids(api, m, "search", limit=3, cursor=next_cursor)
            out += ids
            next_cursor = body["nextCursor"]
        return out

    def test_a_served_profile_that_falls_is_not_served_again(
        self, rt: Runtime, api: TestClient, market: Market
    ) -> None:
        first, body = _ids(api, market, "search", limit=3)
        top = next(s for s in market.students if s.id == first[0])
        _patch(api, top, headline="Barista", bio="Coffee and python")
        refresh_stale(rt)
        after, _ = _ids(api, market, "search", limit=50)
        assert after.index(top.id) >= 3  # offset paging would serve it twice
        rest = self._rest(api, market, body["nextCursor"])
        assert top.id not in rest
        assert sorted(first + rest) == sorted(after)

    def test_a_new_profile_and_a_removal_neither_repeat_nor_skip(
        self, rt: Runtime, api: TestClient, market: Market
    ) -> None:
        first, body = _ids(api, market, "search", limit=3)
        gone = next(s for s in market.students if s.id == first[1])
        assert api.delete("/v1/me", headers=gone.headers).status_code == 204
        new = student_with_key(
            rt, "stu_new", headline="Python developer", bio="python " * 12, skills=("python",)
        )
        refresh_stale(rt)
        after, _ = _ids(api, market, "search", limit=50)
        assert gone.id not in after and new.id in after
        rest = self._rest(api, market, body["nextCursor"])
        assert len(first + rest) == len(set(first + rest))
        assert set(rest) == set(after) - set(first)  # nothing skipped either

    def test_the_deepest_page_has_no_cursor(
        self, rt: Runtime, api: TestClient, market: Market
    ) -> None:
        assert [len(p) for p in _pages(api, market, "search", limit=4)] == [4, 4, 1]
        rt.settings.search.max_depth = 6
        assert [len(p) for p in _pages(api, market, "search", limit=4)] == [4, 2]


def test_openapi_shows_cursor_diversity_and_next_cursor(module_api: TestClient) -> None:
    spec = module_api.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    for request in ("SearchRequest", "GigSearchRequest"):
        assert {"cursor", "diversity"} <= set(schemas[request]["properties"])
    for response in ("SearchResponse", "GigSearchResponse", "CandidateResponse"):
        assert "nextCursor" in schemas[response]["properties"]
    for path in (
        "/v1/me/recommended-gigs",
        "/v1/gigs/{gig_id}/candidates",
        "/v1/gigs/{gig_id}/applicants",
        "/v1/profiles/{user_id}/similar",
        "/v1/gigs/{gig_id}/similar",
    ):
        names = {p["name"] for p in spec["paths"][path]["get"]["parameters"]}
        assert {"cursor", "diversity"} <= names, path
