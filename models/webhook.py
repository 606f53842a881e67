"""Clerk webhook bookkeeping: one audit row per Svix delivery, and tombstones.

``webhook_audit.svix_id`` is unique, which makes redeliveries idempotent (Svix
delivers at least once and retries for about 27 hours). A tombstone remembers
that Clerk deleted a user, so a late ``user.created``/``user.updated`` (Svix
does not guarantee order) never brings the user back.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import String, Text
from sqlmodel import Column, Field, SQLModel

from models.common import ms_column, now_ms

__all__ = ["UserTombstone", "WebhookAudit", "WebhookOutcome"]


class WebhookOutcome(StrEnum):
    """What a delivery did."""

    APPLIED = "applied"
    """The event changed (or created) state."""
    STALE = "stale"
    """Older than the state already held (by ``data.updated_at``); nothing changed."""
    TOMBSTONED = "tombstoned"
    """The user was deleted in Clerk; the late event was ignored."""
    IGNORED = "ignored"
    """An event type this service does not handle."""
    FAILED = "failed"
    """Processing failed; Svix will retry."""


class WebhookAudit(SQLModel, table=True):
    """One verified Svix delivery. Times are epoch ms."""

    __tablename__ = "webhook_audit"

    id: int | None = Field(default=None, primary_key=True)
    svix_id: str = Field(sa_column=Column(String(128), unique=True, nullable=False))
    event_type: str = Field(max_length=64)
    clerk_id: str | None = Field(default=None, max_length=255, index=True)
    event_version: int | None = Field(default=None, sa_column=ms_column())
    received_at: int = Field(default_factory=now_ms, sa_column=ms_column(nullable=False))
    outcome: str = Field(max_length=16)
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class UserTombstone(SQLModel, table=True):
    """A Clerk user that was deleted; ``deleted_at`` in epoch ms."""

    __tablename__ = "user_tombstones"

    clerk_id: str = Field(sa_column=Column(String(255), primary_key=True))
    deleted_at: int = Field(default_factory=now_ms, sa_column=ms_column(nullable=False))
