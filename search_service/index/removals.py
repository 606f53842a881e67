"""Removing points from the index outside the lease protocol, and when.

* :func:`schedule_removal` appends an ``index.remove`` outbox event to the writing
  transaction and, when the session knows its runtime, removes the point right
  after the commit (:func:`search_service.db.after_commit`); otherwise, or if the
  store fails, the refresh job's outbox poll applies the event.
* :func:`remove_points` deletes, then marks the users not indexed, so a refresh
  writer racing the delete can never confirm a point that is gone.
* A ``before_flush`` listener catches every change of ``users.status`` or
  ``users.deleted_at`` that takes a user out of search (soft delete, a Clerk ban)
  or brings one back (re-index), whoever the writer is, and likewise every change
  of a gig's ``status``, ``deleted_at`` or ``deadline`` that takes it away from
  students; a user leaving search takes their gigs along. Importing this module
  (the runtime does) registers it.

Every function takes the entity (``entity=``); its events are the outbox rows of
that entity, its points those of its collection (``Runtime.index(entity).store``).

ARCHITECTURE.md, "Index versions", has the whole protocol.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, inspect, or_, select
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import col

from models import Gig, GigStatus, OutboxTopic, User, UserStatus, now_ms
from search_service.db import after_commit, session_scope
from search_service.index.entity import GIG_ROWS, PROFILE_ROWS, IndexedEntity
from search_service.index.repository import (
    invalidate_index,
    leased_user_ids,
    settled_user_ids,
)
from search_service.outbox import append_event, mark_failed, mark_processed, pending_removals

if TYPE_CHECKING:
    from search_service.runtime import Runtime

__all__ = ["RUNTIME_KEY", "process_removals", "remove_points", "schedule_removal"]

log = logging.getLogger(__name__)


RUNTIME_KEY = "runtime"
"""``session.info`` key of the :class:`Runtime` whose store post-commit hooks use."""


def schedule_removal(
    session: OrmSession, user_id: int, reason: str, *, entity: IndexedEntity
) -> None:
    """Append an ``index.remove`` event for point ``user_id`` of ``entity`` (payload
    ``{entity.subject_key: user_id, "reason": reason}``) and, when the session
    knows its runtime, remove the point right after the commit."""
    append_event(
        session,  # type: ignore[arg-type]
        OutboxTopic.INDEX_REMOVE,
        user_id,
        {entity.subject_key: user_id, "reason": reason},
        entity=entity.name,
    )
    rt: Runtime | None = session.info.get(RUNTIME_KEY)
    if rt is None:
        return  # no store in this process: the refresh job's outbox poll removes it
    pending: dict[str, list[int]] | None = session.info.get(_REMOVALS)
    if pending is None:
        pending = session.info[_REMOVALS] = {}
        info = session.info
        after_commit(session, lambda: _remove_now(rt, info.pop(_REMOVALS, {})))
    pending.setdefault(entity.name, []).append(user_id)


_REMOVALS = "index_removals"
"""``session.info`` key: entity name -> points this transaction removes after its commit."""


@event.listens_for(OrmSession, "after_rollback")
def _forget_removals(session: OrmSession) -> None:
    session.info.pop(_REMOVALS, None)


def _remove_now(rt: Runtime, pending: dict[str, list[int]]) -> None:
    """Post-commit: delete the points, then close the events (best effort: a
    failure leaves them pending for the refresh job)."""
    for entity in rt.entities:
        ids = pending.get(entity.name)
        if ids:
            process_removals(rt, only=sorted(set(ids)), entity=entity)
    rt.notify_profile_change()


def remove_points(rt: Runtime, user_ids: Sequence[int], *, entity: IndexedEntity) -> list[int]:
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
    store = rt.index(entity).store
    store.delete(list(user_ids))
    store.flush()
    with session_scope(rt.engine) as session:
        leased = leased_user_ids(session, user_ids, entity=entity)
        invalidate_index(session, user_ids, entity=entity)
    return leased


def process_removals(
    rt: Runtime, *, only: Sequence[int] | None = None, entity: IndexedEntity
) -> int:
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
        entity: whose events and points.

    Returns:
        Users whose points were removed (0 when the store failed; the events
        stay pending and count an attempt).
    """
    with session_scope(rt.engine) as session:
        events = pending_removals(session, user_ids=only, entity=entity.name)
        settled = set(settled_user_ids(session, sorted({e.user_id for e in events}), entity=entity))
        # Re-indexed since, at a version the removal allows, by a verified write
        # with no writer active now: the point in the index is that version.
        mark_processed(session, [e.id for e in events if e.id and e.user_id in settled])
        events = [e for e in events if e.user_id not in settled]
        ids = sorted({e.user_id for e in events})
    if not ids:
        return 0
    try:
        contended = set(remove_points(rt, ids, entity=entity))
    except Exception as exc:
        log.error("could not remove %s %s from the index (%r); will retry", entity.name, ids, exc)
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
    """Any writer that changes ``status`` or ``deleted_at`` of a user (or
    ``status``, ``deleted_at`` or ``deadline`` of a gig): leaving search schedules
    the point's removal; coming back schedules a re-index. A user leaving search
    takes their gigs out too."""
    for obj in list(session.dirty):
        if isinstance(obj, Gig) and obj.id is not None:
            _watch_gig(session, obj)
            continue
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
            schedule_removal(session, obj.id, "left search", entity=PROFILE_ROWS)
            with session.no_autoflush:
                gig_ids = session.execute(
                    select(col(Gig.id)).where(
                        col(Gig.owner_id) == obj.id,
                        or_(
                            col(Gig.deleted_at).is_(None),
                            col(Gig.embedding_updated_at).is_not(None),
                        ),
                    )
                ).scalars()
                for gig_id in [g for g in gig_ids if g is not None]:
                    schedule_removal(session, gig_id, "owner left search", entity=GIG_ROWS)


def _watch_gig(session: OrmSession, gig: Gig) -> None:
    """A gig's status, deletion or deadline changed: when it is no longer servable
    and may still have a point (it was servable, or SQL says it is indexed),
    schedule the removal; when it becomes servable again, mark it not indexed so
    the refresh job (woken after the commit) indexes it."""
    assert gig.id is not None
    state = inspect(gig)
    changed = [_old_value(state, name) for name in ("status", "deleted_at", "deadline")]
    if not any(c for c, _ in changed):
        return
    ts = now_ms()
    (_, old_status), (_, old_deleted), (_, old_deadline) = changed
    was = (
        old_deleted is None
        and old_status == GigStatus.OPEN.value
        and (old_deadline is None or old_deadline > ts)
    )
    if gig.is_live(ts):
        if not was:
            gig.embedding_updated_at = None
            rt: Runtime | None = session.info.get(RUNTIME_KEY)
            if rt is not None:
                after_commit(session, rt.notify_profile_change)
        return
    # Not servable now. A gig whose deadline passed before this write was already
    # unservable, but its point stays until the expiry job: remove it here too.
    if was or gig.embedding_updated_at is not None:
        gig.embedding_updated_at = None
        schedule_removal(session, gig.id, "closed, filled, expired or deleted", entity=GIG_ROWS)
