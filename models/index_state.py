"""``index_state``: small key/value facts about the search index kept in SQL.

SQL is the source of truth for everything the index is derived from, including
the BM25 average document length the documents were encoded with, so a second
process (CLI, worker) encodes new documents with the same statistics.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String
from sqlmodel import Column, Field, SQLModel

from models.common import json_column, ms_column, now_ms

__all__ = ["IndexState"]


class IndexState(SQLModel, table=True):
    """One fact about the index, e.g. ``bm25_avg_len`` -> ``{"value": 412.3}``."""

    __tablename__ = "index_state"

    key: str = Field(sa_column=Column(String(64), primary_key=True))
    value: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    updated_at: int = Field(default_factory=now_ms, sa_column=ms_column(nullable=False))
