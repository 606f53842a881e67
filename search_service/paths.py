"""Types shared by the routers' path and query parameters: row ids and whole numbers.

A path or query value arrives as text. Pydantic's lax integer parsing would read
``1.0``, ``+1`` or `` 1`` as the integer 1, so ``/v1/gigs/1.0`` would serve gig 1:
these types accept decimal digits only (a 422 naming the parameter otherwise).
Use :data:`RowId` for a row id in a path (``Annotated[RowId, Path(description=...)]``)
and :data:`DECIMAL` on any other integer parameter
(``Annotated[int, Query(ge=1, le=100), DECIMAL]``).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

__all__ = ["DECIMAL", "MAX_ROW_ID", "RowId"]

MAX_ROW_ID = 2**31 - 1
"""Largest row id accepted in a path: id columns are ``INTEGER`` (32-bit on
PostgreSQL, see the migrations). A larger one matches no row, but would reach the
database driver as an out-of-range value (a 500 on SQLite past 64 bits, a database
error on PostgreSQL past 32) instead of a plain 422."""

_DIGITS = re.compile(r"[0-9]+")


def _decimal_digits(value: Any) -> Any:
    # Only text is checked: a default (an int) passes as it is.
    if isinstance(value, str) and not _DIGITS.fullmatch(value):
        raise PydanticCustomError("int_digits", "must be a whole number in decimal digits")
    return value


DECIMAL = BeforeValidator(_decimal_digits)
"""``Annotated`` marker for an ``int`` parameter: its text must be ASCII digits
(``42``), not ``42.0``, ``+42``, `` 42`` or ``4_2``. Put it after the
``Path``/``Query``/``Field`` that holds the bounds, so that the bounds stay in the
OpenAPI schema as ``minimum``/``maximum``."""

RowId = Annotated[int, Field(ge=1, le=MAX_ROW_ID), DECIMAL]
"""A row id in a path: 1..:data:`MAX_ROW_ID`, decimal digits only."""
