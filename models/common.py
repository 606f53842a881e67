"""Shared building blocks: epoch-millisecond clock, camelCase wire models, JSON columns,
and the input types shared by several schemas (list items, web URLs).

Request bodies are validated strictly (:class:`CamelRequest`): a JSON string is
never read as a number or a boolean, nor ``1.0`` as an integer; enum values
(:class:`WireEnum`) are matched by their string value, as strict JSON validation
does (https://docs.pydantic.dev/latest/concepts/conversion_table/).

Times are Unix epoch milliseconds (integers) everywhere, as in the product seeds;
SQL columns holding them are ``BIGINT`` because ms timestamps overflow ``INTEGER``
on PostgreSQL.

Rules added after data was written (a project URL's scheme, the length of a list
item) apply to what clients send, not to rows already stored: the types marked
with :data:`INPUT_ONLY` skip their checks when validated with ``context=STORED``,
which the code reading rows back from SQL passes, so older rows stay readable.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Any, cast

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    HttpUrl,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError, core_schema
from sqlalchemy import JSON, BigInteger, Column, Index, text

__all__ = [
    "INPUT_ONLY",
    "MAX_LIST_ITEM_LENGTH",
    "STALE_WHERE",
    "STORED",
    "CamelModel",
    "CamelResponse",
    "CamelRequest",
    "HttpUrlStr",
    "ListItem",
    "WireEnum",
    "json_column",
    "ms_column",
    "now_ms",
    "stale_index",
]

STORED: Mapping[str, bool] = MappingProxyType({"stored": True})
"""Validation context for rows read back from SQL: ``Item.model_validate(row, context=STORED)``."""


def _unless_stored(value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
    if isinstance(info.context, Mapping) and info.context.get("stored"):
        return value
    return handler(value)


INPUT_ONLY = WrapValidator(_unless_stored)
"""``Annotated`` marker: the constraints listed before it are skipped under ``STORED``.

The OpenAPI schema still shows them (a wrap validator keeps the inner schema).
"""

MAX_LIST_ITEM_LENGTH = 100
"""Longest string inside a list (skills, languages, search filters), in characters:
the longest skill or language name we know of is under 40."""


def _not_blank(value: str) -> str:
    # A blank entry would be dropped by normalisation (``indexers.taxonomy``), so the
    # client would store or filter on less than it sent without knowing it.
    if not value.strip():
        raise PydanticCustomError("blank_item", "must not be empty or only whitespace")
    return value


ListItem = Annotated[
    str,
    StringConstraints(max_length=MAX_LIST_ITEM_LENGTH),
    AfterValidator(_not_blank),
    INPUT_ONLY,
    Field(json_schema_extra={"pattern": r"\S"}),
]
"""A string inside a list: at most :data:`MAX_LIST_ITEM_LENGTH` characters, not empty
nor only whitespace (a 422 naming the entry, e.g. ``requiredSkills.0``)."""

_HTTP_URL = TypeAdapter(HttpUrl)
_HTTP_SCHEME = re.compile(r"^https?://", re.IGNORECASE)
_URL_MESSAGE = "must be an absolute http:// or https:// URL"


def _http_url(value: str) -> str:
    # The scheme must be spelled out (``https:example.com`` parses, but is not what
    # people mean), and nothing unprintable may hide in it: browsers drop tabs and
    # newlines from URLs, which has been used to smuggle ``javascript:`` past filters.
    if not _HTTP_SCHEME.match(value) or not value.isprintable() or " " in value:
        raise PydanticCustomError("http_url", _URL_MESSAGE)
    try:
        _HTTP_URL.validate_python(value)  # WHATWG parsing (the `url` crate): a real host
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"]
        raise PydanticCustomError(
            "http_url", _URL_MESSAGE + " ({reason})", {"reason": reason}
        ) from exc
    return value


HttpUrlStr = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=2048),
    AfterValidator(_http_url),
    INPUT_ONLY,
    Field(json_schema_extra={"format": "uri", "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://"}),
]
"""An absolute ``http``/``https`` URL, kept as written (trimmed); anything else, such
as ``javascript:`` (stored XSS for clients that render links), is refused."""


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


class CamelResponse(BaseModel):
    """Base for the ranked lists' response bodies, which the service builds from its
    own data (SQL rows, index payloads) on every search: camelCase JSON, unknown
    fields rejected, and none of :class:`CamelModel`'s input checks. The NUL check
    guards what clients send (a string with U+0000 never reaches SQL, so none comes
    back); run on output it was a Python call per string field of every hit."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        from_attributes=True,
    )


class CamelRequest(CamelModel):
    """Base for request bodies (and the models nested in them): a :class:`CamelModel`
    validated in pydantic strict mode.

    FastAPI validates a body as the Python value ``json.loads`` made of it, so strict
    mode here gives the strict JSON rules: ``"5"`` is not an integer, ``1.0`` not
    an integer, ``"yes"`` not a boolean (422 naming the field). Enum fields use
    :class:`WireEnum`, which keeps matching by value. Rows read back from SQL
    (``context=STORED``) hold Python values of the right types, so they pass too.
    """

    model_config = ConfigDict(strict=True)


class WireEnum(StrEnum):
    """A string enum of the wire schemas: matched by value (``"part_time"``) even under
    strict validation.

    Strict validation of a Python value wants an enum instance, which JSON cannot
    send; strict JSON validation matches the value
    (https://docs.pydantic.dev/latest/concepts/strict_mode/). This restores that
    rule for bodies, which FastAPI validates as Python values.
    """

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        """The default enum schema, with ``strict`` off for this one type."""
        schema = handler(source)
        enum = cast(core_schema.EnumSchema, handler.resolve_ref_schema(schema))
        enum["strict"] = False
        return schema


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


STALE_WHERE = "embedding_updated_at IS NULL OR embedding_updated_at < visible_updated_at"
"""The stale predicate of an indexed table (ARCHITECTURE.md, "Index versions"), as SQL."""


def stale_index(table: str) -> Index:
    """The partial index ``ix_<table>_stale`` on ``visible_updated_at`` over the stale rows.

    It holds only rows matching :data:`STALE_WHERE`, so the refresh job finds
    stale rows oldest first in O(stale) instead of visiting every row. SQLite and
    PostgreSQL use it for a query whose WHERE contains that same term
    (https://www.sqlite.org/partialindex.html,
    https://www.postgresql.org/docs/current/indexes-partial.html).

    Args:
        table: the table name (``users``, ``gigs``).
    """
    where = text(STALE_WHERE)
    return Index(
        f"ix_{table}_stale", "visible_updated_at", sqlite_where=where, postgresql_where=where
    )
