"""No cache may keep an API answer: a privacy reduction must reach every copy at once."""

from __future__ import annotations

from fastapi.testclient import TestClient

from search_service.runtime import Runtime
from tests.search_service.profile_helpers import new_user_with_key

MERGE = {"Content-Type": "application/merge-patch+json"}


def _no_store(value: str | None) -> bool:
    directives = {d.strip() for d in (value or "").lower().split(",")}
    return "no-store" in directives and not directives & {"public", "max-age=60"}


def test_the_public_profile_is_never_stored_and_a_section_made_private_is_gone(
    client: TestClient, runtime: Runtime
) -> None:
    owner = new_user_with_key(runtime, "cache_owner")
    skills = {"visibility": "public", "items": [{"name": "python"}]}
    r = client.put(
        "/v1/me/profile", json={"headline": "Student", "skills": skills}, headers=owner.headers
    )
    assert r.status_code == 200, r.text

    shown = client.get(f"/v1/profiles/{owner.id}/public")
    assert shown.status_code == 200, shown.text
    assert shown.json()["skills"]["items"][0]["name"] == "python"
    assert _no_store(shown.headers.get("cache-control")), shown.headers

    r = client.patch(
        "/v1/me/profile",
        json={"skills": {"visibility": "private"}},
        headers={**owner.headers, **MERGE},
    )
    assert r.status_code == 200, r.text
    gone = client.get(f"/v1/profiles/{owner.id}/public")
    assert gone.status_code == 404
    assert _no_store(gone.headers.get("cache-control")), gone.headers


def test_every_api_answer_is_no_store_unless_the_route_sets_a_stricter_policy(
    client: TestClient, runtime: Runtime, employer_headers: dict[str, str]
) -> None:
    student = new_user_with_key(runtime, "cache_student")
    answers = [
        client.post("/v1/search", json={"query": "python"}, headers=employer_headers),
        client.get(f"/v1/profiles/{student.id}", headers=employer_headers),
        client.get("/v1/me/profile", headers=student.headers),
        client.post("/v1/search", json={"query": "python"}),  # 401
        client.post("/v1/search", content=b"{" * 5000, headers=employer_headers),  # refused early
    ]
    for r in answers:
        assert _no_store(r.headers.get("cache-control")), (r.request.url, r.headers)
    # The console page and its assets are not API answers: they keep their own policy.
    assert client.get("/").headers["cache-control"] == "no-cache"
