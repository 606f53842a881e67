"""What employers may find: the one place that versions documents and enforces reductions.

Two rules live here (ARCHITECTURE.md, "Index versions"):

* **The content clock.** ``users.visible_updated_at`` moves only when the
  employer-visible document (text and filterable payload) changes; a private
  edit or a Clerk sync that changes nothing indexed leaves it, the index and the
  browse order alone. ``embedding_updated_at`` holds the value that is indexed.
* **Reductions before the answer.** A write that takes something findable away
  (:func:`indexers.reduces`: a section made private or emptied, an item removed,
  a filter value gone) or a user who stops being searchable (soft delete,
  suspension) appends an ``index.remove`` outbox event *in the writing
  transaction* and registers a post-commit hook that deletes the point at once.
  If the store is down the event stays pending and the refresh job retries it;
  meanwhile search hides every hit whose indexed version is below the user's
  ``privacy_floor`` (or whose user is not searchable), so nothing removed is
  ever served after the write commits.

Searchability changes are caught for every writer by a ``before_flush`` listener
on ``users.status`` and ``users.deleted_at``; profile content changes are
reported by the dual write (:func:`record_document`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from indexers import ProfileDocument, reduces
from models import OutboxTopic, User, UserStatus, now_ms
from search_service.db import after_commit, session_scope
from search_service.repositories.outbox import append_event, mark_processed, pending_removals
from search_service.repositories.users import (
    invalidate_index,
    leased_user_ids,
    settled_user_ids,
)

if TYPE_CHECKING:
    from search_service.runtime import Runtime

__all__ = [
    "UNKNOWN",
    "process_removals",
    "record_document",
    "remove_points",
    "visible_to_employers",
]

log = logging.getLogger(__name__)


class _Unknown:
    """The previous document is not known (tables edited outside the write path)."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = _Unknown()
"""Pass as ``before`` to :func:`record_document` when the old document cannot be
rebuilt: the change is then treated as a reduction."""

RUNTIME_KEY = "runtime"
"""``session.info`` key of the :class:`Runtime` whose store post-commit hooks use."""


def record_document(
    session: Session,
    user: User,
    before: ProfileDocument | _Unknown | None,
    after: ProfileDocument,
    *,
    now: int | None = None,
) -> bool:
    """Version ``user``'s new document, inside the writing transaction.

    When the fingerprint (text and filterable payload) equals ``before``'s
    nothing moves. Otherwise ``visible_updated_at`` is bumped (strictly increasing,
    epoch ms) so the refresh job re-indexes it; when ``after`` takes something
    away from ``before`` (or ``before`` is :data:`UNKNOWN`), ``privacy_floor``
    is raised to the new version and the point is removed right after the
    commit.

    Args:
        session: the writing transaction (not committed here).
        user: the owner, flushed (has an id).
        before: the document before the write; ``None`` when there was none.
        after: the document after the write (built from the new rows).
        now: clock override (epoch ms).

    Returns:
        True when the employer-visible document changed.
    """
    if user.id is None:
        raise ValueError("user must be flushed (have an id)")
    fingerprint = after.fingerprint
    if isinstance(before, ProfileDocument) and before.fingerprint == fingerprint:
        user.index_doc_hash = fingerprint
        return False
    ts = now if now is not None else now_ms()
    user.index_doc_hash = fingerprint
    user.visible_updated_at = max(ts, (user.visible_updated_at or 0) + 1)
    if isinstance(before, _Unknown) or reduces(before, after):
        user.privacy_floor = user.visible_updated_at
        _schedule_removal(session, user.id, "privacy reduction")
    session.add(user)
    return True


def visible_to_employers(user: User, indexed_version: int | None) -> bool:
    """True when a hit of ``user`` whose point holds ``indexed_version`` (epoch ms)
    may be served: the user is searchable and no privacy reduction happened
    after that version was built."""
    if not user.is_searchable:
        return False
    floor = user.privacy_floor
    return floor is None or (indexed_version is not None and indexed_version >= floor)


def _schedule_removal(session: OrmSession, user_id: int, reason: str) -> None:
    """Append an ``index.remove`` event and, when the session knows its runtime,
    remove the point right after the commit."""
    append_event(
        session,  # type: ignore[arg-type]
        OutboxTopic.INDEX_REMOVE,
        user_id,
        {"userId": user_id, "reason": reason},
    )
    rt: Runtime | None = session.info.get(RUNTIME_KEY)
    if rt is None:
        return  # no store in this process: the refresh job's outbox poll removes it
    pending: list[int] | None = session.info.get(_REMOVALS)
    if pending is None:
        pending = session.info[_REMOVALS] = []
        info = session.info
        after_commit(session, lambda: _remove_now(rt, info.pop(_REMOVALS, [])))
    pending.append(user_id)


