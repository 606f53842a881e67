"""SQL for the transactional outbox (``outbox`` table)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, func, not_, or_, update
from sqlmodel import Session, col, select

from models import OutboxEvent, OutboxTopic, now_ms
from search_service.db import json_rows, json_rows_value
from search_service.index.entity import IndexedEntity

__all__ = [
    "append_event",
    "count_pending",
    "has_pending",
    "mark_failed",
    "mark_processed",
    "mark_update_events_done",
    "no_pending_removal",
    "pending_removal_ids",
    "pending_removals_column",
    "remember_pending_removals",
    "pending_removals",
    "purge_processed",
]

REMOVAL_TOPICS = (OutboxTopic.INDEX_REMOVE.value, OutboxTopic.USER_DELETED.value)
"""Topics whose consumer removes the subject's point from the index."""


def append_event(
    session: Session,
    topic: OutboxTopic,
    user_id: int,
    payload: dict[str, Any],
    *,
    user_version: int | None = None,
    now: int | None = None,
    entity: str,
) -> OutboxEvent:
    """Add an event to the caller's transaction (it commits or rolls back with it).

    ``user_id`` is the subject: the point id in ``entity``'s collection
    (``users.id`` for profiles, ``gigs.id`` for gigs)."""
    event = OutboxEvent(
        entity=entity,
        topic=topic.value,
        user_id=user_id,
        user_version=user_version,
        payload=payload,
        created_at=now if now is not None else now_ms(),
    )
    session.add(event)
    return event


def has_pending(session: Session) -> bool:
    """True when any event is unprocessed (an indexed lookup, cheap to poll)."""
    stmt = select(OutboxEvent.id).where(col(OutboxEvent.processed_at).is_(None)).limit(1)
    return session.exec(stmt).first() is not None


def count_pending(session: Session) -> int:
    """Number of unprocessed events."""
    stmt = (
        select(func.count()).select_from(OutboxEvent).where(col(OutboxEvent.processed_at).is_(None))
    )
    return int(session.exec(stmt).one())


def pending_removals(
    session: Session,
    *,
    user_ids: Sequence[int] | None = None,
    limit: int = 500,
    entity: str,
) -> Sequence[OutboxEvent]:
    """Unprocessed ``index.remove`` and ``user.deleted`` events of ``entity``, oldest
    first (only those of subjects ``user_ids`` when given)."""
    stmt = select(OutboxEvent).where(
        col(OutboxEvent.processed_at).is_(None),
        _removal_topic(),
        col(OutboxEvent.entity) == entity,
    )
    if user_ids is not None:
        stmt = stmt.where(col(OutboxEvent.user_id).in_(list(user_ids)))
    return session.exec(stmt.order_by(col(OutboxEvent.id)).limit(limit)).all()


PENDING_REMOVALS_KEY = "pending_removals"
"""``session.info`` key of the pending removals read with the caller's API key
(:func:`pending_removals_column`, :func:`remember_pending_removals`)."""


def _removal_topic() -> ColumnElement[bool]:
    # One equality per topic (plain bind parameters), not ``in_(REMOVAL_TOPICS)``:
    # an expanding IN list is re-rendered on every execution of the statement,
    # and these conditions ride on the hottest statements (the API key, the cards).
    return or_(*(col(OutboxEvent.topic) == topic for topic in REMOVAL_TOPICS))


@lru_cache(maxsize=4)
def pending_removals_column(dialect: str) -> Any:
    """A scalar subquery: every unprocessed removal event's ``(entity, user_id)`` as
    a JSON array (:func:`search_service.db.json_rows`; none in the normal case,
    ``ix_outbox_pending`` finds them). Authentication carries it in its one
    statement, so a ranked list excludes these points inside its query (no rank,
    score or slot) without a statement of its own. Built once per dialect."""
    return json_rows(
        dialect,
        OutboxEvent,
        col(OutboxEvent.processed_at).is_(None),
        _removal_topic(),
        columns=("entity", "user_id"),
    )


def remember_pending_removals(session: Session, value: Any) -> None:
    """Keep a :func:`pending_removals_column` value for this unit of work, for
    :func:`pending_removal_ids` to answer from."""
    found: dict[str, set[int]] = {}
    for row in json_rows_value(value):
        found.setdefault(str(row["entity"]), set()).add(int(row["user_id"]))
    session.info[PENDING_REMOVALS_KEY] = {e: frozenset(ids) for e, ids in found.items()}


