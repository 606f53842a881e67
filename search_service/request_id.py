"""Request ids: one per HTTP request, returned in ``X-Request-ID`` and carried by
every log line emitted while the request is served (``search_service.logs``).

An incoming ``X-Request-ID`` of at most 128 characters of ``[A-Za-z0-9._-]`` (set
by a proxy or by the caller) is kept, so a request can be followed across
services; anything else is replaced by a fresh ``uuid4().hex``. The id lives in a
:class:`contextvars.ContextVar`: asyncio tasks and Starlette's thread pool copy
the context, so a sync endpoint or service code logs with the right id too.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "REQUEST_ID_HEADER",
    "RequestIdMiddleware",
    "accept_request_id",
    "current_request_id",
]

REQUEST_ID_HEADER = "X-Request-ID"
"""The de-facto standard header (Heroku, nginx ``$request_id``, AWS ALB use it)."""

_VALID = re.compile(r"[A-Za-z0-9._-]{1,128}")
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being served in this context, or ``None`` outside one."""
    return _request_id.get()


def accept_request_id(value: str | None) -> str:
    """``value`` when it is 1-128 characters of ``[A-Za-z0-9._-]``, else a new
    ``uuid4().hex`` (32 hex digits): a header that could forge log lines or carry
    arbitrary text is never echoed."""
    if value is not None and _VALID.fullmatch(value):
        return value
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Pure ASGI middleware: sets the request id for the request's context and adds
    the ``X-Request-ID`` response header (error responses included).

    Responses rendered by Starlette's ``ServerErrorMiddleware`` (unhandled
    exceptions, outside every user middleware) get the header from the app's
    exception handler (:func:`search_service.errors.install_error_handlers`).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one connection scope; only ``http`` scopes get an id."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = accept_request_id(Headers(scope=scope).get(REQUEST_ID_HEADER))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        token = _request_id.set(request_id)
        await self.app(scope, receive, send_with_id)
        # Reset only on success: when an exception escapes, ServerErrorMiddleware
        # (outside this one, same task) still logs it and sends the 500, and both
        # must see the id. The value dies with the request's task context.
        _request_id.reset(token)
