"""Request limits enforced before routing and authentication: body size and JSON depth.

:class:`RequestLimitsMiddleware` is a pure ASGI middleware (Starlette's "Pure ASGI
Middleware" pattern), installed outermost by :func:`search_service.app.create_app`,
so no route, dependency or authentication check ever sees a request it refuses:

- a ``Content-Length`` above ``max_body_bytes`` is answered 413 at once, without
  reading the body;
- a body without ``Content-Length`` (chunked) is counted as it arrives through
  ``receive`` and refused with 413 as soon as it passes the limit, so at most
  ``max_body_bytes`` plus one chunk is ever held in memory;
- a JSON body (no content type, ``application/json`` or ``application/*+json``)
  whose arrays and objects nest deeper than ``max_json_depth`` is answered 422
  before anything parses it; the stdlib parser would otherwise recurse once per
  level, and deep input costs stack and time in every layer after it.

Every refusal uses the one error shape (:func:`search_service.errors.error_response`)
and spends one request of the client IP's ``refused`` budget
(``search_service/ratelimit.py``); once that is spent, the answer is 429 with
``Retry-After`` instead, so a client that keeps sending what is refused is told
to back off. An accepted body spends nothing here and is handed to the app
unchanged, in one ``http.request`` message.
"""

from __future__ import annotations

import json
import re

import anyio
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from search_service.errors import (
    PayloadTooLargeError,
    RateLimitedError,
    ServiceError,
    error_response,
)
from search_service.ratelimit import RequestLimiter, RouteGroup, client_ip

__all__ = ["RequestLimitsMiddleware", "json_depth"]

_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[{]|[\]}]', re.DOTALL)
"""A JSON string (skipped whole, so brackets inside strings do not count) or a bracket."""


def json_depth(body: bytes, *, stop_after: int | None = None) -> int:
    """The deepest nesting of arrays and objects in a JSON document.

    A scalar is depth 0; ``[1]`` and ``{"a": 1}`` are 1; ``{"a": [1]}`` is 2.
    Brackets inside strings do not count. The body is decoded as ``json.loads``
    decodes bytes (UTF-8, -16 or -32, told apart by ``json.detect_encoding`` as
    RFC 8259 allows); a body that does not decode is depth 0 here, and the JSON
    parser after this check rejects it.

    Args:
        body: the raw request body.
        stop_after: return as soon as the depth exceeds this (the caller only
            needs to know that it does).

    Returns:
        The depth (a lower bound when ``stop_after`` cut the scan short). Linear
        in the body size; malformed JSON gets a best-effort count.
    """
    try:
        text = body.decode(json.detect_encoding(body))
    except (UnicodeDecodeError, LookupError):
        return 0
    depth = deepest = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_after is not None and deepest > stop_after:
                    break
        elif token in "]}":
            depth -= 1
    return deepest


def _is_json(content_type: str | None) -> bool:
    # FastAPI parses a body without a content type as JSON too.
    if not content_type:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class _Disconnected(Exception):
    """The client went away while its body was being read."""


class RequestLimitsMiddleware:
    """Refuse over-large bodies (413) and over-deep JSON (422) before the app runs.

    Args:
        app: the ASGI app to protect.
        max_body_bytes: largest accepted body, in bytes (``GIGSY_HTTP__MAX_BODY_BYTES``).
        max_json_depth: deepest accepted JSON nesting (``GIGSY_HTTP__MAX_JSON_DEPTH``).
        limiter: charges each refusal to the client IP's ``refused`` budget and
            answers 429 once it is spent; ``None`` (rate limits off) only refuses.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        max_json_depth: int,
        limiter: RequestLimiter | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_json_depth = max_json_depth
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the request, then run the app on the buffered body."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        try:
            self._check_declared_length(headers.get("content-length"))
            body = await self._read_body(receive)
            if body and _is_json(headers.get("content-type")):
                self._check_depth(body)
        except ServiceError as exc:
            answer = await self._charge(scope, exc)
            await error_response(answer)(scope, receive, send)
            return
        except _Disconnected:
            return  # nobody is listening for an answer
        await self.app(scope, _replay(body, receive), send)

    async def _charge(self, scope: Scope, refusal: ServiceError) -> ServiceError:
        """Spend the client IP's ``refused`` budget: ``refusal``, or the 429 once spent."""
        if self.limiter is None:
            return refusal
        try:
            # In a worker thread: the storage may be Redis, and its round trip
            # must not stall the event loop.
            await anyio.to_thread.run_sync(
                self.limiter.check, RouteGroup.REFUSED, f"ip:{client_ip(scope)}"
            )
        except RateLimitedError as limited:
            return limited
        return refusal

    def _too_large(self) -> PayloadTooLargeError:
        return PayloadTooLargeError(
            f"request body is larger than {self.max_body_bytes} bytes (GIGSY_HTTP__MAX_BODY_BYTES)"
        )

    def _check_declared_length(self, content_length: str | None) -> None:
        if content_length is None:
            return
        value = content_length.strip()
        if not value.isdigit():
            raise ServiceError("Content-Length is not a number", 400)
        if int(value) > self.max_body_bytes:
            raise self._too_large()

    async def _read_body(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise self._too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _check_depth(self, body: bytes) -> None:
        limit = self.max_json_depth
        # Nesting needs an opening bracket per level, and each "[" or "{" is a 0x5B
        # or 0x7B byte in every encoding JSON allows: a body with no more of those
        # bytes than the limit cannot exceed it (most bodies; no scan).
        if body.count(b"[") + body.count(b"{") <= limit:
            return
        if json_depth(body, stop_after=limit) > limit:
            raise ServiceError(
                f"body: JSON nests arrays and objects deeper than {limit} levels", 422
            )


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that yields ``body`` in one message, then defers to the server's."""
    done = False

    async def replay() -> Message:
        nonlocal done
        if done:
            return await receive()
        done = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
