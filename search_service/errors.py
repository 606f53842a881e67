"""Service errors and the one JSON error shape ``{"error": Code, "detail": message}``.

Tree::

    ServiceError(message, status_code, code)
    ├── AuthenticationError   401 unauthorized
    ├── PermissionDeniedError 403 forbidden
    ├── NotFoundError         404 not_found
    ├── ConflictError         409 conflict
    └── EngineUnavailableError 503 engine_unavailable

Indexer errors map too: ``StoreUnavailableError`` -> 503, other ``IndexerError`` ->
500 with a generic message; a database failure (``SQLAlchemyError``) -> 503, so
webhook senders retry. No stack trace ever reaches a client. The OpenAPI schema
documents these responses (``search_service.openapi``).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from indexers import IndexerError, StoreUnavailableError
from models import ErrorBody

__all__ = [
    "AuthenticationError",
    "ConflictError",
    "EngineUnavailableError",
    "NotFoundError",
    "PermissionDeniedError",
    "ServiceError",
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
    422: "validation_error",
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


def install_error_handlers(app: FastAPI) -> None:
    """Render every error as ``{"error", "detail"}`` with the right status."""

    @app.exception_handler(ServiceError)
    async def _service_error(_: Request, exc: ServiceError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return JSONResponse(
            _body(exc.code, exc.message), status_code=exc.status_code, headers=headers
        )

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
        return JSONResponse(_body(code, str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(StoreUnavailableError)
    async def _store_down(_: Request, exc: StoreUnavailableError) -> JSONResponse:
        log.warning("vector store unavailable: %s", exc)
        return JSONResponse(
            _body("engine_unavailable", "the search index is unavailable"), status_code=503
        )

    @app.exception_handler(SQLAlchemyError)
    async def _database(_: Request, exc: SQLAlchemyError) -> JSONResponse:
        log.exception("database failure", exc_info=exc)
        return JSONResponse(
            _body("engine_unavailable", "the database is unavailable"), status_code=503
        )

    @app.exception_handler(IndexerError)
    async def _indexer(_: Request, exc: IndexerError) -> JSONResponse:
        log.exception("indexer failure", exc_info=exc)
        return JSONResponse(_body("internal_error", "search failed"), status_code=500)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(_body("internal_error", "internal server error"), status_code=500)
