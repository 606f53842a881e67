"""HTTP caching of API responses: none by default.

Every ``/v1`` answer may show data that a privacy reduction (a section made
private, an account deleted or suspended, a gig closed) removes at once: the API
hides it before it answers the request that made the change, and a copy kept by
a browser or a shared cache would undo that. :class:`NoStoreMiddleware` is the
one place that rule is enforced: every response under ``/v1`` (and the webhook
routes) that does not choose its own policy gets ``Cache-Control: no-store``
(RFC 9111, section 5.2.2.5: no cache may store any part of it), errors included.
A route that sets ``Cache-Control`` itself keeps it; none under ``/v1`` sets a
policy that allows storing.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["NO_STORE", "NoStoreMiddleware"]

NO_STORE = "no-store"
"""The ``Cache-Control`` value of API responses."""

_PREFIXES = ("/v1/", "/webhooks/")


class NoStoreMiddleware:
    """Pure ASGI middleware: ``Cache-Control: no-store`` on every ``/v1`` and
    ``/webhooks`` response that sets no ``Cache-Control`` of its own.

    Args:
        app: the wrapped ASGI app.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one connection scope; only ``http`` API paths are touched."""
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(_PREFIXES):
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "cache-control" not in headers:
                    headers["Cache-Control"] = NO_STORE
            await send(message)

        await self.app(scope, receive, send_no_store)
