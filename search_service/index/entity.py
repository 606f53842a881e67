"""An indexed entity is one descriptor: everything about a table whose rows are
points of one collection.

The index state, the leases and the write protocol (``index/repository.py``)
work on any table that carries the index-state columns; an
:class:`IndexedEntity` names that table, says in SQL which of its rows may be
served and which have a document to index, and holds everything else the index
mechanism and the serving code need about it: the collection's schema and
setting, the ``index_state`` key of its BM25 parameters, its outbox topics, and
the serving hooks (document loader, filter builder, facets, hydrator).

Two entities exist: profiles (the state lives on ``users``: one point per user
with a profile) and gigs (on ``gigs``: one point per open gig before its
deadline, of an owner in good standing). The instances here,
:data:`PROFILE_ROWS` and :data:`GIG_ROWS`, carry the static fields only (this
package is below every domain, so it cannot import the loaders or the search
code); ``search_service/entities.py`` adds the hooks and lists the full
descriptors (``ENTITIES``), and ``Runtime.index(entity)`` returns the full
descriptor with its store and BM25 encoder for either form or its name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, exists, or_, true
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from indexers import GIG_SCHEMA, PROFILE_SCHEMA, CollectionSchema, Document, FilterSpec
from models import Gig, GigStatus, OutboxTopic, Profile, User, UserStatus, now_ms

if TYPE_CHECKING:
    from search_service.search.facets import Facet
    from search_service.settings import Settings

__all__ = [
    "BM25_STATE_KEY",
    "GIG_ROWS",
    "INDEX_STATE_COLUMNS",
    "PROFILE_ROWS",
    "DocumentLoader",
    "FilterBuilder",
    "Hydrator",
    "IndexedEntity",
]

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

BM25_STATE_KEY = "bm25"
"""``index_state`` key of the BM25 parameters profile documents were encoded with
(the key from before gigs existed; other entities use ``bm25:<name>``)."""

DocumentLoader = Callable[[Session, Sequence[int]], tuple[list[Document], list[int]]]
"""``(session, ids) -> (documents, ids with nothing to index)``: builds the
documents of leased ids from SQL, in ``ids`` order; an id whose row is gone or not
servable is returned as skipped (its removal event, or nothing, handles its point)."""

FilterBuilder = Callable[..., FilterSpec]
"""API filters -> the store's :class:`~indexers.FilterSpec` on the entity's payload
(each entity's request model differs, so the arguments do too)."""

Hydrator = Callable[..., Sequence[Any]]
"""``(session, page, ...) -> hits``: ranked points -> API hits from SQL, dropping
points whose row may not be served now."""


def _profile_collection(settings: Settings) -> str:
    return settings.qdrant.collection


def _gig_collection(settings: Settings) -> str:
    return settings.qdrant.gig_collection


@dataclass(frozen=True, slots=True)
class IndexedEntity:
    """A table whose rows are points of one collection, and all about serving it.

    Static fields (set on :data:`PROFILE_ROWS` and :data:`GIG_ROWS`) serve the
    index mechanism; the hooks (``None`` on those instances) are set by
    ``search_service/entities.py`` with :func:`dataclasses.replace`. Equality and
    hashing use the static fields only, so a full descriptor equals its static one.

    Attributes:
        name: the entity's name (``"profiles"``), also its outbox rows' ``entity``.
        model: the SQLModel table carrying :data:`INDEX_STATE_COLUMNS`.
        searchable: SQL conditions a row must meet to be served (not deleted,
            not suspended, ...); takes an optional clock (epoch ms, default now)
            for rules that depend on time (a gig's deadline).
        has_document: SQL conditions a row must meet to have anything to index.
        schema: the payload indexes of its collection.
        collection: settings -> the collection's name (a ``settings.qdrant`` field).
        bm25_key: ``index_state`` key of the BM25 parameters its documents were
            encoded with (``bm25`` for profiles, ``bm25:gigs``; data written
            under these keys must keep loading).
        update_topic: the outbox topic announcing a new document version.
        subject_key: the payload key naming the point in its ``index.remove``
            events (``userId``, ``gigId``).
        item: what one row is called in logs and progress bars (``"user"``, ``"gig"``).
        loader: builds documents of leased ids (:data:`DocumentLoader`).
        filters: API filters -> :class:`~indexers.FilterSpec` (:data:`FilterBuilder`).
        facets: facet name (the API enum) -> the payload field counted.
        hydrate: ranked points -> API hits (:data:`Hydrator`).
        explain: builds each hit's explanation. For both entities today the
            explanation is built inside hydration (one pass over the page), so
            this is the same function as ``hydrate``.

    Raises:
        TypeError: ``model`` lacks an index-state column.
    """

    name: str
    model: Any
    searchable: Callable[..., tuple[ColumnElement[bool], ...]]
    has_document: Callable[[], tuple[ColumnElement[bool], ...]]
    schema: CollectionSchema
    collection: Callable[[Settings], str]
    bm25_key: str
    update_topic: OutboxTopic
    subject_key: str
    item: str = "row"
    loader: DocumentLoader | None = field(default=None, compare=False)
    filters: FilterBuilder | None = field(default=None, compare=False)
    facets: Mapping[Any, Facet] | None = field(default=None, compare=False)
    hydrate: Hydrator | None = field(default=None, compare=False)
    explain: Hydrator | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        missing = [c for c in INDEX_STATE_COLUMNS if not hasattr(self.model, c)]
        if missing:
            raise TypeError(f"{self.model.__name__} lacks index-state columns {missing}")

    def indexable(self) -> tuple[ColumnElement[bool], ...]:
        """Rows that belong in the index: searchable and with a document."""
        return (*self.searchable(), *self.has_document())

    def documents(self, session: Session, ids: Sequence[int]) -> tuple[list[Document], list[int]]:
        """The documents of ``ids`` and the ids with nothing to index (:attr:`loader`).

        Raises:
            LookupError: this descriptor has no loader (a static instance:
                resolve the full one with ``Runtime.index``).
        """
        if self.loader is None:
            raise LookupError(f"entity {self.name!r} has no document loader")
        return self.loader(session, ids)


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
    schema=PROFILE_SCHEMA,
    collection=_profile_collection,
    bm25_key=BM25_STATE_KEY,
    update_topic=OutboxTopic.PROFILE_UPDATED,
    subject_key="userId",
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
    schema=GIG_SCHEMA,
    collection=_gig_collection,
    bm25_key=f"{BM25_STATE_KEY}:gigs",
    update_topic=OutboxTopic.GIG_UPDATED,
    subject_key="gigId",
    item="gig",
)
"""Gigs: the index state lives on ``gigs``; a gig is served (and indexed) while it
is open, not deleted, before its deadline (evaluated at each call) and its owner
is neither deleted nor suspended."""
