"""Static files served with security headers on every response.

Starlette's :class:`~starlette.staticfiles.StaticFiles` sends no security headers,
and its refusals (404, 405) are raised as ``HTTPException`` for the app's handler
to render, outside any wrapper of the files' own responses. :class:`SecureStaticFiles`
adds the headers it is given to every response it starts (200, 304 and 206 alike)
and renders its own refusals in the service's error shape (``search_service.errors``)
with the same headers, so no answer under its mount lacks them.
"""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from search_service.errors import ServiceError, error_response

__all__ = ["SecureStaticFiles", "same_origin_headers", "same_origin_policy"]


def same_origin_policy(*, images: str = "'self'") -> str:
    """A Content-Security-Policy (CSP Level 3, https://www.w3.org/TR/CSP3/) for a
    page of this service: scripts, styles and ``fetch`` from this origin only, no
    inline script or style, no plugins, no framing, no form submission.

    Args:
        images: the ``img-src`` sources (Swagger UI also needs ``data:``).
    """
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
            f"img-src {images}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )


def same_origin_headers(policy: str) -> dict[str, str]:
    """The headers every page and asset of this service carries: ``policy`` as the
    CSP, ``X-Content-Type-Options: nosniff`` (a file is never run as another type
    than it is served as) and ``Referrer-Policy: no-referrer``."""
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


class SecureStaticFiles(StaticFiles):
    """:class:`~starlette.staticfiles.StaticFiles` whose every response carries
    ``headers`` (they replace any header of the same name).

    Args:
        headers: the headers to add, e.g. ``X-Content-Type-Options: nosniff`` so a
            browser never runs a file as another type than the one it is served as
            (Fetch standard, "X-Content-Type-Options" header).
        directory: the directory to serve, as for ``StaticFiles``.
        packages: ``(package, folder)`` pairs of package data to serve after
            ``directory``, as for ``StaticFiles``.
    """

    def __init__(
        self,
        *,
        headers: Mapping[str, str],
        directory: str | PathLike[str] | None = None,
        packages: list[str | tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(directory=directory, packages=packages)
        self.security_headers = dict(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the file as ``StaticFiles`` does, with the headers added; a
        refusal (404, 405) is answered here as ``{"error", "detail"}``."""

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.security_headers.items():
                    headers[name] = value
            await send(message)

        try:
            await super().__call__(scope, receive, send_with_headers)
        except HTTPException as exc:
            # Raised before any response started (StaticFiles.get_response).
            response = error_response(ServiceError(str(exc.detail), exc.status_code))
            response.headers.update(exc.headers or {})
            await response(scope, receive, send_with_headers)
