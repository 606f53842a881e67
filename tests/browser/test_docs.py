"""The API docs page (Swagger UI at ``/docs``) in Chromium: it renders from this origin
alone, under its Content-Security-Policy, and "Try it out" calls the API with the
key given to "Authorize"."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import Console

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page, Request

pytestmark = pytest.mark.browser

_RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI);
});
"""
"""Runs before the page's scripts (Playwright init scripts are not subject to the
page's policy) and keeps every CSP violation the page reports."""

_SEARCH_OPERATION = ".opblock.opblock-post:has([data-path='/v1/search'])"


@dataclass
class DocsPage:
    """The docs page in a fresh context and what it did.

    Attributes:
        page: the page, loaded and with the operations rendered.
        requests: the URL of every request the page made, in order.
        errors: console errors and uncaught exceptions (a CSP violation is both
            a console error and a ``securitypolicyviolation`` event).
    """

    page: Page
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def violations(self) -> list[str]:
        """The CSP violations the page reported, as ``directive blocked-uri``."""
        found: list[str] = self.page.evaluate("window.__cspViolations")
        return found


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@pytest.fixture
def docs(browser: Browser, console: Console) -> Iterator[DocsPage]:
    """``/docs`` loaded until ``POST /v1/search`` is rendered."""
    # Importable here: the browser fixture skips the test when it is not.
    from playwright.sync_api import Error as PlaywrightError

    context = browser.new_context()
    context.add_init_script(_RECORD_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(15_000)
    seen = DocsPage(page)

    def on_request(request: Request) -> None:
        seen.requests.append(request.url)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            seen.errors.append(message.text)

    page.on("request", on_request)
    page.on("console", on_console)
    page.on("pageerror", lambda exc: seen.errors.append(str(exc)))
    page.goto(console.url + "docs")
    try:
        page.locator(_SEARCH_OPERATION).wait_for()
    except PlaywrightError:
        pytest.fail(f"the operations never rendered; page errors: {seen.errors}")
    yield seen
    context.close()


def test_docs_render_from_this_origin_only(docs: DocsPage, console: Console) -> None:
    assert docs.page.title() == "Gigsy talent search - Swagger UI"
    origin = _origin(console.url)
    assert f"{origin}/openapi.json" in docs.requests
    assert f"{origin}/docs/assets/swagger-init.js" in docs.requests
    foreign = [url for url in docs.requests if _origin(url) != origin]
    assert foreign == []
    assert docs.violations() == []
    assert docs.errors == []


def test_try_it_out_calls_the_api_with_the_key_given(docs: DocsPage, console: Console) -> None:
    page = docs.page
    page.locator(".auth-wrapper button.authorize").click()
    page.locator(".modal-ux input[aria-label='auth-bearer-value']").fill(
        console.key(console.employer)
    )
    page.locator(".modal-ux button.modal-btn.authorize").click()
    page.locator(".modal-ux button.btn-done").click()
    operation = page.locator(_SEARCH_OPERATION)
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    with page.expect_response(lambda r: r.url.endswith("/v1/search")) as answered:
        operation.locator("button.execute").click()
    response = answered.value
    assert response.request.headers["authorization"] == f"Bearer {console.key(console.employer)}"
    assert response.status == 200, response.text()
    shown = operation.locator(".live-responses-table tbody .response-col_status").first
    assert shown.inner_text().strip() == "200"
    assert all(_origin(url) == _origin(console.url) for url in docs.requests)
    assert docs.violations() == []
    assert docs.errors == []
