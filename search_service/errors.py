"""Service errors and the one JSON error shape ``{"error": Code, "detail": message}``.

Tree::

    ServiceError(message, status_code, code)
    ├── AuthenticationError   401 unauthorized
    ├── PermissionDeniedError 403 forbidden
    ├── NotFoundError         404 not_found
    ├── ConflictError         409 conflict
    ├── PayloadTooLargeError  413 payload_too_large
    ├── InvalidRequestError   422 validation_error (what a schema cannot say, e.g. a bad cursor)
    ├── RateLimitedError      429 rate_limited (with ``Retry-After``)
    └── EngineUnavailableError 503 engine_unavailable

Other exceptions map too::

    StoreUnavailableError                            503 engine_unavailable
    IndexerError (any other)                         500 internal_error
    SQLAlchemyError
    ├── unavailable (database_unavailable):          503 engine_unavailable
    │   OperationalError, InterfaceError, the pool's
    │   TimeoutError, DisconnectionError, a DBAPIError
    │   that invalidated its connection
    └── any other: IntegrityError, DataError,        500 internal_error
        ProgrammingError, ...
    Exception (anything else)                        500 internal_error

A 500 is logged with its stack and answered with the ``X-Request-ID`` header, so a
report can be matched to its log lines; no stack trace or database message ever
reaches a client. Conflicts the code expects (unique-key races) are caught where
they happen and answered 409 or retried, so an ``IntegrityError`` that reaches a
handler here is a bug. Webhook senders retry on any 5xx. Middleware that answers
before the app (``search_service.limits``) renders the same shape with
:func:`error_response`. The OpenAPI schema documents these responses
(``search_service.openapi``).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from indexers import IndexerError, StoreUnavailableError
from models import ErrorBody
from search_service.request_id import REQUEST_ID_HEADER, current_request_id

__all__ = [
    "AuthenticationError",
    "ConflictError",
    "EngineUnavailableError",
    "InvalidRequestError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitedError",
    "ServiceError",
    "database_unavailable",
    "error_response",
    "install_error_handlers",
]

log = logging.getLogger(__name__)

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "validation_error",
    429: "rate_limited",
    503: "engine_unavailable",
}


class ServiceError(Exception):
    """An error with an HTTP status and a stable machine-readable code."""

    status_code = 500
    code = "internal_error"

    def __init__(self, message: str, status_code: int | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
            self.code = code or _STATUS_CODES.get(status_code, "error")
        elif code is not None:
            self.code = code

    @property
    def headers(self) -> dict[str, str]:
        """Response headers that go with the error (a 401 names the Bearer scheme)."""
        return {"WWW-Authenticate": "Bearer"} if self.status_code == 401 else {}


class AuthenticationError(ServiceError):
    """Missing or invalid credentials (401)."""

    status_code = 401
    code = "unauthorized"


class PermissionDeniedError(ServiceError):
    """Authenticated but not allowed (403)."""

    status_code = 403
    code = "forbidden"


class NotFoundError(ServiceError):
    """No such resource (404)."""

    status_code = 404
    code = "not_found"


class ConflictError(ServiceError):
    """State conflict (409)."""

    status_code = 409
    code = "conflict"


class PayloadTooLargeError(ServiceError):
    """The request body is larger than the configured limit (413)."""

    status_code = 413
    code = "payload_too_large"


class InvalidRequestError(ServiceError):
    """A request the schema accepts but the service cannot serve as asked (422),
    e.g. a garbled or foreign cursor, or a cursor together with an offset."""

    status_code = 422
    code = "validation_error"


class RateLimitedError(ServiceError):
    """The caller spent its request budget (429).

    Args:
        message: what was exceeded.
        retry_after_s: whole seconds until a request fits the budget again (at
            least 1), sent as ``Retry-After`` (RFC 9110, section 10.2.3).
    """

    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after_s: int):
        super().__init__(message)
        self.retry_after_s = max(1, retry_after_s)

    @property
    def headers(self) -> dict[str, str]:
        """``Retry-After`` in delay-seconds."""
        return {"Retry-After": str(self.retry_after_s)}


class EngineUnavailableError(ServiceError):
    """A backing engine is unavailable (503)."""

    status_code = 503
    code = "engine_unavailable"


def _body(code: str, detail: str) -> dict[str, Any]:
    return ErrorBody(error=code, detail=detail).model_dump()


def _loc(loc: tuple[Any, ...]) -> str:
    # The first element says where (body, query string, path, header); drop it,
    # unless it is all there is (a body that is not JSON at all).
    parts = [str(p) for p in loc]
    if len(parts) > 1 and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or "body"


_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeoutError, DisconnectionError)


def database_unavailable(exc: SQLAlchemyError) -> bool:
    """True when ``exc`` says the database cannot serve now, not that the statement
    was wrong: a retry later may succeed.

    The DBAPI's ``OperationalError`` covers lost or refused connections, timeouts,
    lock waits, serialization failures and deadlocks (psycopg: SQLSTATE classes 08,
    40, 53, 55, 57; SQLite: ``database is locked``), and ``InterfaceError`` a
    connection the driver already closed (PEP 249, "Exceptions"). SQLAlchemy's pool
    raises ``TimeoutError`` when no connection is free and ``DisconnectionError`` for
    one that is gone, and marks any DBAPI error it recognised as a disconnect with
    ``connection_invalidated``. Integrity, data and programming errors are not
    among them: they fail the same way on every retry.
    """
    if isinstance(exc, _UNAVAILABLE):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def _internal_error(exc: BaseException, what: str, detail: str) -> JSONResponse:
    """A 500 for a bug: the stack goes to the log, the client gets ``detail`` and the
    request id (``X-Request-ID``) to quote."""
    log.exception(what, exc_info=exc)
    request_id = current_request_id()
    return JSONResponse(
        _body("internal_error", detail),
        status_code=500,
        headers={REQUEST_ID_HEADER: request_id} if request_id else None,
    )


def error_response(exc: ServiceError) -> JSONResponse:
    """``exc`` as the one error shape, with its status and headers
    (``WWW-Authenticate`` on 401, ``Retry-After`` on 429)."""
    return JSONResponse(
        _body(exc.code, exc.message), status_code=exc.status_code, headers=exc.headers or None
    )


def install_error_handlers(app: FastAPI) -> None:
    """Render every error as ``{"error", "detail"}`` with the right status."""

    @app.exception_handler(ServiceError)
    async def _service_error(_: Request, exc: ServiceError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        msgs = []
        for err in exc.errors():
            where = _loc(tuple(err.get("loc", ())))
            if err.get("type") == "json_invalid":
                where = "body"
            msgs.append(f"{where}: {err.get('msg', 'invalid')}")
        return JSONResponse(_body("validation_error", "; ".join(msgs)), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "error")
        # Keep the exception's headers: a 405 names the allowed methods (Allow).
        return JSONResponse(
            _body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(StoreUnavailableError)
    async def _store_down(_: Request, exc: StoreUnavailableError) -> JSONResponse:
        log.warning("vector store unavailable: %s", exc)
        return JSONResponse(
            _body("engine_unavailable", "the search index is unavailable"), status_code=503
        )

    @app.exception_handler(SQLAlchemyError)
    async def _database(_: Request, exc: SQLAlchemyError) -> JSONResponse:
        if not database_unavailable(exc):
            # The database's message may quote the statement or a constraint's
            # name: it goes to the log only.
            return _internal_error(exc, "database error", "internal server error")
        log.exception("database unavailable", exc_info=exc)
        return JSONResponse(
            _body("engine_unavailable", "the database is unavailable"), status_code=503
        )

    @app.exception_handler(IndexerError)
    async def _indexer(_: Request, exc: IndexerError) -> JSONResponse:
        return _internal_error(exc, "indexer failure", "search failed")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        # Rendered by ServerErrorMiddleware, outside RequestIdMiddleware: the id is
        # still in the context (search_service.request_id), the header is added here.
        return _internal_error(exc, "unhandled error", "internal server error")
