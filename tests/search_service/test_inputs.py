"""Bad input gets a 4xx in the one error shape and changes nothing: list item lengths,
project URLs."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from models import Project
from search_service.db import session_scope
from search_service.runtime import Runtime
from search_service.services.profiles import reconcile_snapshots
from tests.search_service.profile_helpers import new_user_with_key

MERGE = {"Content-Type": "application/merge-patch+json"}


def _profile(**projects: Any) -> dict[str, Any]:
    return {"headline": "Student", "projects": {"items": [{"title": "App", **projects}]}}


class TestListItems:
    def test_search_filter_item_over_100_characters_is_422(
        self, client: TestClient, employer_headers: dict[str, str]
    ) -> None:
        r = client.post(
            "/v1/search", json={"filters": {"skills": ["x" * 101]}}, headers=employer_headers
        )
        assert r.status_code == 422, r.text
        assert r.json()["error"] == "validation_error"
        assert r.json()["detail"].startswith("filters.skills.0:")
        r = client.post(
            "/v1/search",
            json={"filters": {"languages": ["english", "y" * 101]}},
            headers=employer_headers,
        )
        assert r.status_code == 422, r.text
        assert r.json()["detail"].startswith("filters.languages.1:")

    def test_project_skill_over_100_characters_is_422_and_nothing_is_written(
        self, client: TestClient, runtime: Runtime
    ) -> None:
        s = new_user_with_key(runtime, "u_long_skill")
        r = client.put("/v1/me/profile", json=_profile(skills=["z" * 101]), headers=s.headers)
        assert r.status_code == 422, r.text
        assert "projects.items.0.skills.0" in r.json()["detail"]
        assert client.get("/v1/me/profile", headers=s.headers).json()["version"] == 0
        ok = client.put("/v1/me/profile", json=_profile(skills=["z" * 100]), headers=s.headers)
        assert ok.status_code == 200, ok.text

    def test_openapi_shows_the_item_limits(self, client: TestClient) -> None:
        schemas = client.get("/openapi.json").json()["components"]["schemas"]
        assert schemas["SearchFilters"]["properties"]["skills"]["items"]["maxLength"] == 100
        assert schemas["ProjectItem"]["properties"]["skills"]["items"]["maxLength"] == 100


class TestProjectUrl:
    @pytest.mark.parametrize(
        "url",
        [
            "javascript:alert(document.cookie)",
            "JavaScript:alert(1)",
            "java\tscript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "ftp://example.com/x",
            "//example.com/x",
            "/relative/path",
            "https://",
            "https:example.com",
            "https://exa mple.com",
            "https://example.com/\njavascript:alert(1)",
        ],
    )
    def test_anything_but_an_absolute_http_url_is_422_naming_the_field(
        self, client: TestClient, runtime: Runtime, url: str
    ) -> None:
        s = new_user_with_key(runtime, "u_url")
        r = client.put("/v1/me/profile", json=_profile(url=url), headers=s.headers)
        assert r.status_code == 422, r.text
        assert r.json()["error"] == "validation_error"
        assert r.json()["detail"].startswith("projects.items.0.url:")

    def test_patch_with_a_javascript_url_is_422(self, client: TestClient, runtime: Runtime) -> None:
        s = new_user_with_key(runtime, "u_url_patch")
        patch = {"projects": {"items": [{"title": "App", "url": "javascript:alert(1)"}]}}
        r = client.patch("/v1/me/profile", json=patch, headers={**s.headers, **MERGE})
        assert r.status_code == 422, r.text
        assert "projects.items.0.url" in r.json()["detail"]

    @pytest.mark.parametrize(
        "url", ["https://example.com", "http://example.com/a?b=c#d", "HTTPS://Example.com/X"]
    )
    def test_http_and_https_urls_are_stored_as_written(
        self, client: TestClient, runtime: Runtime, url: str
    ) -> None:
        s = new_user_with_key(runtime, "u_url_ok")
        r = client.put("/v1/me/profile", json=_profile(url=url), headers=s.headers)
        assert r.status_code == 200, r.text
        assert r.json()["projects"]["items"][0]["url"] == url

    def test_a_url_stored_before_the_rule_stays_readable(
        self, client: TestClient, runtime: Runtime, employer_headers: dict[str, str]
    ) -> None:
        s = new_user_with_key(runtime, "u_legacy_url")
        body = _profile(url="https://ok.example", skills=["js"])
        assert client.put("/v1/me/profile", json=body, headers=s.headers).status_code == 200
        legacy = "javascript:alert(1)"
        with session_scope(runtime.engine) as session:  # written before the rule existed
            row = session.exec(select(Project).where(Project.user_id == s.id)).one()
            row.url = legacy
            row.skills = ["q" * 150]
        own = client.get("/v1/me/profile", headers=s.headers)
        assert own.status_code == 200, own.text
        assert own.json()["projects"]["items"][0]["url"] == legacy  # left as is
        shared = client.get(f"/v1/profiles/{s.id}", headers=employer_headers)
        assert shared.status_code == 200, shared.text
        reconcile_snapshots(runtime.engine)  # the drift job reads the rows too
        # A write is of the whole profile, so it must bring the project up to the rules...
        r = client.patch("/v1/me/profile", json={"headline": "New"}, headers={**s.headers, **MERGE})
        assert r.status_code == 422, r.text
        assert r.json()["detail"].startswith("projects.items.0.url:")
        # ...and one that fixes it goes through.
        fixed = {"projects": {"items": [{"title": "App", "url": "https://fixed.example"}]}}
        r = client.patch("/v1/me/profile", json=fixed, headers={**s.headers, **MERGE})
        assert r.status_code == 200, r.text
        assert r.json()["projects"]["items"][0]["url"] == "https://fixed.example"
