"""The gig API: create, read, merge-patch with If-Match, soft delete, the owner's
listing, and how a gig's life cycle shows in the index and in student-facing
results.

Runs on SQLite and PostgreSQL; tests where the index matters also run on both
store adapters (the ``rt``/``api`` fixtures).
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from models import Gig, now_ms
from search_service.db import session_scope
from search_service.refresh.freshness import refresh_stale
from search_service.runtime import GIGS, Runtime
from tests.search_service.profile_helpers import Student, new_user_with_key, student_with_key

MERGE = {"Content-Type": "application/merge-patch+json"}
DAY_MS = 86_400_000


def _post(client: TestClient, who: Student, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"title": "Gig", "status": "open", **fields}
    r = client.post("/v1/gigs", json=body, headers=who.headers)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def _patch(client: TestClient, who: Student, gig_id: int, body: Any, **headers: str) -> Any:
    return client.patch(
        f"/v1/gigs/{gig_id}", json=body, headers={**who.headers, **MERGE, **headers}
    )


def _ids(body: dict[str, Any], key: str = "gigId") -> list[int]:
    return [h[key] for h in body["results"]]


class TestCreate:
    def test_created_with_location_etag_and_skills_through_the_taxonomy(
        self, client: TestClient, owner: Student
    ) -> None:
        body = {
            "title": "Frontend helper",
            "requiredSkills": ["JS", "React.js"],
            "niceSkills": ["javascript", "Figma", "react"],
            "status": "draft",
        }
        r = client.post("/v1/gigs", json=body, headers=owner.headers)
        assert r.status_code == 201, r.text
        gig = r.json()
        assert r.headers["Location"] == f"/v1/gigs/{gig['id']}"
        assert r.headers["ETag"] == '"1"'
        assert gig["version"] == 1
        assert gig["ownerId"] == owner.id
        assert gig["requiredSkills"] == ["javascript", "react"]
        # Nice-to-have skills are mapped too, and those already required are dropped.
        assert gig["niceSkills"] == ["figma"]
        assert gig["status"] == "draft"

    def test_pay_and_deadline_round_trip(self, client: TestClient, owner: Student) -> None:
        deadline = now_ms() + 7 * DAY_MS
        pay = {"amountMinor": 2500, "currency": "EUR", "unit": "fixed"}
        created = _post(client, owner, pay=pay, deadline=deadline, remote=True)
        assert created["pay"] == pay
        assert created["deadline"] == deadline
        got = client.get(f"/v1/gigs/{created['id']}", headers=owner.headers).json()
        assert got["pay"] == pay
        assert got["deadline"] == deadline
        assert got["remote"] is True
        assert got["expired"] is False

    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"title": "   "}, "title"),
            ({"pay": {"amountMinor": 100, "currency": "eur"}}, "pay.currency"),
            ({"pay": {"amountMinor": 100, "currency": "EURO"}}, "pay.currency"),
            ({"pay": {"amountMinor": -1, "currency": "EUR"}}, "pay.amountMinor"),
            ({"salary": 10}, "salary"),
        ],
    )
    def test_invalid_gigs_are_422_naming_the_field(
        self, client: TestClient, owner: Student, fields: dict[str, Any], field: str
    ) -> None:
        r = client.post("/v1/gigs", json={"title": "Gig", **fields}, headers=owner.headers)
        assert r.status_code == 422, r.text
        assert r.json()["error"] == "validation_error"
        assert r.json()["detail"].startswith(f"{field}:"), r.json()["detail"]
        listed = client.get("/v1/me/gigs", headers=owner.headers).json()
        assert listed["total"] == 0


class TestRead:
    def test_drafts_are_the_owners_and_open_gigs_everyones(
        self, client: TestClient, runtime: Runtime, owner: Student
    ) -> None:
        draft = _post(client, owner, title="Draft", status="draft")
        live = _post(client, owner, title="Open one")
        other = new_user_with_key(runtime, "emp_other", role="employer")
        student = new_user_with_key(runtime, "stu_reader")
        for gig_id in (draft["id"], live["id"]):
            r = client.get(f"/v1/gigs/{gig_id}", headers=owner.headers)
            assert r.status_code == 200, r.text
            assert r.headers["ETag"] == '"1"'
        for who in (other, student):
            assert client.get(f"/v1/gigs/{draft['id']}", headers=who.headers).status_code == 404
            seen = client.get(f"/v1/gigs/{live['id']}", headers=who.headers)
            assert seen.status_code == 200, seen.text
            assert seen.json()["title"] == "Open one"
        assert client.get("/v1/gigs/999999", headers=owner.headers).status_code == 404

    def test_my_gigs_pages_filters_by_status_and_holds_only_mine(
        self, client: TestClient, runtime: Runtime, owner: Student
    ) -> None:
        a = _post(client, owner, title="A", status="draft")
        b = _post(client, owner, title="B")
        c = _post(client, owner, title="C")
        gone = _post(client, owner, title="Deleted")
        assert client.delete(f"/v1/gigs/{gone['id']}", headers=owner.headers).status_code == 204
        other = new_user_with_key(runtime, "emp_other", role="employer")
        theirs = _post(client, other, title="Not mine")

        first = client.get("/v1/me/gigs", params={"limit": 2}, headers=owner.headers)
        assert first.status_code == 200, first.text
        assert first.json()["total"] == 3
        assert first.json()["nextOffset"] == 2
        second = client.get(
            "/v1/me/gigs", params={"limit": 2, "offset": 2}, headers=owner.headers
        ).json()
        assert second["nextOffset"] is None
        seen = [g["id"] for g in first.json()["results"] + second["results"]]
        assert sorted(seen) == sorted([a["id"], b["id"], c["id"]])
        assert len(set(seen)) == 3
        assert theirs["id"] not in seen and gone["id"] not in seen

        drafts = client.get("/v1/me/gigs", params={"status": "draft"}, headers=owner.headers)
        assert [g["id"] for g in drafts.json()["results"]] == [a["id"]]
        assert drafts.json()["total"] == 1
        mine = client.get("/v1/me/gigs", headers=other.headers).json()
        assert [g["id"] for g in mine["results"]] == [theirs["id"]]


class TestPatch:
    def test_if_match_stale_is_409_malformed_400_weak_accepted(
        self, client: TestClient, owner: Student
    ) -> None:
        gig = _post(client, owner, title="Dog walker")
        ok = _patch(client, owner, gig["id"], {"title": "Dog sitter"}, **{"If-Match": '"1"'})
        assert ok.status_code == 200, ok.text
        assert ok.headers["ETag"] == '"2"'
        stale = _patch(client, owner, gig["id"], {"title": "Cat sitter"}, **{"If-Match": '"1"'})
        assert stale.status_code == 409, stale.text
        assert stale.json()["error"] == "conflict"
        bad = _patch(client, owner, gig["id"], {"title": "Cat sitter"}, **{"If-Match": "two"})
        assert bad.status_code == 400, bad.text
        weak = _patch(client, owner, gig["id"], {"title": "Pet sitter"}, **{"If-Match": 'W/"2"'})
        assert weak.status_code == 200, weak.text
        got = client.get(f"/v1/gigs/{gig['id']}", headers=owner.headers)
        assert got.json()["title"] == "Pet sitter"
        assert got.headers["ETag"] == '"3"'

    def test_merge_patch_null_resets_and_arrays_replace(
        self, client: TestClient, owner: Student
    ) -> None:
        gig = _post(
            client,
            owner,
            title="Tutor",
            description="Maths for year 9",
            location="Berlin",
            requiredSkills=["Python", "SQL"],
            pay={"amountMinor": 2000, "currency": "EUR", "unit": "hour"},
        )
        r = _patch(
            client,
            owner,
            gig["id"],
            {"location": None, "pay": None, "requiredSkills": ["Go"]},
        )
        assert r.status_code == 200, r.text
        after = r.json()
        assert after["location"] is None
        assert after["pay"] is None
        assert after["requiredSkills"] == ["go"]
        # Untouched fields keep their values.
        assert after["title"] == "Tutor"
        assert after["description"] == "Maths for year 9"
        nested = _patch(client, owner, gig["id"], {"pay": {"amountMinor": 1, "currency": "USD"}})
        assert nested.status_code == 200, nested.text
        assert nested.json()["pay"] == {"amountMinor": 1, "currency": "USD", "unit": "hour"}

    def test_a_patch_that_is_not_merge_patch_json_is_415(
        self, client: TestClient, owner: Student
    ) -> None:
        gig = _post(client, owner)
        r = client.patch(
            f"/v1/gigs/{gig['id']}",
            content=b"title=x",
            headers={**owner.headers, "Content-Type": "text/plain"},
        )
        assert r.status_code == 415, r.text
        got = client.get(f"/v1/gigs/{gig['id']}", headers=owner.headers).json()
        assert got["version"] == 1

    def test_a_patch_making_the_gig_invalid_is_422_and_changes_nothing(
        self, client: TestClient, owner: Student
    ) -> None:
        gig = _post(client, owner, title="Gardener")
        r = _patch(client, owner, gig["id"], {"title": " ", "pay": {"amountMinor": -5}})
        assert r.status_code == 422, r.text
        got = client.get(f"/v1/gigs/{gig['id']}", headers=owner.headers).json()
        assert (got["title"], got["version"]) == ("Gardener", 1)

    def test_only_the_owner_patches(
        self, client: TestClient, runtime: Runtime, owner: Student
    ) -> None:
        gig = _post(client, owner)
        other = new_user_with_key(runtime, "emp_other", role="employer")
        assert _patch(client, other, gig["id"], {"title": "Mine now"}).status_code == 403


def _student_facing(
    api: TestClient, student: Student, similar_to: int
) -> tuple[list[int], list[int], list[int]]:
    """Gig ids in gig search, the student's recommendations and ``similar_to``'s
    similar gigs."""
    search = api.post("/v1/gigs/search", json={"query": "barista"}, headers=student.headers)
    assert search.status_code == 200, search.text
    recommended = api.get("/v1/me/recommended-gigs", headers=student.headers)
    assert recommended.status_code == 200, recommended.text
    similar = api.get(
        f"/v1/gigs/{similar_to}/similar", params={"limit": 10}, headers=student.headers
    )
    assert similar.status_code == 200, similar.text
    return _ids(search.json()), _ids(recommended.json()), _ids(similar.json())


class TestIndex:
    def test_searchable_once_the_refresh_job_has_indexed_it(
        self, rt: Runtime, api: TestClient
    ) -> None:
        owner = new_user_with_key(rt, "emp_owner", role="employer")
        gig = _post(api, owner, title="Barista")
        assert gig["searchable"] is False
        refresh_stale(rt)
        got = api.get(f"/v1/gigs/{gig['id']}", headers=owner.headers).json()
        assert got["searchable"] is True
        assert got["embeddingUpdatedAt"] is not None
        assert rt.index(GIGS).store.count() == 1
        # A new version is not searchable until it is indexed in turn.
        edited = _patch(api, owner, gig["id"], {"title": "Barista and waiter"})
        assert edited.json()["searchable"] is False
        refresh_stale(rt)
        assert api.get(f"/v1/gigs/{gig['id']}", headers=owner.headers).json()["searchable"]

    def test_delete_is_soft_and_the_point_leaves_before_the_response(
        self, rt: Runtime, api: TestClient
    ) -> None:
        owner = new_user_with_key(rt, "emp_owner", role="employer")
        gig = _post(api, owner, title="Barista")
        refresh_stale(rt)
        assert rt.index(GIGS).store.count() == 1
        r = api.delete(f"/v1/gigs/{gig['id']}", headers=owner.headers)
        assert r.status_code == 204, r.text
        assert rt.index(GIGS).store.count() == 0  # no refresh in between
        assert api.get(f"/v1/gigs/{gig['id']}", headers=owner.headers).status_code == 404
        assert api.delete(f"/v1/gigs/{gig['id']}", headers=owner.headers).status_code == 404
        with session_scope(rt.engine) as session:
            row = session.get(Gig, gig["id"])
            assert row is not None
            assert row.deleted_at is not None
            assert row.title == "Barista"
        refresh_stale(rt)
        assert rt.index(GIGS).store.count() == 0

    @pytest.mark.parametrize("status", ["closed", "filled"])
    def test_a_closed_or_filled_gig_leaves_student_results_before_the_response(
        self, rt: Runtime, api: TestClient, status: str
    ) -> None:
        owner = new_user_with_key(rt, "emp_owner", role="employer")
        student = student_with_key(
            rt, "stu_barista", headline="Barista", skills=("coffee", "espresso")
        )
        gig = _post(api, owner, title="Barista espresso bar", requiredSkills=["Coffee"])
        other = _post(api, owner, title="Barista espresso cart", requiredSkills=["Coffee"])
        refresh_stale(rt)
        search, recommended, similar = _student_facing(api, student, other["id"])
        assert gig["id"] in search and gig["id"] in recommended and gig["id"] in similar
        assert rt.index(GIGS).store.count() == 2

        r = _patch(api, owner, gig["id"], {"status": status})
        assert r.status_code == 200, r.text
        # No refresh between the answer and these reads.
        assert rt.index(GIGS).store.count() == 1
        search, recommended, similar = _student_facing(api, student, other["id"])
        assert gig["id"] not in search
        assert gig["id"] not in recommended
        assert gig["id"] not in similar
        assert other["id"] in search and other["id"] in recommended
        assert api.get(f"/v1/gigs/{gig['id']}", headers=student.headers).status_code == 404
        assert api.get(f"/v1/gigs/{gig['id']}", headers=owner.headers).json()["status"] == status
