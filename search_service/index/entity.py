"""Which rows the shared index mechanism keeps in step with a collection.

The index state, the leases and the write protocol (``index/repository.py``)
work on any table that carries the index-state columns; an
:class:`IndexedEntity` names that table and says, in SQL, which of its rows may
be served and which have a document to index. Two entities exist: profiles
(the state lives on ``users``: one point per user with a profile) and gigs (on
``gigs``: one point per open gig before its deadline, of an owner in good
standing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, exists, or_, true
from sqlalchemy.orm import aliased
from sqlmodel import col

from models import Gig, GigStatus, Profile, User, UserStatus, now_ms

__all__ = ["ENTITIES", "GIG_ROWS", "INDEX_STATE_COLUMNS", "PROFILE_ROWS", "IndexedEntity"]

INDEX_STATE_COLUMNS: tuple[str, ...] = (
    "id",
    "visible_updated_at",
    "embedding_updated_at",
    "privacy_floor",
    "index_lease_owner",
    "index_lease_expires_at",
    "index_attempts",
    "index_retry_at",
)
"""Columns an indexed table must have (times in epoch ms; ARCHITECTURE.md,
"Index versions")."""


@dataclass(frozen=True, slots=True)
class IndexedEntity:
    """A table whose rows are points of one collection.

    Attributes:
        name: the entity's name (its collection's, e.g. ``"profiles"``).
        model: the SQLModel table carrying :data:`INDEX_STATE_COLUMNS`.
        searchable: SQL conditions a row must meet to be served (not deleted,
            not suspended, ...); takes an optional clock (epoch ms, default now)
            for rules that depend on time (a gig's deadline).
        has_document: SQL conditions a row must meet to have anything to index.
        item: what one row is called in logs (``"user"``, ``"gig"``).

    Raises:
        TypeError: ``model`` lacks an index-state column.
    """

    name: str
    model: Any
    searchable: Callable[..., tuple[ColumnElement[bool], ...]]
    has_document: Callable[[], tuple[ColumnElement[bool], ...]]
    item: str = "row"

    def __post_init__(self) -> None:
        missing = [c for c in INDEX_STATE_COLUMNS if not hasattr(self.model, c)]
        if missing:
            raise TypeError(f"{self.model.__name__} lacks index-state columns {missing}")

    def indexable(self) -> tuple[ColumnElement[bool], ...]:
        """Rows that belong in the index: searchable and with a document."""
        return (*self.searchable(), *self.has_document())


def _user_searchable(now: int | None = None) -> tuple[ColumnElement[bool], ...]:
    return (col(User.deleted_at).is_(None), col(User.status) != UserStatus.SUSPENDED.value)


def _user_has_profile() -> tuple[ColumnElement[bool], ...]:
    # A correlated EXISTS, not ``id IN (SELECT user_id FROM profiles)``: with the
    # IN form SQLite drives the query from ``profiles`` (every profile visited),
    # so the stale queries could not start from the partial index ``ix_users_stale``.
    return (exists().where(col(Profile.user_id) == col(User.id)),)


PROFILE_ROWS = IndexedEntity(
    name="profiles",
    model=User,
    searchable=_user_searchable,
    has_document=_user_has_profile,
    item="user",
)
"""Profiles: the index state lives on ``users``; a user is served while not
soft-deleted and not suspended, and indexed once they have a profile."""


_OWNER = aliased(User, name="gig_owner")
# Built once: aliasing a mapped class costs ~15 ms of SQLAlchemy work per call.


def _gig_searchable(now: int | None = None) -> tuple[ColumnElement[bool], ...]:
    owner = _OWNER
    ts = now if now is not None else now_ms()
    # Correlated EXISTS for the same reason as ``_user_has_profile`` (the stale
    # queries start from ``ix_gigs_stale``); the alias keeps it correlated to the
    # gig even inside a query that also reads ``users``.
    return (
        col(Gig.deleted_at).is_(None),
        col(Gig.status) == GigStatus.OPEN.value,
        or_(col(Gig.deadline).is_(None), col(Gig.deadline) > ts),
        exists().where(
            col(owner.id) == col(Gig.owner_id),
            col(owner.deleted_at).is_(None),
            col(owner.status) != UserStatus.SUSPENDED.value,
        ),
    )


def _gig_has_document() -> tuple[ColumnElement[bool], ...]:
    return (true(),)


GIG_ROWS = IndexedEntity(
    name="gigs",
    model=Gig,
    searchable=_gig_searchable,
    has_document=_gig_has_document,
    item="gig",
)
"""Gigs: the index state lives on ``gigs``; a gig is served (and indexed) while it
is open, not deleted, before its deadline (evaluated at each call) and its owner
is neither deleted nor suspended."""

ENTITIES: tuple[IndexedEntity, ...] = (PROFILE_ROWS, GIG_ROWS)
"""Every indexed entity, in the order the refresh job serves them."""