_REMOVALS = "index_removals"
"""``session.info`` key: users whose points this transaction removes after its commit."""


@event.listens_for(OrmSession, "after_rollback")
def _forget_removals(session: OrmSession) -> None:
    session.info.pop(_REMOVALS, None)


def _remove_now(rt: Runtime, user_ids: list[int]) -> None:
    """Post-commit: delete the points, then close the events (best effort: a
    failure leaves them pending for the refresh job)."""
    process_removals(rt, only=sorted(set(user_ids)))
    rt.notify_profile_change()


def remove_points(rt: Runtime, user_ids: Sequence[int]) -> list[int]:
    """Delete points outside the lease protocol, then invalidate the users.

    Invalidation (``embedding_updated_at`` NULL, lease dropped) comes after the
    delete so that a refresh writer that indexed one of these users concurrently
    can neither keep its lease nor leave SQL saying "fresh" for a point that is
    gone; a user who is still searchable is simply re-indexed.

    Returns:
        The users a writer held a lease on. That writer may upsert their point
        after this delete and die before its verification would remove it again,
        and the dropped lease no longer says so: their removal must be repeated
        once it is done (:func:`process_removals` keeps their events pending).

    Raises:
        VectorStoreError: the store refused the delete (nothing invalidated).
    """
    if not user_ids:
        return []
    rt.store.delete(list(user_ids))
    rt.store.flush()
    with session_scope(rt.engine) as session:
        leased = leased_user_ids(session, user_ids)
        invalidate_index(session, user_ids)
    return leased


def process_removals(rt: Runtime, *, only: Sequence[int] | None = None) -> int:
    """Apply pending ``index.remove`` and ``user.deleted`` events: delete the
    points, invalidate the users, mark the events processed.

    Events of users leased to a writer at that moment stay pending: the writer
    may still upsert them (a batch loaded before the removal) and be killed
    before verifying, so the next pass deletes again. The refresh job runs a
    pass before and after its batches, and on the embedded default start-up
    releases the leases of a dead process, so the second pass closes them.
    A pending event whose user has since been re-indexed and verified at a
    version at or above the privacy floor, with no lease held, is closed
    without deleting that point.

    Args:
        rt: the runtime (store and engine).
        only: restrict to these users' events (post-commit hooks).

    Returns:
        Users whose points were removed (0 when the store failed; the events
        stay pending and count an attempt).
    """
    with session_scope(rt.engine) as session:
        events = pending_removals(session, user_ids=only)
        settled = set(settled_user_ids(session, sorted({e.user_id for e in events})))
        # Re-indexed since, at a version the removal allows, by a verified write
        # with no writer active now: the point in the index is that version.
        mark_processed(session, [e.id for e in events if e.id and e.user_id in settled])
        events = [e for e in events if e.user_id not in settled]
        ids = sorted({e.user_id for e in events})
    if not ids:
        return 0
    try:
        contended = set(remove_points(rt, ids))
    except Exception as exc:
        log.error("could not remove users %s from the index (%r); will retry", ids, exc)
        from search_service.repositories.outbox import mark_failed

        with session_scope(rt.engine) as session:
            for e in events:
                if e.id is not None:
                    mark_failed(session, e.id, repr(exc))
        return 0
    done = [e.id for e in events if e.id is not None and e.user_id not in contended]
    with session_scope(rt.engine) as session:
        mark_processed(session, done)
    return len(ids)


def _old_value(state: Any, name: str) -> tuple[bool, Any]:
    """(changed, value before the change) of attribute ``name`` of an ORM state."""
    history = state.attrs[name].history
    if not history.has_changes():
        return False, getattr(state.object, name)
    return True, history.deleted[0] if history.deleted else None


@event.listens_for(OrmSession, "before_flush")
def _watch_searchability(session: OrmSession, _ctx: Any, _instances: Any) -> None:
    """Any writer that changes ``status`` or ``deleted_at`` of a user: leaving
    search schedules the point's removal; coming back schedules a re-index."""
    for obj in list(session.dirty):
        if not isinstance(obj, User) or obj.id is None:
            continue
        state = inspect(obj)
        status_changed, old_status = _old_value(state, "status")
        deleted_changed, old_deleted = _old_value(state, "deleted_at")
        if not (status_changed or deleted_changed):
            continue
        was = old_deleted is None and old_status != UserStatus.SUSPENDED.value
        now = obj.is_searchable
        if was == now:
            continue
        obj.embedding_updated_at = None  # re-index on return; "not fresh" while gone
        if not now:
            _schedule_removal(session, obj.id, "left search")