def pending_removal_ids(session: Session, *, entity: str) -> frozenset[int]:
    """Subjects of ``entity`` with an unprocessed removal event: their points may
    still be in the index and must not be served (empty in the normal case, where
    the post-commit hook already applied the removal; uses ``ix_outbox_pending``).
    Answered without another statement when this unit of work read them already
    (with the caller's API key, or the auth epoch of a key remembered in memory:
    :func:`remember_pending_removals`); hydration checks the page
    again in its own statement (:func:`no_pending_removal`)."""
    known: dict[str, frozenset[int]] | None = session.info.get(PENDING_REMOVALS_KEY)
    if known is None:
        # Begin the transaction first: its begin hook may read them (an API key
        # answered from memory checks the auth epoch with them: key_cache.py).
        session.connection()
        known = session.info.get(PENDING_REMOVALS_KEY)
    if known is not None:
        return known.get(entity, frozenset())
    stmt = select(OutboxEvent.user_id).where(
        col(OutboxEvent.processed_at).is_(None),
        _removal_topic(),
        col(OutboxEvent.entity) == entity,
    )
    return frozenset(session.exec(stmt.distinct()))


def no_pending_removal(entity: str, subject: Any) -> ColumnElement[bool]:
    """SQL condition: the row whose point id is ``subject`` (a column, e.g.
    ``users.id``) has no unprocessed removal event of ``entity``. Serving checks add
    it to the statement that reads what a page shows, so a point whose removal is
    still pending (the post-commit hook failed or has not run) is never served,
    at no extra statement (a correlated NOT EXISTS; ``ix_outbox_pending`` finds the
    unprocessed events, none in the normal case)."""
    return ~exists().where(
        col(OutboxEvent.processed_at).is_(None),
        _removal_topic(),
        col(OutboxEvent.entity) == entity,
        col(OutboxEvent.user_id) == subject,
    )


def mark_processed(session: Session, ids: Sequence[int], *, now: int | None = None) -> int:
    """Set ``processed_at`` on events ``ids``; returns rows updated."""
    if not ids:
        return 0
    result = session.execute(
        update(OutboxEvent)
        .where(col(OutboxEvent.id).in_(ids), col(OutboxEvent.processed_at).is_(None))
        .values(processed_at=now if now is not None else now_ms())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def mark_failed(session: Session, event_id: int, error: str) -> None:
    """Count a failed attempt at an event; it stays pending."""
    session.execute(
        update(OutboxEvent)
        .where(col(OutboxEvent.id) == event_id)
        .values(attempts=col(OutboxEvent.attempts) + 1, last_error=error[:2000])
    )


def mark_update_events_done(
    session: Session, *, entity: IndexedEntity, now: int | None = None
) -> int:
    """Close every pending update event (``entity.update_topic``) of ``entity`` whose
    change is in the index.

    An event is done when its subject's ``embedding_updated_at`` has reached the
    event's ``user_version``, or the subject is not searchable any more (nothing
    to index: soft-deleted, suspended, a gig closed or expired).
    Returns rows updated.
    """
    M = entity.model
    done = exists().where(
        col(M.id) == col(OutboxEvent.user_id),
        or_(
            not_(and_(*entity.searchable())),
            and_(
                col(M.embedding_updated_at).is_not(None),
                col(M.embedding_updated_at) >= func.coalesce(col(OutboxEvent.user_version), 0),
            ),
        ),
    )
    result = session.execute(
        update(OutboxEvent)
        .where(
            col(OutboxEvent.processed_at).is_(None),
            col(OutboxEvent.entity) == entity.name,
            col(OutboxEvent.topic) == entity.update_topic.value,
            done,
        )
        .values(processed_at=now if now is not None else now_ms())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def purge_processed(session: Session, *, older_than: int) -> int:
    """Delete events processed before ``older_than`` (epoch ms); returns rows deleted."""
    result = session.execute(
        delete(OutboxEvent).where(
            col(OutboxEvent.processed_at).is_not(None), col(OutboxEvent.processed_at) < older_than
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
