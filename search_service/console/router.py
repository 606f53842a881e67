"""The employer console: ``GET /`` serves one static HTML page; its CSS and ES
modules are served from ``/console/`` (``search_service/console/static``).

The page needs no credentials: it holds the caller's API key in the browser's
``sessionStorage`` and sends it as ``Authorization: Bearer <key>`` to the ``/v1``
API, so the service authenticates those calls and never the page. Nothing is
fetched from another origin and there is no build step (README, "Employer console").

The page's ``Content-Security-Policy`` allows scripts, styles and API calls from
this origin only, and no inline script or style: together with rendering API data
through ``textContent`` only, a profile headline such as ``<script>`` is shown as
text and cannot run. Every response under ``/console/`` (assets, 304s and 404s,
and ``/console/index.html``, the page under another name) carries the same policy
with ``X-Content-Type-Options: nosniff``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse

from search_service.assets import SecureStaticFiles, same_origin_headers, same_origin_policy

__all__ = ["CONTENT_SECURITY_POLICY", "STATIC_DIR", "install_console"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
"""The page, its stylesheet and its ES modules (``js/``), shipped as package data."""

CONTENT_SECURITY_POLICY = same_origin_policy()
"""The page's policy (:func:`~search_service.assets.same_origin_policy`): same-origin
scripts, styles and ``fetch`` only; forms are handled in script, so no form may
submit anywhere."""

_SECURITY_HEADERS = same_origin_headers(CONTENT_SECURITY_POLICY)
_PAGE_HEADERS = {**_SECURITY_HEADERS, "Cache-Control": "no-cache"}

router = APIRouter(include_in_schema=False)


@router.get("/")
def read_console() -> FileResponse:
    """The console page (HTML); unauthenticated, outside the OpenAPI schema."""
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers=_PAGE_HEADERS)


def install_console(app: FastAPI) -> None:
    """Serve the page at ``/`` and its assets under ``/console/``."""
    app.include_router(router)
    app.mount(
        "/console",
        SecureStaticFiles(directory=STATIC_DIR, headers=_SECURITY_HEADERS),
        name="console",
    )
