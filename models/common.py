"""Shared building blocks: epoch-millisecond clock, camelCase wire models, JSON columns.

Times are Unix epoch milliseconds (integers) everywhere, as in the product seeds;
SQL columns holding them are ``BIGINT`` because ms timestamps overflow ``INTEGER``
on PostgreSQL.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError
from sqlalchemy import JSON, BigInteger, Column

__all__ = ["CamelModel", "json_column", "ms_column", "now_ms"]


def now_ms() -> int:
    """Return the current wall-clock time as Unix epoch milliseconds (int)."""
    return time.time_ns() // 1_000_000


class CamelModel(BaseModel):
    """Base for wire schemas: camelCase JSON, snake_case Python, unknown fields rejected,
    and no NUL character (U+0000) in any string."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        from_attributes=True,
    )

    @field_validator("*", mode="after")
    @classmethod
    def _refuse_nul(cls, value: Any) -> Any:
        # PostgreSQL text cannot hold U+0000 (the driver refuses it, a database
        # error); refuse it in every wire string instead, a 422 on every engine.
        if _has_nul(value):
            raise PydanticCustomError("string_nul", "NUL characters (U+0000) are not allowed")
        return value


def _has_nul(value: Any) -> bool:
    """True when ``value`` is, or holds in a list/dict, a string containing U+0000.
    Nested models are not walked: they check their own fields."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple | set | frozenset):
        return any(_has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return False


def ms_column(*, nullable: bool = True, index: bool = False) -> Any:
    """A ``BIGINT`` column for an epoch-ms timestamp (use as ``sa_column=``)."""
    return Column(BigInteger, nullable=nullable, index=index)


def json_column(*, nullable: bool = False) -> Any:
    """A portable JSON column (SQLite JSON1 text, PostgreSQL ``json``)."""
    return Column(JSON, nullable=nullable)
