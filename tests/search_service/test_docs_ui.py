"""The API docs page at ``/docs``: packaged Swagger UI from this origin only, under a
same-origin Content-Security-Policy, and no ReDoc page."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from search_service.app import create_app
from search_service.docs_ui import install_docs
from search_service.runtime import Runtime
from search_service.settings import Settings

_ASSET_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


def _directives(csp: str) -> dict[str, str]:
    return dict(d.strip().split(" ", 1) for d in csp.split(";"))


def _asset_urls(html: str) -> list[str]:
    return re.findall(r"(?:src|href)=\"([^\"]+)\"", html)


class TestPage:
    def test_page_sends_a_same_origin_policy(self, client: TestClient) -> None:
        r = client.get("/docs")
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/html")
        csp = r.headers["content-security-policy"]
        assert _directives(csp) == {
            "default-src": "'none'",
            "script-src": "'self'",
            "style-src": "'self'",
            "connect-src": "'self'",
            "img-src": "'self' data:",
            "base-uri": "'none'",
            "form-action": "'none'",
            "frame-ancestors": "'none'",
        }
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"

    def test_page_has_no_inline_script_or_style_and_no_foreign_url(
        self, client: TestClient
    ) -> None:
        html = client.get("/docs").text
        assert re.findall(r"<script\b[^>]*>", html) == [
            '<script src="/docs/assets/swagger-ui-bundle.js">',
            '<script src="/docs/assets/swagger-init.js" data-openapi-url="/openapi.json">',
        ]
        bodies = re.findall(r"<script\b[^>]*>(.*?)</script>", html, flags=re.DOTALL)
        assert bodies == ["", ""]  # no inline script
        assert "<style" not in html and " style=" not in html
        assert "http:" not in html and "https:" not in html and "//" not in html
        assert all(url.startswith("/docs/assets/") for url in _asset_urls(html))

    def test_every_asset_the_page_names_is_served_with_nosniff(self, client: TestClient) -> None:
        urls = _asset_urls(client.get("/docs").text)
        assert len(urls) == 4, urls  # icon, stylesheet, bundle, start-up script
        for url in urls:
            r = client.get(url)
            assert r.status_code == 200, url
            expected = _ASSET_TYPES[url[url.rindex(".") :]]
            assert r.headers["content-type"].startswith(expected), (url, r.headers)
            assert r.headers["x-content-type-options"] == "nosniff", url
            assert r.headers["content-security-policy"].startswith("default-src 'none'"), url

    def test_the_start_up_script_reads_the_document_the_page_names(
        self, client: TestClient
    ) -> None:
        script = client.get("/docs/assets/swagger-init.js").text
        assert "document.currentScript.dataset.openapiUrl" in script
        assert "validatorUrl: null" in script  # the online validator is another origin
        assert not re.search(r"https?:", script)
        r = client.get("/openapi.json")
        assert r.status_code == 200 and "/v1/search" in r.json()["paths"]

    def test_assets_answer_304_and_404_with_the_headers(self, client: TestClient) -> None:
        first = client.get("/docs/assets/swagger-ui.css")
        again = client.get(
            "/docs/assets/swagger-ui.css", headers={"If-None-Match": first.headers["etag"]}
        )
        assert again.status_code == 304
        missing = client.get("/docs/assets/nope.js")
        assert missing.status_code == 404
        assert missing.json() == {"error": "not_found", "detail": "Not Found"}
        for r in (again, missing):
            assert r.headers["x-content-type-options"] == "nosniff"
            assert "frame-ancestors 'none'" in r.headers["content-security-policy"]

    def test_redoc_is_not_served(self, client: TestClient) -> None:
        assert client.get("/redoc").status_code == 404

    def test_docs_stay_out_of_the_api_schema(self, client: TestClient) -> None:
        paths = client.get("/openapi.json").json()["paths"]
        assert not any(p.startswith(("/docs", "/redoc")) for p in paths)


def test_behind_a_path_prefix_the_page_names_prefixed_urls(
    settings: Settings, runtime: Runtime
) -> None:
    with TestClient(create_app(settings, runtime=runtime), root_path="/search") as client:
        html = client.get("/docs").text
    assert 'data-openapi-url="/search/openapi.json"' in html
    assert all(url.startswith("/search/docs/assets/") for url in _asset_urls(html))


def test_installing_over_fastapis_own_pages_is_refused() -> None:
    with pytest.raises(RuntimeError, match="docs_url=None"):
        install_docs(FastAPI())
    install_docs(FastAPI(docs_url=None, redoc_url=None))
