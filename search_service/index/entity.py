"""Which rows the shared index mechanism keeps in step with a collection.

The index state, the leases and the write protocol (``index/repository.py``)
work on any table that carries the index-state columns; an
:class:`IndexedEntity` names that table and says, in SQL, which of its rows may
be served and which have a document to index. Profiles are the first entity
(the state lives on ``users``: one point per user with a profile).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement
from sqlmodel import col, select

from models import Profile, User, UserStatus

__all__ = ["INDEX_STATE_COLUMNS", "PROFILE_ROWS", "IndexedEntity"]

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
            not suspended, ...).
        has_document: SQL conditions a row must meet to have anything to index.

    Raises:
        TypeError: ``model`` lacks an index-state column.
    """

    name: str
    model: Any
    searchable: Callable[[], tuple[ColumnElement[bool], ...]]
    has_document: Callable[[], tuple[ColumnElement[bool], ...]]

    def __post_init__(self) -> None:
        missing = [c for c in INDEX_STATE_COLUMNS if not hasattr(self.model, c)]
        if missing:
            raise TypeError(f"{self.model.__name__} lacks index-state columns {missing}")

    def indexable(self) -> tuple[ColumnElement[bool], ...]:
        """Rows that belong in the index: searchable and with a document."""
        return (*self.searchable(), *self.has_document())


def _user_searchable() -> tuple[ColumnElement[bool], ...]:
    return (col(User.deleted_at).is_(None), col(User.status) != UserStatus.SUSPENDED.value)


def _user_has_profile() -> tuple[ColumnElement[bool], ...]:
    return (col(User.id).in_(select(Profile.user_id)),)


PROFILE_ROWS = IndexedEntity(
    name="profiles",
    model=User,
    searchable=_user_searchable,
    has_document=_user_has_profile,
)
"""Profiles: the index state lives on ``users``; a user is served while not
soft-deleted and not suspended, and indexed once they have a profile."""
