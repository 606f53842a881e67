"""Gigs as a second indexed entity: gig search, recommendations both ways, feedback.

Runs on SQLite and PostgreSQL, and on both store adapters where the store matters.
The hashing encoder makes dense similarity a bag-of-words overlap, so the
expected orders below follow from shared words and skills.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import col, select

from models import Availability, Gig, Interaction, Visibility, now_ms
from search_service.db import session_scope
from search_service.refresh.expiry import expire_gigs
from search_service.refresh.freshness import refresh_stale
from search_service.runtime import GIGS, Runtime
from search_service.settings import Settings
from tests.search_service.profile_helpers import Student, new_user_with_key, student_with_key


def _gig(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"title": "Gig", "status": "open"}
    body.update(fields)
    return body


def _post(api: TestClient, owner: Student, **fields: Any) -> dict[str, Any]:
    r = api.post("/v1/gigs", json=_gig(**fields), headers=owner.headers)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


@pytest.fixture
def employer(rt: Runtime) -> Student:
    return new_user_with_key(rt, "emp_1", role="employer")


def _ids(body: dict[str, Any], key: str = "gigId") -> list[int]:
    return [h[key] for h in body["results"]]


class TestGigSearch:
    def test_an_open_gig_is_found_once_indexed_and_gone_when_closed_before_the_answer(
        self, rt: Runtime, api: TestClient, employer: Student
    ) -> None:
        gig = _post(api, employer, title="Barista for weekend events", requiredSkills=["Coffee"])
        draft = _post(api, employer, title="Barista draft", status="draft")
        assert gig["searchable"] is False
        refresh_stale(rt)
        got = api.get(f"/v1/gigs/{gig['id']}", headers=employer.headers).json()
        assert got["searchable"] is True
        found = api.post("/v1/gigs/search", json={"query": "barista"}, headers=employer.headers)
        assert found.status_code == 200, found.text
        assert _ids(found.json()) == [gig["id"]]  # the draft is never indexed
        assert draft["id"] not in _ids(found.json())
        closed = api.patch(
            f"/v1/gigs/{gig['id']}",
            json={"status": "closed"},
            headers={**employer.headers, "Content-Type": "application/merge-patch+json"},
        )
        assert closed.status_code == 200, closed.text
        # No refresh in between: closing removed the point before the response.
        assert rt.index(GIGS).store.count() == 0
        again = api.post("/v1/gigs/search", json={"query": "barista"}, headers=employer.headers)
        assert again.json()["results"] == []

    def test_filters_on_pay_remote_and_skills(
        self, rt: Runtime, api: TestClient, employer: Student
    ) -> None:
        cheap = _post(
            api,
            employer,
            title="Tutor maths",
            remote=True,
            requiredSkills=["Math"],
            pay={"amountMinor": 1500, "currency": "EUR", "unit": "hour"},
        )
        rich = _post(
            api,
            employer,
            title="Tutor physics",
            location="Berlin, Germany",
            requiredSkills=["Physics"],
            pay={"amountMinor": 4000, "currency": "EUR", "unit": "hour"},
        )
        refresh_stale(rt)

        def search(filters: dict[str, Any]) -> list[int]:
            r = api.post(
                "/v1/gigs/search",
                json={"query": "tutor", "filters": filters},
                headers=employer.headers,
            )
            assert r.status_code == 200, r.text
            return sorted(_ids(r.json()))

        assert search({}) == sorted([cheap["id"], rich["id"]])
        assert search({"payMin": 2000, "currency": "EUR"}) == [rich["id"]]
        assert search({"remote": True}) == [cheap["id"]]
        assert search({"remote": False, "location": "berlin"}) == [rich["id"]]
        assert search({"skills": ["physics"]}) == [rich["id"]]

    def test_an_expired_gig_is_never_served_and_the_expiry_job_removes_its_point(
        self, rt: Runtime, api: TestClient, employer: Student
    ) -> None:
        soon = now_ms() + 60_000
        gig = _post(api, employer, title="Flyer delivery", deadline=soon)
        refresh_stale(rt)
        assert rt.index(GIGS).store.count() == 1
        later = soon + 1
        assert expire_gigs(rt, now=later) == 1
        assert rt.index(GIGS).store.count() == 0
        assert expire_gigs(rt, now=later) == 0  # idempotent
        with session_scope(rt.engine) as session:
            from models import Gig

            row = session.get(Gig, gig["id"])
            assert row is not None and row.embedding_updated_at is None

    def test_an_open_gig_needs_a_deadline_in_the_future(
        self, api: TestClient, employer: Student
    ) -> None:
        r = api.post("/v1/gigs", json=_gig(deadline=1000), headers=employer.headers)
        assert r.status_code == 422
        assert r.json()["error"] == "validation_error"

    def test_students_cannot_post_and_others_cannot_see_drafts(
        self, rt: Runtime, api: TestClient, employer: Student
    ) -> None:
        student = new_user_with_key(rt, "stu_x")
        assert api.post("/v1/gigs", json=_gig(), headers=student.headers).status_code == 403
        draft = _post(api, employer, status="draft")
        assert api.get(f"/v1/gigs/{draft['id']}", headers=student.headers).status_code == 404
        assert api.get(f"/v1/gigs/{draft['id']}", headers=employer.headers).status_code == 200


def _students(rt: Runtime) -> dict[str, Student]:
    return {
        "py": student_with_key(
            rt,
            "stu_py",
            headline="Python developer",
            skills=("python", "django", "sql"),
            availability=Availability.WEEKENDS,
            location="Berlin",
        ),
        "py2": student_with_key(
            rt,
            "stu_py2",
            headline="Backend python engineer",
            skills=("python", "sql"),
        ),
        "chef": student_with_key(
            rt,
            "stu_chef",
            headline="Line cook and chef",
            skills=("cooking", "baking"),
        ),
    }


class TestRecommendations:
    def test_recommended_gigs_explain_matched_and_missing_skills_and_drop_dismissed(
        self, rt: Runtime, api: TestClient, employer: Student
    ) -> None:
        s = _students(rt)
        py_gig = _post(
            api,
            employer,
            title="Python developer for a django app",
            requiredSkills=["Python", "Django", "Docker"],
        )
        cook_gig = _post(api, employer, title="Chef for events", requiredSkills=["Cooking"])
        refresh_stale(rt)
        r = api.get("/v1/me/recommended-gigs", headers=s["py"].headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert _ids(body)[0] == py_gig["id"]
        top = body["results"][0]["explanation"]
        assert top["matchedSkills"] == ["python", "django"]
        assert top["missingSkills"] == ["docker"]
        assert top["semanticRank"] is not None
        with session_scope(rt.engine) as session:
            session.add(Interaction(gig_id=py_gig["id"], user_id=s["py"].id, action="dismissed"))
        again = api.get("/v1/me/recommended-gigs", headers=s["py"].headers).json()
        assert py_gig["id"] not in _ids(again)
        assert cook_gig["id"] in _ids(again)

    def test_private_skills_never_influence_recommended_gigs(
        self, rt: Runtime, api: TestClient, employer: Student
    ) -> None:
        hidden = student_with_key(
            rt,
            "stu_hidden",
            headline="Student",
            skills=("welding",),
            visibility={"skills": Visibility.PRIVATE},
        )
        _post(api, employer, title="Welder", requiredSkills=["Welding"])
        refresh_stale(rt)
        body = api.get("/v1/me/recommended-gigs", headers=hidden.headers).json()
        for hit in body["results"]:
            assert hit["explanation"]["matchedSkills"] == []
            assert hit["explanation"]["missingSkills"] == ["welding"]

    def test_candidates_rank_by_fit_and_feedback_drops_the_rejected(
        self, rt: Runtime, api: TestClient, employer: Student
    ) -> None:
        s = _students(rt)
        gig = _post(
            api,
            employer,
            title="Python developer",
            requiredSkills=["Python", "SQL"],
            availability="weekends",
            location="Berlin",
        )
        refresh_stale(rt)
        r = api.get(f"/v1/gigs/{gig['id']}/candidates", headers=employer.headers)
        assert r.status_code == 200, r.text
        ranked = _ids(r.json(), "userId")
        assert ranked[:2] == [s["py"].id, s["py2"].id]
        first = r.json()["results"][0]
        assert first["explanation"]["matchedSkills"] == ["python", "sql"]
        assert first["decision"] is None
        with session_scope(rt.engine) as session:
            session.add(Interaction(gig_id=gig["id"], user_id=s["py"].id, decision="rejected"))
        after = api.get(f"/v1/gigs/{gig['id']}/candidates", headers=employer.headers).json()
        assert s["py"].id not in _ids(after, "userId")
        other = new_user_with_key(rt, "emp_2", role="employer")
        assert api.get(f"/v1/gigs/{gig['id']}/candidates", headers=other.headers).status_code == 403

    def test_applicants_are_ranked_by_fit(
        self, rt: Runtime, api: TestClient, employer: Student
    ) -> None:
        s = _students(rt)
        gig = _post(api, employer, title="Chef", requiredSkills=["Cooking"])
        refresh_stale(rt)
        with session_scope(rt.engine) as session:
            for key in ("py", "chef"):  # the python student applied first
                session.add(
                    Interaction(
                        gig_id=gig["id"], user_id=s[key].id, action="applied", acted_at=now_ms()
                    )
                )
        r = api.get(f"/v1/gigs/{gig['id']}/applicants", headers=employer.headers)
        assert r.status_code == 200, r.text
        assert _ids(r.json(), "userId") == [s["chef"].id, s["py"].id]
        assert all(h["applied"] for h in r.json()["results"])

    def test_similar_profiles_exclude_the_student_and_need_an_employer(
        self, rt: Runtime, api: TestClient, employer: Student
    ) -> None:
        s = _students(rt)
        refresh_stale(rt)
        r = api.get(f"/v1/profiles/{s['py'].id}/similar", headers=employer.headers)
        assert r.status_code == 200, r.text
        ids = _ids(r.json(), "userId")
        assert s["py"].id not in ids
        assert ids[0] == s["py2"].id
        assert (
            api.get(f"/v1/profiles/{s['py'].id}/similar", headers=s["py2"].headers).status_code
            == 403
        )
        assert api.get("/v1/profiles/999999/similar", headers=employer.headers).status_code == 404

    def test_similar_gigs_are_open_ones_other_than_itself(
        self, rt: Runtime, api: TestClient, employer: Student
    ) -> None:
        a = _post(api, employer, title="Python developer backend")
        b = _post(api, employer, title="Python developer frontend")
        c = _post(api, employer, title="Python developer closed", status="closed")
        refresh_stale(rt)
        student = new_user_with_key(rt, "stu_any")
        r = api.get(f"/v1/gigs/{a['id']}/similar", headers=student.headers)
        assert r.status_code == 200, r.text
        ids = _ids(r.json())
        assert a["id"] not in ids and c["id"] not in ids
        assert ids[0] == b["id"]


def test_an_owner_leaving_search_takes_their_gigs_out(
    rt: Runtime, api: TestClient, employer: Student
) -> None:
    _post(api, employer, title="Gardener")
    refresh_stale(rt)
    assert rt.index(GIGS).store.count() == 1
    with rt.session() as session:
        from models import User

        user = session.exec(select(User).where(User.id == employer.user.id)).one()
        user.deleted_at = now_ms()
        session.add(user)
    assert rt.index(GIGS).store.count() == 0
    refresh_stale(rt)
    assert rt.index(GIGS).store.count() == 0


def test_gig_refresh_has_its_own_metrics(
    rt: Runtime, api: TestClient, employer: Student, metrics_headers: dict[str, str]
) -> None:
    _post(api, employer, title="Dog walker")
    before = api.get("/metrics", headers=metrics_headers).text
    assert "gigsy_gigs_stale 1.0" in before
    refresh_stale(rt)
    after = api.get("/metrics", headers=metrics_headers).text
    assert "gigsy_gigs_stale 0.0" in after
    assert "gigsy_gigs_indexed_total 1.0" in after
    assert "gigsy_profiles_indexed_total 0.0" in after


@pytest.mark.parametrize("how", ["delete", "close"])
def test_a_gig_closed_or_deleted_after_its_deadline_leaves_the_index(
    rt: Runtime, api: TestClient, employer: Student, how: str
) -> None:
    # The deadline passes (no write), then the owner closes or deletes the gig before
    # the expiry job ran: the point must still go, and SQL must not say "indexed".
    gig = _post(api, employer, title="Flyer delivery", deadline=now_ms() + 60_000)
    refresh_stale(rt)
    assert rt.index(GIGS).store.count() == 1
    with session_scope(rt.engine) as session:
        session.execute(update(Gig).where(col(Gig.id) == gig["id"]).values(deadline=now_ms() - 1))
    if how == "delete":
        r = api.delete(f"/v1/gigs/{gig['id']}", headers=employer.headers)
    else:
        r = api.patch(
            f"/v1/gigs/{gig['id']}",
            json={"status": "closed"},
            headers={**employer.headers, "Content-Type": "application/merge-patch+json"},
        )
    assert r.status_code in (200, 204), r.text
    assert rt.index(GIGS).store.count() == 0
    with session_scope(rt.engine) as session:
        row = session.get(Gig, gig["id"])
        assert row is not None and row.embedding_updated_at is None


def test_the_expiry_sweep_removes_any_indexed_gig_that_is_not_servable(
    rt: Runtime, api: TestClient, employer: Student
) -> None:
    gig = _post(api, employer, title="Flyer delivery")
    refresh_stale(rt)
    with session_scope(rt.engine) as session:  # a writer that bypassed the listener
        session.execute(update(Gig).where(col(Gig.id) == gig["id"]).values(status="closed"))
    assert expire_gigs(rt) == 1
    assert rt.index(GIGS).store.count() == 0
    assert expire_gigs(rt) == 0


def test_recommended_gigs_page_by_cursor_through_a_growing_pool_to_the_deepest_result(
    settings: Settings, employer: Student, rt: Runtime, api: TestClient
) -> None:
    rt.settings.search.candidates = 10  # the pool doubles past it
    rt.settings.search.max_depth = 13  # and paging ends there
    student = student_with_key(rt, "stu_pages", headline="Barista", skills=("coffee",))
    # Descriptions of different lengths: no two gigs tie on the dense score, so one
    # ordering exists (ties are left to the store's order, which may vary by call).
    posted = {
        _post(
            api,
            employer,
            title=f"Barista number {i}",
            description="espresso " * (i + 1),
            requiredSkills=["Coffee"],
        )["id"]
        for i in range(15)
    }
    refresh_stale(rt)
    seen: list[int] = []
    cursor: str | None = None
    pages = 0
    while pages == 0 or cursor is not None:
        params: dict[str, Any] = {"limit": 4} | ({"cursor": cursor} if cursor else {})
        r = api.get("/v1/me/recommended-gigs", params=params, headers=student.headers)
        assert r.status_code == 200, r.text
        seen += _ids(r.json())
        cursor = r.json()["nextCursor"]
        pages += 1
    assert pages == 4 and len(seen) == len(set(seen)) == 13 and set(seen) <= posted
    deep = api.get(
        "/v1/me/recommended-gigs", params={"limit": 4, "offset": 12}, headers=student.headers
    ).json()
    assert len(deep["results"]) == 3 and deep["nextOffset"] is None  # offset reaches past 10


def test_recommendations_fuse_with_the_recommendation_weights(
    settings: Settings,
    employer: Student,
    rt: Runtime,
    api: TestClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    student = student_with_key(rt, "stu_fusion", headline="Barista", skills=("coffee",))
    _post(api, employer, title="Barista", requiredSkills=["Coffee"])
    refresh_stale(rt)
    rt.settings.search.recommend_dense_weight = 5.0
    store = rt.index(GIGS).store
    seen: list[Any] = []
    real = store.search

    def spy(**kwargs: Any) -> Any:
        seen.append(kwargs["fusion"])
        return real(**kwargs)

    monkeypatch.setattr(store, "search", spy)
    r = api.get("/v1/me/recommended-gigs", headers=student.headers)
    assert r.status_code == 200, r.text
    assert seen and all(f.dense_weight == 5.0 for f in seen)
