"""The OpenAPI schema documents every error an operation can return, as ``ErrorBody``.

FastAPI documents the success response and, for operations with parameters, a
422 in its own shape (``HTTPValidationError``), which this service never sends:
``errors.py`` renders every error as ``{"error": code, "detail": message}``.
``install_error_responses`` wraps ``app.openapi`` so that, for every operation,
the schema lists these statuses, each with the ``ErrorBody`` schema:

=====  ================================================================
400    a request body (one that is not UTF-8 cannot be parsed), or declared by the route
401    the operation authenticates (``get_caller`` among its dependencies)
403    a role guard (``deps.PERMISSION_GUARDS``) among its dependencies, or declared
404    the path has parameters, or declared
409    declared by the route (it can raise ``ConflictError``)
413    the operation takes a request body
415    declared by the route
422    the operation has parameters or a body (FastAPI's rule), or declared
429    every ``/v1`` operation, with a ``Retry-After`` header
500    every operation
503    the operation uses the runtime (database, search index)
=====  ================================================================

Every other 4xx/5xx a route declares gets ``ErrorBody`` too. The rules read the
route's dependency tree, so a new route is documented without further work;
a status that only the route's own code raises is declared with ``responses=``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from models import ErrorBody
from search_service.deps import PERMISSION_GUARDS, get_caller, get_runtime

__all__ = ["install_error_responses"]

_REF_PREFIX = "#/components/schemas/"
_ERROR_REF = {"$ref": f"{_REF_PREFIX}{ErrorBody.__name__}"}
# FastAPI's validation error components, unused once every 422 is an ErrorBody.
_FASTAPI_422 = ("HTTPValidationError", "ValidationError")

_DESCRIPTIONS = {
    "400": "Bad request: a body that cannot be parsed (not UTF-8), or as described",
    "401": "Missing, invalid or revoked credentials (`WWW-Authenticate: Bearer`)",
    "403": "The caller's role may not do this",
    "404": "No such resource, or not visible to the caller",
    "409": "Conflicts with the current state",
    "413": "Request body too large",
    "415": "Unsupported content type",
    "422": "Invalid request; `detail` names each offending field",
    "429": "Too many requests; retry after `Retry-After` seconds",
    "500": "Unexpected server error (never with a stack trace)",
    "503": "The database or the search index is unavailable; retry later",
}

_HEADERS: dict[str, dict[str, Any]] = {
    "401": {
        "WWW-Authenticate": {
            "description": "The authentication scheme to use: `Bearer`.",
            "schema": {"type": "string"},
        }
    },
    "429": {
        "Retry-After": {
            "description": "Seconds to wait before retrying (RFC 9110, section 10.2.3).",
            "required": True,
            "schema": {"type": "integer", "minimum": 0},
        }
    },
}


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    """Every dependency callable in the tree under ``dependant``."""
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _statuses(path: str, operation: dict[str, Any], dependant: Dependant) -> set[str]:
    """The error statuses the rules in the module docstring give one operation."""
    calls = set(_calls(dependant))
    params = operation.get("parameters", [])
    statuses = {"500"}
    if get_caller in calls:
        statuses.add("401")
    if calls & set(PERMISSION_GUARDS):
        statuses.add("403")
    if any(p.get("in") == "path" for p in params):
        statuses.add("404")
    if "requestBody" in operation:
        statuses.update({"400", "413", "422"})
    if params:
        statuses.add("422")
    if path == "/v1" or path.startswith("/v1/"):
        statuses.add("429")
    if get_runtime in calls:
        statuses.add("503")
    return statuses


def _document(schema: dict[str, Any], app: FastAPI) -> None:
    """Add the error responses to ``schema`` (the app's generated schema), in place."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components[ErrorBody.__name__] = ErrorBody.model_json_schema(
        ref_template=_REF_PREFIX + "{model}", mode="serialization"
    )
    paths: dict[str, dict[str, Any]] = schema.get("paths", {})
    for context in iter_route_contexts(app.routes):
        if not isinstance(context.original_route, APIRoute):
            continue
        path = context.path_format
        item = paths.get(path or "")
        if path is None or item is None:  # include_in_schema=False
            continue
        # The effective dependant: router-level dependencies included.
        dependant: Dependant = context.dependant
        for method in context.methods or ():
            operation = item.get(method.lower())
            if operation is None:
                continue
            responses: dict[str, dict[str, Any]] = operation.setdefault("responses", {})
            for status in _statuses(path, operation, dependant):
                responses.setdefault(status, {})
            for status, response in responses.items():
                if status[0] not in "45" and status != "default":
                    continue
                if status == "422" and response.get("description") == "Validation Error":
                    response.pop("description")  # FastAPI's default, for its own shape
                response.setdefault("description", _DESCRIPTIONS.get(status, "Error"))
                response["content"] = {"application/json": {"schema": dict(_ERROR_REF)}}
                if status in _HEADERS:
                    response.setdefault("headers", {}).update(_HEADERS[status])
            operation["responses"] = dict(sorted(responses.items()))
    for name in _FASTAPI_422:  # HTTPValidationError first: it refers to ValidationError
        if f'"{_REF_PREFIX}{name}"' not in json.dumps(schema):
            components.pop(name, None)


def install_error_responses(app: FastAPI) -> None:
    """Make ``app.openapi()`` document every error response as ``ErrorBody``.

    Wraps FastAPI's own ``openapi()``, which caches the schema and rebuilds it
    when routes change; each newly built schema is documented once.
    """
    generate = app.openapi
    documented: list[dict[str, Any]] = []  # the last schema documented, held by identity

    def openapi() -> dict[str, Any]:
        schema = generate()
        if not documented or documented[0] is not schema:
            _document(schema, app)
            documented[:] = [schema]
        return schema

    # FastAPI's documented way to customise the schema is to replace this method.
    app.openapi = openapi  # type: ignore[method-assign]
