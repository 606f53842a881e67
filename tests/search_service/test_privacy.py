"""Privacy: private sections never searchable or shown; public/employer views; GDPR."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import col, select

from models import ApiKey, Profile, Skill, User, UserTombstone
from search_service.db import session_scope
from search_service.runtime import Runtime
from search_service.services.freshness import refresh_stale
from search_service.services.privacy import purge_expired
from tests.search_service.profile_helpers import new_user_with_key, student_with_key

MERGE = {"Content-Type": "application/merge-patch+json"}
SECRET = "xylophonist"  # a word no other profile has

PROFILE: dict[str, Any] = {
    "headline": "Barista and student",
    "bio": "Friendly, reliable, early riser.",
    "education": {"visibility": "public", "items": [{"school": "Open University"}]},
    "workExperience": {"items": [{"title": "Barista", "description": "Espresso, latte art"}]},
    "projects": {
        "visibility": "private",
        "items": [{"title": "Side band", "description": f"I am a {SECRET} on weekends"}],
    },
    "skills": {"visibility": "private", "items": [{"name": SECRET}]},
    "languages": {"items": [{"name": "English"}]},
}


def _search(
    client: TestClient, headers: dict[str, str], query: str, mode: str, **filters: Any
) -> list[dict[str, Any]]:
    r = client.post(
        "/v1/search",
        json={"query": query, "mode": mode, "limit": 50, "filters": filters},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    results: list[dict[str, Any]] = r.json()["results"]
    return results


def _scores(
    client: TestClient, headers: dict[str, str], query: str
) -> dict[str, list[tuple[int, float]]]:
    return {
        mode: [(h["userId"], round(h["score"], 6)) for h in _search(client, headers, query, mode)]
        for mode in ("keyword", "semantic", "hybrid")
    }


def test_a_word_only_in_private_sections_is_unfindable_and_never_ranks(
    client: TestClient, runtime: Runtime, employer_headers: dict[str, str]
) -> None:
    owner = new_user_with_key(runtime, "p_owner")
    others = [
        student_with_key(runtime, f"p_other{i}", headline=h)
        for i, h in enumerate(["music teacher", "drummer in a band", "barista"])
    ]
    assert others
    assert client.put("/v1/me/profile", json=PROFILE, headers=owner.headers).status_code == 200
    refresh_stale(runtime)
    # keyword: no hit at all; filters on the private skill: nothing.
    assert _search(client, employer_headers, SECRET, "keyword") == []
    assert _search(client, employer_headers, "", "hybrid", skills=[SECRET]) == []
    for mode in ("semantic", "hybrid"):
        for hit in _search(client, employer_headers, SECRET, mode):
            assert hit["explanation"]["matchedTerms"] == []
            assert SECRET not in hit["topSkills"]
    with_private = _scores(client, employer_headers, SECRET + " band")
    # Remove the private sections entirely: every ranking and score is identical,
    # so they never influenced ranking.
    r = client.patch(
        "/v1/me/profile",
        json={"projects": None, "skills": None},
        headers={**owner.headers, **MERGE},
    )
    assert r.status_code == 200
    refresh_stale(runtime)
    assert _scores(client, employer_headers, SECRET + " band") == with_private


def test_making_a_section_private_removes_it_from_search(
    client: TestClient, runtime: Runtime, employer_headers: dict[str, str]
) -> None:
    owner = new_user_with_key(runtime, "p_toggle")
    body = {**PROFILE, "projects": {**PROFILE["projects"], "visibility": "employers"}}
    client.put("/v1/me/profile", json=body, headers=owner.headers)
    refresh_stale(runtime)
    assert [h["userId"] for h in _search(client, employer_headers, SECRET, "keyword")] == [owner.id]
    client.patch(
        "/v1/me/profile",
        json={"projects": {"visibility": "private"}},
        headers={**owner.headers, **MERGE},
    )
    refresh_stale(runtime)
    assert _search(client, employer_headers, SECRET, "keyword") == []


def test_public_view_shows_only_public_sections_to_anyone(
    client: TestClient, runtime: Runtime
) -> None:
    owner = new_user_with_key(runtime, "p_public")
    client.put("/v1/me/profile", json=PROFILE, headers=owner.headers)
    r = client.get(f"/v1/profiles/{owner.id}/public")  # no credentials
    assert r.status_code == 200
    body = r.json()
    assert body["displayName"] == "Ada L."
    assert body["headline"] == PROFILE["headline"]
    assert body["education"]["items"] == [
        {
            "school": "Open University",
            "degree": None,
            "fieldOfStudy": None,
            "startYear": None,
            "endYear": None,
        }
    ]
    for hidden in ("workExperience", "projects", "skills", "languages", "bio", "location"):
        assert body[hidden] is None, hidden
    assert SECRET not in r.text


def test_public_view_is_404_until_something_is_public(client: TestClient, runtime: Runtime) -> None:
    owner = new_user_with_key(runtime, "p_nothing")
    client.put(
        "/v1/me/profile",
        json={**PROFILE, "education": {"items": [{"school": "X"}]}},
        headers=owner.headers,
    )
    assert client.get(f"/v1/profiles/{owner.id}/public").status_code == 404
    assert client.get("/v1/profiles/999999/public").status_code == 404


def test_employer_view_never_includes_private_sections(
    client: TestClient, runtime: Runtime, employer_headers: dict[str, str]
) -> None:
    owner = new_user_with_key(runtime, "p_emp")
    client.put("/v1/me/profile", json=PROFILE, headers=owner.headers)
    r = client.get(f"/v1/profiles/{owner.id}", headers=employer_headers)
    assert r.status_code == 200
    body = r.json()
    assert body["workExperience"]["items"][0]["title"] == "Barista"
    assert body["bio"] == PROFILE["bio"]
    assert body["projects"] is None and body["skills"] is None
    assert SECRET not in r.text
    other = new_user_with_key(runtime, "p_snoop")
    assert client.get(f"/v1/profiles/{owner.id}", headers=other.headers).status_code == 403
    assert client.get(f"/v1/profiles/{owner.id}").status_code == 401


def test_export_contains_everything_about_the_caller_and_no_secrets(
    client: TestClient, runtime: Runtime
) -> None:
    owner = new_user_with_key(runtime, "p_export")
    client.put("/v1/me/profile", json=PROFILE, headers=owner.headers)
    client.put("/v1/users/me/data/theme", json={"value": "dark"}, headers=owner.headers)
    r = client.get("/v1/me/export", headers=owner.headers)
    assert r.status_code == 200
    assert "attachment" in r.headers["content-disposition"]
    body = r.json()
    assert body["user"]["clerkId"] == "p_export"
    assert body["profile"]["projects"]["items"][0]["description"].endswith("weekends")
    assert body["portfolioSnapshot"]["skills"]["items"][0]["name"] == SECRET
    assert [d["key"] for d in body["data"]] == ["theme"]
    assert len(body["apiKeys"]) == 1 and "key_hash" not in body["apiKeys"][0]
    assert [e["topic"] for e in body["outboxEvents"]] == ["profile.updated"]
    assert client.get("/v1/me/export").status_code == 401


def test_delete_me_soft_deletes_at_once_and_leaves_search(
    client: TestClient, runtime: Runtime, employer_headers: dict[str, str]
) -> None:
    owner = new_user_with_key(runtime, "p_delete")
    client.put(
        "/v1/me/profile",
        json={"headline": "Quidditch coach", "skills": {"items": [{"name": "coaching"}]}},
        headers=owner.headers,
    )
    refresh_stale(runtime)
    assert runtime.store.count() == 1
    assert client.delete("/v1/me", headers=owner.headers).status_code == 204
    assert runtime.store.count() == 0  # removed at once, not at the next refresh
    assert _search(client, employer_headers, "quidditch", "keyword") == []
    assert client.get("/v1/me/profile", headers=owner.headers).status_code == 401
    assert client.get(f"/v1/profiles/{owner.id}", headers=employer_headers).status_code == 404
    with session_scope(runtime.engine) as session:
        user = session.get(User, owner.id)
        assert user is not None and user.deleted_at is not None
        assert session.get(UserTombstone, "p_delete") is not None
        keys = session.exec(select(ApiKey).where(ApiKey.user_id == owner.id)).all()
        assert all(k.revoked_at is not None for k in keys)
    assert refresh_stale(runtime).indexed == 0  # nothing brings it back


def test_retention_purge_erases_personal_fields_after_the_period(
    client: TestClient, runtime: Runtime
) -> None:
    gone = new_user_with_key(runtime, "p_gone")
    recent = new_user_with_key(runtime, "p_recent")
    for u in (gone, recent):
        client.put("/v1/me/profile", json=PROFILE, headers=u.headers)
        client.put("/v1/users/me/data/k", json={"value": "v"}, headers=u.headers)
        assert client.delete("/v1/me", headers=u.headers).status_code == 204
    with session_scope(runtime.engine) as session:
        session.execute(update(User).where(col(User.id) == gone.id).values(deleted_at=1_000_000))
    assert purge_expired(runtime.engine, retention_days=30) == 1
    assert purge_expired(runtime.engine, retention_days=30) == 0  # idempotent
    with session_scope(runtime.engine) as session:
        purged = session.get(User, gone.id)
        kept = session.get(User, recent.id)
        assert purged is not None and kept is not None
        assert purged.purged_at is not None and purged.clerk_id == f"purged:{gone.id}"
        assert (purged.email, purged.first_name, purged.portfolio, purged.name) == (
            None,
            None,
            None,
            "",
        )
        assert session.get(Profile, gone.id) is None
        assert session.exec(select(Skill).where(Skill.user_id == gone.id)).all() == []
        assert kept.purged_at is None and kept.first_name == "Ada"
        assert session.get(Profile, recent.id) is not None


@pytest.mark.parametrize("visibility", ["employers", "public"])
def test_search_hits_show_skills_only_when_not_private(
    client: TestClient, runtime: Runtime, employer_headers: dict[str, str], visibility: str
) -> None:
    owner = new_user_with_key(runtime, f"p_hit_{visibility}")
    client.put(
        "/v1/me/profile",
        json={
            "headline": "Tuba player",
            "skills": {"visibility": visibility, "items": [{"name": "tuba"}]},
        },
        headers=owner.headers,
    )
    refresh_stale(runtime)
    hits = _search(client, employer_headers, "tuba", "hybrid")
    assert hits[0]["topSkills"] == ["tuba"]
