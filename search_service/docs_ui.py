"""The interactive API docs: Swagger UI at ``/docs``, served from this origin under
a same-origin-only Content-Security-Policy. There is no ReDoc page (``/redoc``).

FastAPI's built-in pages load their scripts from a CDN, with no integrity check,
and start Swagger UI with an inline script. They share the origin of the employer
console, which keeps the caller's API key in ``sessionStorage``, so any script
that runs here can read it. Here, instead:

- the Swagger UI bundle and stylesheet are the ones packaged in ``fastapi-offline``
  (its ``static/`` folder), served under ``/docs/assets/``;
- Swagger UI is started by ``swagger-init.js`` (``docs_assets/``), a file of this
  origin that reads the OpenAPI document's URL from its own ``<script>`` tag;
- the page and every asset carry :data:`CONTENT_SECURITY_POLICY`,
  ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer``.

ReDoc 2 (the bundle ``fastapi-offline`` ships) cannot run under this policy: its
styled-components and style-loader write inline ``<style>`` elements, its search
runs in a worker made from a ``blob:`` URL, and it loads its logo from Redocly's
CDN. So the app is built with ``redoc_url=None``; the OpenAPI document itself stays
at ``/openapi.json`` for any other viewer.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse

from search_service.assets import SecureStaticFiles, same_origin_headers, same_origin_policy

__all__ = ["ASSETS_DIR", "ASSETS_URL", "CONTENT_SECURITY_POLICY", "VENDOR_PACKAGE", "install_docs"]

ASSETS_DIR = Path(__file__).resolve().parent / "docs_assets"
"""This package's own docs assets (the Swagger UI start-up script), shipped as package data."""

VENDOR_PACKAGE = ("fastapi_offline", "static")
"""The package and folder holding ``swagger-ui-bundle.js``, ``swagger-ui.css``,
and ``favicon.png`` (Swagger UI 5); its unused ``redoc.standalone.js`` is served
too, under the same headers."""

ASSETS_URL = "/docs/assets"
"""Where both folders of assets are served, below the app's root path."""

# Swagger UI's stylesheet draws its icons from data: URLs.
CONTENT_SECURITY_POLICY = same_origin_policy(images="'self' data:")
"""The docs pages' policy (CSP Level 3, https://www.w3.org/TR/CSP3/): the console's
(``search_service.console.router``) plus ``data:`` images. Scripts, styles and
``fetch`` (the OpenAPI document, "Try it out") from this origin only; no inline
script or style, no framing, no form submission."""

_SECURITY_HEADERS = same_origin_headers(CONTENT_SECURITY_POLICY)
_PAGE_HEADERS = {**_SECURITY_HEADERS, "Cache-Control": "no-cache"}

_SWAGGER_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title} - Swagger UI</title>
  <link rel="icon" href="{assets}/favicon.png">
  <link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{assets}/swagger-ui-bundle.js"></script>
  <script src="{assets}/swagger-init.js" data-openapi-url="{openapi}"></script>
</body>
</html>
"""

router = APIRouter(include_in_schema=False)


@router.get("/docs")
def read_swagger_ui(request: Request) -> HTMLResponse:
    """The Swagger UI page (HTML); unauthenticated, outside the OpenAPI schema."""
    app = request.app
    # Behind a proxy that strips a path prefix, the browser needs the prefix back.
    root = str(request.scope.get("root_path", "")).rstrip("/")
    html = _SWAGGER_PAGE.format(
        title=escape(app.title),
        assets=escape(root + ASSETS_URL),
        openapi=escape(root + (app.openapi_url or "")),
    )
    return HTMLResponse(html, headers=_PAGE_HEADERS)


def install_docs(app: FastAPI) -> None:
    """Serve ``/docs`` and its assets under ``/docs/assets/``.

    The app must be built with ``docs_url=None, redoc_url=None`` so FastAPI's own
    CDN pages are not served.

    Raises:
        RuntimeError: FastAPI's own docs pages are on.
    """
    if app.docs_url is not None or app.redoc_url is not None:
        raise RuntimeError("build the app with docs_url=None and redoc_url=None")
    app.include_router(router)
    app.mount(
        ASSETS_URL,
        SecureStaticFiles(
            directory=ASSETS_DIR, packages=[VENDOR_PACKAGE], headers=_SECURITY_HEADERS
        ),
        name="docs-assets",
    )
