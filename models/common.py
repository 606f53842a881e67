"""Shared building blocks: epoch-millisecond clock, camelCase wire models, JSON columns.

Times are Unix epoch milliseconds (integers) everywhere, as in the product seeds;
SQL columns holding them are ``BIGINT`` because ms timestamps overflow ``INTEGER``
on PostgreSQL.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel
from sqlalchemy import JSON, BigInteger, Column

__all__ = ["CamelModel", "json_column", "ms_column", "now_ms"]


def now_ms() -> int:
    """Return the current wall-clock time as Unix epoch milliseconds (int)."""
    return time.time_ns() // 1_000_000


class CamelModel(BaseModel):
    """Base for wire schemas: camelCase JSON, snake_case Python, unknown fields rejected."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        from_attributes=True,
    )


def ms_column(*, nullable: bool = True, index: bool = False) -> Any:
    """A ``BIGINT`` column for an epoch-ms timestamp (use as ``sa_column=``)."""
    return Column(BigInteger, nullable=nullable, index=index)


def json_column(*, nullable: bool = False) -> Any:
    """A portable JSON column (SQLite JSON1 text, PostgreSQL ``json``)."""
    return Column(JSON, nullable=nullable)
