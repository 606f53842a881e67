"""Conditional writes and JSON Merge Patch, shared by every resource with a version.

A resource answers ``ETag: "<version>"``; a write may send it back as
``If-Match`` (RFC 9110, section 13.1.1) and gets 409 when the version moved on.
PATCH bodies are JSON Merge Patch documents (RFC 7396).
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import Request

from search_service.errors import ServiceError

__all__ = ["MERGE_PATCH", "apply_merge_patch", "expected_version", "read_merge_patch"]

MERGE_PATCH = "application/merge-patch+json"
"""Media type of a JSON Merge Patch (RFC 7396, section 4)."""

_ETAG = re.compile(r'^\s*(?:W/)?"(\d{1,18})"\s*$')


def expected_version(if_match: str | None, *, source: str) -> int | None:
    """The version in an ``If-Match`` header; ``None`` when absent or ``*``.

    Args:
        if_match: the header value, e.g. ``"3"`` or ``W/"3"``.
        source: where the client gets the ETag, for the error message
            (e.g. ``"GET /v1/me/profile"``).

    Raises:
        ServiceError: 400 when it is not an ETag this API issued.
    """
    if if_match is None or if_match.strip() == "*":
        return None
    m = _ETAG.match(if_match)
    if m is None:
        raise ServiceError(f'If-Match must be an ETag from {source}, like "3"', status_code=400)
    return int(m.group(1))


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """Apply a JSON Merge Patch (RFC 7396, section 2 "Processing Merge Patch").

    Objects merge key by key, ``null`` removes a key, anything else (arrays
    included) replaces the target value. Neither argument is modified.
    """
    if not isinstance(patch, dict):
        return patch
    result: dict[str, Any] = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result


async def read_merge_patch(request: Request) -> dict[str, Any]:
    """The request body as a merge patch object.

    Raises:
        ServiceError: 415 when the content type is neither ``application/merge-patch+json``
            nor ``application/json``; 422 when the body is not a JSON object.
    """
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in (MERGE_PATCH, "application/json"):
        raise ServiceError(f"send {MERGE_PATCH}, not {ctype or 'no content type'}", 415)
    try:
        patch: Any = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ServiceError(f"body is not JSON: {exc}", 422) from exc
    if not isinstance(patch, dict):
        raise ServiceError("a merge patch must be a JSON object", 422)
    return patch
