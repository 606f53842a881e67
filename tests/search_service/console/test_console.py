"""The console's HTTP side: the page at ``/`` and its assets, their headers, and
``GET /v1/users/me``, which the page uses to tell the caller's role."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from search_service.console.router import STATIC_DIR
from search_service.runtime import Runtime
from tests.search_service.profile_helpers import new_user_with_key, student_with_key


class TestPage:
    def test_page_needs_no_key_and_forbids_inline_and_foreign_script(
        self, client: TestClient
    ) -> None:
        r = client.get("/")
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/html")
        csp = r.headers["content-security-policy"]
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
        assert directives["script-src"] == "'self'"
        assert directives["default-src"] == "'none'"
        assert directives["connect-src"] == "'self'"
        assert "unsafe-inline" not in csp and "http" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"

    def test_page_has_no_inline_script_or_style_and_no_foreign_url(
        self, client: TestClient
    ) -> None:
        html = client.get("/").text
        assert re.findall(r"<script\b[^>]*>", html) == [
            '<script type="module" src="/console/js/main.js">'
        ]
        assert "<style" not in html and " style=" not in html
        assert not re.search(r"(src|href)=\"(https?:)?//", html)

    def test_every_module_is_served_and_imports_only_local_files(self, client: TestClient) -> None:
        modules = sorted(p.name for p in (STATIC_DIR / "js").glob("*.js"))
        assert "main.js" in modules
        for name in modules:
            r = client.get(f"/console/js/{name}")
            assert r.status_code == 200, name
            assert "javascript" in r.headers["content-type"]
            for target in re.findall(r"from \"([^\"]+)\"", r.text):
                assert target.startswith("./") and target[2:] in modules, (name, target)
            # Data goes in as text only, and the key never leaves sessionStorage.
            assert not re.search(
                r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|eval\(", r.text
            ), name
            assert "localStorage" not in r.text and "document.cookie" not in r.text, name
        assert client.get("/console/console.css").status_code == 200

    def test_every_static_response_carries_the_security_headers(self, client: TestClient) -> None:
        css = client.get("/console/console.css")
        responses = {
            "asset": css,
            "head": client.head("/console/js/main.js"),
            "not modified": client.get(
                "/console/console.css", headers={"If-None-Match": css.headers["etag"]}
            ),
            "missing": client.get("/console/nope.js"),
            "wrong method": client.post("/console/console.css"),
            # The page under its file name gets the page's policy too.
            "page by file name": client.get("/console/index.html"),
        }
        statuses = {name: r.status_code for name, r in responses.items()}
        assert statuses == {
            "asset": 200,
            "head": 200,
            "not modified": 304,
            "missing": 404,
            "wrong method": 405,
            "page by file name": 200,
        }
        page_csp = client.get("/").headers["content-security-policy"]
        for name, r in responses.items():
            assert r.headers.get("x-content-type-options") == "nosniff", name
            assert r.headers.get("content-security-policy") == page_csp, name
            assert r.headers.get("referrer-policy") == "no-referrer", name
        assert responses["missing"].json() == {"error": "not_found", "detail": "Not Found"}
        assert responses["wrong method"].headers["allow"] == "GET, HEAD"

    def test_page_stays_out_of_the_api_schema(self, client: TestClient) -> None:
        paths = client.get("/openapi.json").json()["paths"]
        assert "/" not in paths
        assert not any(p.startswith("/console") for p in paths)


class TestWhoAmI:
    def test_a_key_reports_its_one_role(self, client: TestClient, runtime: Runtime) -> None:
        employer = new_user_with_key(runtime, "emp_me", role="employer")
        student = student_with_key(runtime, "stu_me", headline="Cook")
        r = client.get("/v1/users/me", headers=employer.headers)
        assert r.status_code == 200, r.text
        assert r.json() == {"userId": employer.id, "name": "Ada Lovelace", "roles": ["employer"]}
        r = client.get("/v1/users/me", headers=student.headers)
        assert r.json()["roles"] == ["student"] and r.json()["userId"] == student.id

    def test_a_legacy_key_has_no_user(
        self, client: TestClient, employer_headers: dict[str, str]
    ) -> None:
        r = client.get("/v1/users/me", headers=employer_headers)
        assert r.status_code == 200, r.text
        assert r.json() == {"userId": None, "name": None, "roles": ["employer"]}

    def test_without_a_key_is_401(self, client: TestClient) -> None:
        r = client.get("/v1/users/me")
        assert r.status_code == 401
        assert r.json()["error"] == "unauthorized"
