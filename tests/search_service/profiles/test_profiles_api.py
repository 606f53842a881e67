"""The owner's profile API: GET/PUT/PATCH, ETag/If-Match, validation, dual write."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select

from models import OutboxEvent, Profile, ProfileWrite, Skill, User
from search_service.db import session_scope
from search_service.profiles.repository import content_hash, load_profile_rows, snapshot_of
from search_service.profiles.service import save_profile
from search_service.refresh.freshness import refresh_stale
from search_service.runtime import Runtime
from tests.search_service.profile_helpers import new_user_with_key

MERGE = {"Content-Type": "application/merge-patch+json"}

FULL: dict[str, Any] = {
    "headline": "Data analyst student",
    "bio": "I like spreadsheets.",
    "location": "Berlin, Germany",
    "availability": "weekends",
    "education": {
        "visibility": "public",
        "items": [{"school": "TU Berlin", "degree": "BSc", "fieldOfStudy": "Statistics"}],
    },
    "workExperience": {"items": [{"title": "Tutor", "company": "Uni", "description": "Stats"}]},
    "projects": {"visibility": "private", "items": [{"title": "Diary app", "skills": ["JS"]}]},
    "languages": {"items": [{"name": "German", "proficiency": "native"}]},
    "skills": {"items": [{"name": "MS Excel"}, {"name": "React.js", "years": 2}]},
}


def _put(client: TestClient, headers: dict[str, str], body: dict[str, Any], **extra: str) -> Any:
    return client.put("/v1/me/profile", json=body, headers={**headers, **extra})


def test_new_user_gets_an_empty_profile_at_version_zero(
    client: TestClient, runtime: Runtime
) -> None:
    s = new_user_with_key(runtime, "u_empty")
    r = client.get("/v1/me/profile", headers=s.headers)
    assert r.status_code == 200
    body = r.json()
    assert body["version"] == 0 and r.headers["etag"] == '"0"'
    assert body["skills"] == {"visibility": "employers", "items": []}
    assert body["searchable"] is False
    assert body["strength"]["score"] == 0
    assert {m["item"] for m in body["strength"]["missing"]} >= {"headline", "skills", "bio"}


def test_put_writes_everything_in_one_transaction(client: TestClient, runtime: Runtime) -> None:
    s = new_user_with_key(runtime, "u_put")
    r = _put(client, s.headers, FULL, **{"If-Match": '"0"'})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["version"] == 1 and r.headers["etag"] == '"1"'
    # taxonomy at write time
    assert [i["name"] for i in body["skills"]["items"]] == ["excel", "react"]
    assert body["projects"]["items"][0]["skills"] == ["javascript"]
    assert body["projects"]["visibility"] == "private"
    assert body["workExperience"]["visibility"] == "employers"  # default
    with session_scope(runtime.engine) as session:
        rows = load_profile_rows(session, [s.id])[s.id]
        user = session.get(User, s.id)
        profile = session.get(Profile, s.id)
        assert user is not None and profile is not None
        snap = snapshot_of(rows)
        assert user.portfolio == snap  # the snapshot equals the normalized tables
        assert profile.content_hash == content_hash(snap)
        assert profile.strength == body["strength"]["score"] > 0
        events = session.exec(select(OutboxEvent).where(OutboxEvent.user_id == s.id)).all()
    assert [e.topic for e in events] == ["profile.updated"]
    assert events[0].user_version == user.visible_updated_at
    assert events[0].payload["version"] == 1


def test_identical_put_changes_nothing(client: TestClient, runtime: Runtime) -> None:
    s = new_user_with_key(runtime, "u_same")
    first = _put(client, s.headers, FULL).json()
    again = _put(client, s.headers, FULL).json()
    assert again["version"] == first["version"] == 1
    assert again["updatedAt"] == first["updatedAt"]
    with session_scope(runtime.engine) as session:
        n = len(session.exec(select(OutboxEvent).where(OutboxEvent.user_id == s.id)).all())
    assert n == 1


def test_stale_if_match_gets_409_and_changes_nothing(client: TestClient, runtime: Runtime) -> None:
    s = new_user_with_key(runtime, "u_lock")
    assert _put(client, s.headers, FULL).status_code == 200
    ok = client.patch(
        "/v1/me/profile",
        json={"headline": "Second"},
        headers={**s.headers, **MERGE, "If-Match": '"1"'},
    )
    assert ok.status_code == 200 and ok.json()["version"] == 2
    stale = client.patch(
        "/v1/me/profile",
        json={"headline": "Lost"},
        headers={**s.headers, **MERGE, "If-Match": '"1"'},
    )
    assert stale.status_code == 409
    assert stale.json()["error"] == "conflict"
    assert "now at 2" in stale.json()["detail"]
    stale_put = _put(client, s.headers, FULL, **{"If-Match": '"1"'})
    assert stale_put.status_code == 409
    now = client.get("/v1/me/profile", headers=s.headers).json()
    assert now["headline"] == "Second" and now["version"] == 2


def test_weak_etag_and_star_are_accepted_garbage_is_400(
    client: TestClient, runtime: Runtime
) -> None:
    s = new_user_with_key(runtime, "u_etag")
    assert _put(client, s.headers, FULL, **{"If-Match": 'W/"0"'}).status_code == 200
    assert _put(client, s.headers, {"headline": "x"}, **{"If-Match": "*"}).status_code == 200
    bad = _put(client, s.headers, FULL, **{"If-Match": "version-3"})
    assert bad.status_code == 400 and "If-Match" in bad.json()["detail"]


def test_merge_patch_semantics(client: TestClient, runtime: Runtime) -> None:
    s = new_user_with_key(runtime, "u_patch")
    _put(client, s.headers, FULL)
    r = client.patch(
        "/v1/me/profile",
        json={
            "location": None,  # null removes: back to the default
            "skills": {"items": [{"name": "JS"}]},  # arrays replace
            "languages": {"visibility": "private"},  # objects merge: items kept
        },
        headers={**s.headers, **MERGE},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["location"] is None
    assert [i["name"] for i in body["skills"]["items"]] == ["javascript"]
    assert body["languages"] == {
        "visibility": "private",
        "items": [{"name": "German", "proficiency": "native"}],
    }
    assert body["headline"] == FULL["headline"]  # untouched
    with session_scope(runtime.engine) as session:
        names = session.exec(select(Skill.name).where(Skill.user_id == s.id)).all()
    assert list(names) == ["javascript"]


def test_patch_rejects_bad_input_with_clear_errors(client: TestClient, runtime: Runtime) -> None:
    s = new_user_with_key(runtime, "u_bad")
    cases: list[tuple[Any, dict[str, str], int, str]] = [
        ({"skills": {"visibility": "friends"}}, MERGE, 422, "skills.visibility"),
        ({"hobbies": "chess"}, MERGE, 422, "hobbies"),
        ({"education": {"items": [{"degree": "BSc"}]}}, MERGE, 422, "education.items.0.school"),
        ([1, 2], MERGE, 422, "JSON object"),
        ({"headline": "x"}, {"Content-Type": "text/plain"}, 415, "merge-patch"),
    ]
    for body, headers, status, needle in cases:
        r = client.patch("/v1/me/profile", json=body, headers={**s.headers, **headers})
        assert r.status_code == status, (body, r.text)
        assert needle in r.json()["detail"], r.json()
    r = client.patch("/v1/me/profile", content=b"{nope", headers={**s.headers, **MERGE})
    assert r.status_code == 422 and "not JSON" in r.json()["detail"]
    r = _put(client, s.headers, {**FULL, "availability": "sometimes"})
    assert r.status_code == 422 and "availability" in r.json()["detail"]
    assert client.get("/v1/me/profile", headers=s.headers).json()["version"] == 0


def test_only_students_write_profiles_and_auth_is_required(
    client: TestClient, runtime: Runtime, employer_headers: dict[str, str]
) -> None:
    assert client.get("/v1/me/profile").status_code == 401
    assert _put(client, {}, FULL).status_code == 401
    employer = new_user_with_key(runtime, "u_emp", role="employer")
    r = _put(client, employer.headers, FULL)
    assert r.status_code == 403 and "students" in r.json()["detail"]


def test_profile_strength_is_stored_and_returned(client: TestClient, runtime: Runtime) -> None:
    s = new_user_with_key(runtime, "u_strength")
    weak = _put(client, s.headers, {"headline": "Student"}).json()
    strong = _put(
        client,
        s.headers,
        {
            **FULL,
            "bio": "b" * 200,
            "projects": {"items": [{"title": "Budget tool"}]},
            "skills": {"items": [{"name": n} for n in ("excel", "sql", "python", "r", "tableau")]},
        },
    ).json()
    assert weak["strength"]["score"] < strong["strength"]["score"] == 100
    assert strong["strength"]["missing"] == []
    items = {m["item"] for m in weak["strength"]["missing"]}
    assert {"skills", "education", "bio", "headline"} <= items


def test_a_failed_write_leaves_tables_snapshot_and_outbox_untouched(
    client: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = new_user_with_key(runtime, "u_rollback")
    before = _put(client, s.headers, FULL).json()

    def boom(*_: object, **__: object) -> None:
        raise RuntimeError("outbox down")

    # The outbox insert is the last step of the dual write: everything before it
    # must roll back with it.
    monkeypatch.setattr("search_service.profiles.repository.append_event", boom)
    with pytest.raises(RuntimeError):
        with runtime.session() as session:
            doc = ProfileWrite(headline="Changed")
            save_profile(session, runtime, s.user, doc, expected_version=None)
    monkeypatch.undo()
    after = client.get("/v1/me/profile", headers=s.headers).json()
    assert after == before
    with session_scope(runtime.engine) as session:
        user = session.get(User, s.id)
        events = session.exec(select(OutboxEvent).where(col(OutboxEvent.user_id) == s.id)).all()
        assert user is not None and user.portfolio is not None
        assert user.portfolio["headline"] == FULL["headline"]
    assert len(events) == 1


def test_skill_aliases_meet_at_query_time(
    client: TestClient, runtime: Runtime, employer_headers: dict[str, str]
) -> None:
    s = new_user_with_key(runtime, "u_alias")
    _put(client, s.headers, {"headline": "Web dev", "skills": {"items": [{"name": "ReactJS"}]}})
    refresh_stale(runtime)
    for alias in ("React.js", "react", "REACTJS"):
        r = client.post(
            "/v1/search",
            json={"query": "", "filters": {"skills": [alias]}},
            headers=employer_headers,
        )
        assert [h["userId"] for h in r.json()["results"]] == [s.id], alias
    r = client.post(
        "/v1/search", json={"query": "reactjs", "mode": "keyword"}, headers=employer_headers
    )
    assert [h["userId"] for h in r.json()["results"]] == [s.id]
