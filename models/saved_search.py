"""Saved searches (an employer's search, rerun on a schedule) and the candidates they matched.

``saved_searches`` holds one row per saved search: its owner, a name, the
``POST /v1/search`` body as the API validated it (``request``, camelCase JSON),
an optional per-search interval and the run schedule. ``deleted_at`` set means
soft-deleted. Times are epoch ms; intervals are seconds.

``saved_search_matches`` holds one row per (saved search, candidate) pair that a
run ever found in the top results. The first run's rows are the baseline
(``alert`` false): the employer has just seen those results. A candidate first
found by a later run is an alert (``alert`` true) until the employer marks it
seen (``seen_at``). ``indexed_version`` is the candidate's index version
(``users.embedding_updated_at``, epoch ms) when the match was stored: reading an
alert checks it against the candidate's privacy floor, as search does for a hit.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, field_validator
from pydantic import Field as PydField
from pydantic_core import PydanticCustomError
from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlmodel import Column, Field, Index, SQLModel

from models.common import CamelModel, CamelRequest, json_column, ms_column, now_ms
from models.search import SearchHit, SearchRequest

__all__ = [
    "MAX_INTERVAL_S",
    "MIN_INTERVAL_S",
    "SavedSearch",
    "SavedSearchAlert",
    "SavedSearchAlertList",
    "SavedSearchList",
    "SavedSearchMatch",
    "SavedSearchRequest",
    "SavedSearchView",
    "SavedSearchWrite",
    "SeenWrite",
    "SeenResult",
]

_RowId = Annotated[int, PydField(ge=1, le=2**31 - 1)]
"""A row id: ``INTEGER`` columns are 32-bit on PostgreSQL."""

MIN_INTERVAL_S = 60
"""Shortest per-search interval, in seconds: each run is one embedding and one
vector-store query, so a minute bounds what one employer can cost."""
MAX_INTERVAL_S = 30 * 86_400
"""Longest per-search interval, in seconds (30 days)."""


class SavedSearch(SQLModel, table=True):
    """One saved search. Times are epoch ms; ``interval_s`` seconds (NULL: the
    global ``GIGSY_SAVED_SEARCHES__INTERVAL_S``)."""

    __tablename__ = "saved_searches"
    __table_args__ = (
        Index("ix_saved_searches_owner", "owner_id", "deleted_at"),
        Index("ix_saved_searches_due", "deleted_at", "next_run_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(sa_column=Column(Integer, ForeignKey("users.id"), nullable=False))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    request: dict[str, object] = Field(default_factory=dict, sa_column=json_column())
    interval_s: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    next_run_at: int = Field(default_factory=now_ms, sa_column=ms_column(nullable=False))
    last_run_at: int | None = Field(default=None, sa_column=ms_column())
    last_success_at: int | None = Field(default=None, sa_column=ms_column())
    runs: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    failures: int = Field(
        default=0,
        sa_column=Column(Integer, nullable=False, default=0),
        description="Consecutive failed runs (0 after a success).",
    )
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: int = Field(default_factory=now_ms, sa_column=ms_column(nullable=False))
    updated_at: int = Field(default_factory=now_ms, sa_column=ms_column(nullable=False))
    deleted_at: int | None = Field(default=None, sa_column=ms_column())


class SavedSearchMatch(SQLModel, table=True):
    """A candidate a saved search found (unique per pair); ``alert`` false for the
    baseline of the first run. Times are epoch ms."""

    __tablename__ = "saved_search_matches"
    __table_args__ = (
        UniqueConstraint("saved_search_id", "user_id", name="uq_saved_search_matches_pair"),
        Index("ix_saved_search_matches_user", "user_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    saved_search_id: int = Field(
        sa_column=Column(Integer, ForeignKey("saved_searches.id"), nullable=False)
    )
    user_id: int = Field(sa_column=Column(Integer, ForeignKey("users.id"), nullable=False))
    alert: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, default=False))
    score: float = Field(default=0.0, sa_column=Column(Float, nullable=False, default=0.0))
    rank: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    indexed_version: int | None = Field(default=None, sa_column=ms_column())
    created_at: int = Field(default_factory=now_ms, sa_column=ms_column(nullable=False))
    seen_at: int | None = Field(default=None, sa_column=ms_column())


class SavedSearchRequest(SearchRequest):
    """The ``POST /v1/search`` body of a saved search: the same fields and rules, but
    no ``cursor`` (a cursor is one page of one past search, and each run starts from
    the first page): a cursor other than null is refused (422 naming
    ``search.cursor``)."""

    cursor: None = PydField(
        default=None, description="Must be null or absent: each run starts from the first page."
    )

    @field_validator("cursor", mode="before")
    @classmethod
    def _no_cursor(cls, value: object) -> None:
        if value is not None:
            raise PydanticCustomError(
                "cursor_not_allowed",
                "a saved search has no cursor: each run starts from the first page",
            )
        return None


class SavedSearchWrite(CamelRequest):
    """A search to save: a name and the ``POST /v1/search`` body, validated the same
    way except that a ``cursor`` is refused. Each run watches the top ``search.limit``
    results (``offset`` is ignored). ``intervalS`` overrides the global interval for
    this search (seconds)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Part-time Python analysts",
                    "search": {
                        "query": "python data analyst",
                        "filters": {"skills": ["sql"], "availability": "part_time"},
                        "limit": 20,
                    },
                    "intervalS": 3600,
                }
            ]
        }
    )

    name: str = PydField(min_length=1, max_length=200)
    search: SavedSearchRequest
    interval_s: int | None = PydField(default=None, ge=MIN_INTERVAL_S, le=MAX_INTERVAL_S)

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("name must not be blank")
        return value


class SavedSearchView(CamelModel):
    """A saved search as its owner sees it. Times are epoch ms.

    ``intervalS`` is the effective interval (this search's, or the global one);
    ``nextRunAt`` when the scheduler will next run it; ``lastError`` is set while
    the latest run failed (it is retried at the next interval); ``unseenAlerts``
    counts the alerts not yet marked seen that ``GET .../alerts`` would show.
    """

    id: int
    name: str
    search: SearchRequest
    interval_s: int
    custom_interval: bool
    created_at: int
    next_run_at: int
    last_run_at: int | None = None
    last_success_at: int | None = None
    last_error: str | None = None
    unseen_alerts: int = 0


class SavedSearchList(CamelModel):
    """The caller's saved searches, newest first."""

    results: list[SavedSearchView]


class SavedSearchAlert(CamelModel):
    """A candidate who newly matched a saved search. ``alertedAt`` and ``seenAt`` are
    epoch ms; ``rank`` is their 1-based position in that run's results; the
    candidate is shown as search shows a hit (employer-visible data only, as it is
    now; the explanation is empty)."""

    id: int
    alerted_at: int
    seen_at: int | None = None
    rank: int
    candidate: SearchHit


class SavedSearchAlertList(CamelModel):
    """A page of alerts, unseen first, then newest; ``nextOffset`` is null on the
    last page."""

    results: list[SavedSearchAlert]
    next_offset: int | None = None


class SeenWrite(CamelRequest):
    """Which alerts to mark seen: ``alertIds`` (of this saved search), or all of
    them when omitted."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"alertIds": [12, 13]}, {}]})

    alert_ids: list[_RowId] | None = PydField(default=None, max_length=1000)


class SeenResult(CamelModel):
    """How many alerts moved from unseen to seen."""

    marked: int
