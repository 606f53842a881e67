"""The one error body every non-2xx response carries."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from models.common import CamelModel

__all__ = ["ErrorBody"]


class ErrorBody(CamelModel):
    """``{"error": code, "detail": message}``: the body of every error response.

    ``error`` is a stable snake_case code a client may branch on (``unauthorized``,
    ``forbidden``, ``not_found``, ``conflict``, ``validation_error``,
    ``engine_unavailable``, ``internal_error`` ...); ``detail`` is for humans and
    may change. No stack trace ever appears in either.
    """

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"error": "not_found", "detail": "no such profile"}]}
    )

    error: str = Field(description="Stable machine-readable code, snake_case.")
    detail: str = Field(description="Human-readable explanation; for 422, names each field.")
