"""Strict wire types: what a client sends is read as written or refused with a 422
naming the field, never coerced.

- path and query integers are decimal digits (``/v1/gigs/1.0`` is not gig 1);
- JSON bodies are strict: a string is not a boolean or a number, ``1.0`` is not an
  integer (enum values are still strings);
- an empty or blank entry in a list of skills or languages is refused, not dropped;
- a saved search refuses a ``cursor`` (each run starts from the first page).
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from models import SavedSearch, SearchRequest
from search_service.db import session_scope
from search_service.refresh.writer import reindex
from search_service.runtime import Runtime
from tests.search_service.profile_helpers import Student, new_user_with_key

MERGE = {"Content-Type": "application/merge-patch+json"}
NOT_DIGITS = "must be a whole number in decimal digits"
BLANK = "must not be empty or only whitespace"


@pytest.fixture
def employer(runtime: Runtime) -> Student:
    return new_user_with_key(runtime, "emp_strict", role="employer")


@pytest.fixture
def student(runtime: Runtime) -> Student:
    return new_user_with_key(runtime, "stu_strict", role="student")


@pytest.fixture
def admin(runtime: Runtime) -> Student:
    return new_user_with_key(runtime, "adm_strict", role="admin")


def _detail(r: Any) -> str:
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "validation_error"
    detail: str = body["detail"]
    return detail


def _gig(client: TestClient, who: Student, **fields: Any) -> dict[str, Any]:
    r = client.post(
        "/v1/gigs", json={"title": "Gig", "status": "open", **fields}, headers=who.headers
    )
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def _integer_parameters(schema: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """``(method, path, where, name)`` of every integer path or query parameter."""
    out = []
    for path, item in schema["paths"].items():
        for method, op in item.items():
            for p in op.get("parameters", []):
                if p["in"] in ("path", "query") and p["schema"].get("type") == "integer":
                    out.append((method, path, p["in"], p["name"]))
    return out


class TestIntegerParameters:
    @pytest.mark.parametrize("text", ["1.0", "1e0", "+1", " 1", "0x1", "1_0", "١"])
    def test_a_gig_id_that_is_not_decimal_digits_is_422(
        self, client: TestClient, employer: Student, text: str
    ) -> None:
        gig = _gig(client, employer)
        assert gig["id"] == 1
        r = client.get(f"/v1/gigs/{text}", headers=employer.headers)
        assert _detail(r) == f"gig_id: {NOT_DIGITS}"
        assert client.get("/v1/gigs/1", headers=employer.headers).status_code == 200

    def test_profile_ids_too(self, client: TestClient, employer: Student) -> None:
        assert _detail(client.get("/v1/profiles/1.0/public")) == f"user_id: {NOT_DIGITS}"
        r = client.get("/v1/profiles/1.0", headers=employer.headers)
        assert _detail(r) == f"user_id: {NOT_DIGITS}"

    def test_a_limit_of_1_0_is_422(self, client: TestClient, employer: Student) -> None:
        r = client.get("/v1/me/gigs?limit=1.0", headers=employer.headers)
        assert _detail(r) == f"limit: {NOT_DIGITS}"
        r = client.get("/v1/me/gigs?limit=1&offset=0", headers=employer.headers)
        assert r.status_code == 200, r.text

    def test_every_integer_parameter_refuses_1_0(
        self, client: TestClient, employer: Student, student: Student, admin: Student
    ) -> None:
        """Whatever the route: each integer path or query parameter given ``1.0`` is a
        422 naming it, for every role the route lets through to parsing."""
        params = _integer_parameters(client.get("/openapi.json").json())
        assert {name for *_, name in params} >= {"gig_id", "user_id", "limit", "offset"}
        for method, path, where, name in params:
            url = path.replace("{" + name + "}", "1.0") if where == "path" else path
            url = url.replace("{gig_id}", "1").replace("{user_id}", "1")
            url = url.replace("{saved_search_id}", "1").replace("{key_id}", "1")
            url = url.replace("{key}", "k").replace("{clerk_id}", "c")
            if where == "query":
                url += f"?{name}=1.0"
            parsed = []
            for who in (employer, student, admin):
                r = client.request(method.upper(), url, headers=who.headers)
                assert r.status_code in (401, 403, 422), (method, url, r.status_code, r.text)
                if r.status_code == 422:
                    parsed.append(r.json()["detail"])
            assert parsed, (method, url, "no role reached parsing")
            assert all(f"{name}: {NOT_DIGITS}" in d for d in parsed), (method, url, parsed)


class TestStrictBodies:
    @pytest.mark.parametrize(
        ("field", "value"),
        [("remote", "yes"), ("remote", "true"), ("remote", 1), ("deadline", "1798761600000")],
    )
    def test_a_gig_write_with_a_wrong_type_is_422(
        self, client: TestClient, employer: Student, field: str, value: Any
    ) -> None:
        r = client.post("/v1/gigs", json={"title": "Gig", field: value}, headers=employer.headers)
        assert _detail(r).startswith(f"{field}: ")

    def test_a_float_for_an_integer_is_422(self, client: TestClient, employer: Student) -> None:
        body = {"title": "Gig", "pay": {"amountMinor": 2500.0, "currency": "EUR"}}
        r = client.post("/v1/gigs", json=body, headers=employer.headers)
        assert _detail(r).startswith("pay.amountMinor: ")

    def test_a_merge_patch_is_as_strict(self, client: TestClient, employer: Student) -> None:
        gig = _gig(client, employer)
        r = client.patch(
            f"/v1/gigs/{gig['id']}", json={"remote": "yes"}, headers={**employer.headers, **MERGE}
        )
        assert _detail(r).startswith("remote: ")
        r = client.patch(
            f"/v1/gigs/{gig['id']}",
            json={"remote": True, "availability": "weekends", "status": "closed"},
            headers={**employer.headers, **MERGE},
        )
        assert r.status_code == 200, r.text
        assert (r.json()["remote"], r.json()["availability"]) == (True, "weekends")

    def test_gig_search_filters_are_strict(self, client: TestClient, student: Student) -> None:
        r = client.post(
            "/v1/gigs/search", json={"filters": {"remote": "yes"}}, headers=student.headers
        )
        assert _detail(r).startswith("filters.remote: ")
        r = client.post(
            "/v1/gigs/search", json={"filters": {"payMin": "100"}}, headers=student.headers
        )
        assert _detail(r).startswith("filters.payMin: ")

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"limit": "5"}, "limit"),
            ({"limit": 5.0}, "limit"),
            ({"offset": True}, "offset"),
            ({"diversity": "0.5"}, "diversity"),
            ({"boosts": {"recency": "false"}}, "boosts.recency"),
        ],
    )
    def test_employer_search_is_strict(
        self, client: TestClient, employer: Student, body: dict[str, Any], field: str
    ) -> None:
        r = client.post("/v1/search", json=body, headers=employer.headers)
        assert _detail(r).startswith(f"{field}: ")

    def test_right_types_and_enum_strings_still_work(
        self, client: TestClient, runtime: Runtime, employer: Student, student: Student
    ) -> None:
        reindex(runtime, progress=False)
        body = {
            "query": "python",
            "mode": "keyword",
            "filters": {"skills": ["sql"], "availability": "part_time"},
            "limit": 5,
            "diversity": 0,  # an integer is a number
            "facets": ["skills"],
            "boosts": {"recency": False},
        }
        r = client.post("/v1/search", json=body, headers=employer.headers)
        assert r.status_code == 200, r.text
        gig = _gig(
            client,
            employer,
            remote=True,
            availability="part_time",
            pay={"amountMinor": 2500, "currency": "EUR", "unit": "fixed"},
            deadline=253_402_300_799_999,
        )
        assert gig["pay"]["unit"] == "fixed" and gig["remote"] is True
        body = {"filters": {"remote": True, "payMin": 100, "payUnit": "fixed"}, "diversity": 0.5}
        r = client.post("/v1/gigs/search", json=body, headers=student.headers)
        assert r.status_code == 200, r.text

    def test_profile_writes_are_strict(self, client: TestClient, student: Student) -> None:
        items: list[dict[str, Any]] = [{"school": "TU", "startYear": "2019"}]
        r = client.put(
            "/v1/me/profile", json={"education": {"items": items}}, headers=student.headers
        )
        assert _detail(r).startswith("education.items.0.startYear: ")
        items = [{"school": "TU", "startYear": 2019}]
        body = {"education": {"visibility": "public", "items": items}, "availability": "weekends"}
        r = client.put("/v1/me/profile", json=body, headers=student.headers)
        assert r.status_code == 200, r.text
        patch = {"skills": {"items": [{"name": "Go", "years": "3"}]}}
        headers = {**student.headers, **MERGE}
        r = client.patch("/v1/me/profile", json=patch, headers=headers)
        assert _detail(r).startswith("skills.items.0.years: ")
        valid: dict[str, Any] = {
            "skills": {"visibility": "private", "items": [{"name": "Go", "years": 3}]}
        }
        r = client.patch("/v1/me/profile", json=valid, headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["skills"]["visibility"] == "private"

    def test_a_decision_and_a_posting_are_strict(
        self, client: TestClient, employer: Student, admin: Student
    ) -> None:
        body = {
            "clerkId": "emp_strict",
            "amount": "100",
            "kind": "adjustment",
            "idempotencyKey": "k",
        }
        r = client.post("/v1/admin/transactions", json=body, headers=admin.headers)
        assert _detail(r).startswith("amount: ")
        r = client.post(
            "/v1/admin/api-keys",
            json={"clerkId": "emp_strict", "role": "employer", "name": 7},
            headers=admin.headers,
        )
        assert _detail(r).startswith("name: ")


class TestBlankListItems:
    @pytest.mark.parametrize("blank", ["", "   ", "\t"])
    def test_a_blank_required_skill_is_422_not_dropped(
        self, client: TestClient, employer: Student, blank: str
    ) -> None:
        body = {"title": "Gig", "requiredSkills": ["python", blank]}
        r = client.post("/v1/gigs", json=body, headers=employer.headers)
        assert _detail(r) == f"requiredSkills.1: {BLANK}"
        body = {"title": "Gig", "niceSkills": [blank]}
        r = client.post("/v1/gigs", json=body, headers=employer.headers)
        assert _detail(r) == f"niceSkills.0: {BLANK}"

    def test_search_filters(self, client: TestClient, employer: Student, student: Student) -> None:
        r = client.post("/v1/search", json={"filters": {"skills": [""]}}, headers=employer.headers)
        assert _detail(r) == f"filters.skills.0: {BLANK}"
        body = {"filters": {"languages": ["english", " "]}}
        r = client.post("/v1/search", json=body, headers=employer.headers)
        assert _detail(r) == f"filters.languages.1: {BLANK}"
        r = client.post(
            "/v1/gigs/search", json={"filters": {"skills": [""]}}, headers=student.headers
        )
        assert _detail(r) == f"filters.skills.0: {BLANK}"

    def test_profile_skills_and_languages(self, client: TestClient, student: Student) -> None:
        cases = [
            ({"skills": {"items": [{"name": " "}]}}, "skills.items.0.name"),
            ({"languages": {"items": [{"name": ""}]}}, "languages.items.0.name"),
            (
                {"projects": {"items": [{"title": "App", "skills": ["go", ""]}]}},
                "projects.items.0.skills.1",
            ),
        ]
        for body, field in cases:
            r = client.put("/v1/me/profile", json=body, headers=student.headers)
            assert _detail(r) == f"{field}: {BLANK}", body
        body = {"skills": {"items": [{"name": "Go"}]}, "languages": {"items": [{"name": "German"}]}}
        r = client.put("/v1/me/profile", json=body, headers=student.headers)
        assert r.status_code == 200, r.text

    def test_openapi_says_so(self, client: TestClient) -> None:
        schemas = client.get("/openapi.json").json()["components"]["schemas"]
        assert schemas["GigWrite"]["properties"]["requiredSkills"]["items"]["pattern"] == r"\S"


class TestSavedSearchCursor:
    def test_a_cursor_is_422_naming_it(self, client: TestClient, employer: Student) -> None:
        body = {"name": "Analysts", "search": {"query": "python", "cursor": "abc"}}
        r = client.post("/v1/saved-searches", json=body, headers=employer.headers)
        assert _detail(r).startswith("search.cursor: ")
        assert "first page" in r.json()["detail"]
        listed = client.get("/v1/saved-searches", headers=employer.headers).json()
        assert listed["results"] == []

    def test_a_null_cursor_or_none_is_saved(self, client: TestClient, employer: Student) -> None:
        for search in ({"query": "python", "cursor": None}, {"query": "sql"}):
            body = {"name": "Analysts", "search": search}
            r = client.post("/v1/saved-searches", json=body, headers=employer.headers)
            assert r.status_code == 201, r.text
            assert r.json()["search"]["cursor"] is None

    def test_openapi_says_so(self, client: TestClient) -> None:
        schemas = client.get("/openapi.json").json()["components"]["schemas"]
        assert schemas["SavedSearchRequest"]["properties"]["cursor"]["type"] == "null"


def test_rows_stored_before_the_rules_stay_readable(
    client: TestClient, runtime: Runtime, employer: Student
) -> None:
    """A saved search stored with a blank filter entry (accepted, then dropped, before
    the rule) is still listed: the rule is for input."""
    request = SearchRequest().model_dump(mode="json", by_alias=True)
    request["filters"]["skills"] = ["", "python"]
    with session_scope(runtime.engine) as session:
        session.add(SavedSearch(owner_id=employer.id, name="Old", request=request))
    r = client.get("/v1/saved-searches", headers=employer.headers)
    assert r.status_code == 200, r.text
    assert r.json()["results"][0]["search"]["filters"]["skills"] == ["", "python"]
