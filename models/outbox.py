"""The transactional outbox (profile plan, seed 004, workstream B2).

Every profile mutation appends an event row in the same database transaction as
the mutation itself, so an event exists if and only if the change committed.
The freshness worker reads pending events to wake up early and marks them
``processed_at`` once the change they announce is in the index; consumers can
replay them in ``id`` order. Times are epoch ms.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import Index, Integer, String, Text
from sqlmodel import Column, Field, SQLModel

from models.common import json_column, ms_column, now_ms

__all__ = ["OutboxEvent", "OutboxTopic"]


class OutboxTopic(StrEnum):
    """Event topics (seed 004, B1)."""

    PROFILE_UPDATED = "profile.updated"
    """A profile's content, visibility or owner changed; payload has the new version."""
    USER_DELETED = "user.deleted"
    """A user was soft-deleted: remove them from every derived store."""
    INDEX_REMOVE = "index.remove"
    """Remove the subject's point now: a privacy reduction, or the user (gig) stopped
    being searchable. Processed right after the commit, else by the refresh job."""
    GIG_UPDATED = "gig.updated"
    """A gig's indexed document changed; payload has the new version."""


class OutboxEvent(SQLModel, table=True):
    """One event. ``processed_at`` is NULL while pending.

    Payload of ``profile.updated``: ``{"userId", "version", "updatedAt",
    "contentHash"}``; of ``user.deleted``: ``{"userId", "deletedAt"}``; of
    ``index.remove``: ``{"userId", "reason"}`` (gigs: ``{"gigId", "reason"}``); of
    ``gig.updated``: ``{"gigId", "version"}``.

    ``entity`` names the indexed entity the event is about (``profiles`` or
    ``gigs``, the collection name) and ``user_id`` is its subject: the point id in
    that entity's collection (``users.id`` for profiles, ``gigs.id`` for gigs).
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "processed_at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    topic: str = Field(sa_column=Column(String(64), nullable=False))
    entity: str = Field(
        default="profiles",
        sa_column=Column(String(32), nullable=False, default="profiles", server_default="profiles"),
    )
    user_id: int = Field(sa_column=Column(Integer, nullable=False, index=True))
    user_version: int | None = Field(
        default=None,
        sa_column=ms_column(),
        description="The subject's visible_updated_at (epoch ms) the event announces.",
    )
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    created_at: int = Field(default_factory=now_ms, sa_column=ms_column(nullable=False))
    processed_at: int | None = Field(default=None, sa_column=ms_column())
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
