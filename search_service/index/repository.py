"""SQL of the index state of an indexed entity: the freshness queue (leases,
backoff), the verification step of the index write protocol, invalidation and
staleness.

Every function takes the entity (``entity=``; profiles keep their state on
``users``) and works on its table's index-state columns
(:data:`search_service.index.entity.INDEX_STATE_COLUMNS`). ARCHITECTURE.md,
"Index versions", describes the protocol these functions serve.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, case, func, or_, update
from sqlmodel import Session, col, select

from models import now_ms
from search_service.index.entity import IndexedEntity

__all__ = [
    "Confirmation",
    "Staleness",
    "active_user_ids",
    "attempts_of",
    "claim_stale",
    "claim_users",
    "confirm_indexed",
    "invalidate_index",
    "leased_user_ids",
    "mark_indexed",
    "record_index_failure",
    "release_leases",
    "settled_user_ids",
    "stale_user_ids",
    "staleness",
]


def active_user_ids(session: Session, *, entity: IndexedEntity) -> list[int]:
    """Ids of every row that belongs in the index (searchable, with a document), ascending."""
    M = entity.model
    stmt = select(M.id).where(*entity.indexable()).order_by(col(M.id))
    return [i for i in session.exec(stmt) if i]


def _stale(entity: IndexedEntity) -> ColumnElement[bool]:
    M = entity.model
    return or_(
        col(M.embedding_updated_at).is_(None),
        col(M.embedding_updated_at) < col(M.visible_updated_at),
    )


def stale_user_ids(session: Session, *, limit: int, entity: IndexedEntity) -> list[int]:
    """Indexable users whose ``embedding_updated_at`` is NULL or older than
    ``visible_updated_at``, oldest edit first, leases and backoff ignored (uses
    ``ix_users_freshness``)."""
    M = entity.model
    stmt = (
        select(M.id)
        .where(*entity.indexable(), _stale(entity))
        .order_by(col(M.visible_updated_at))
        .limit(limit)
    )
    return [i for i in session.exec(stmt) if i is not None]


def claim_stale(
    session: Session,
    *,
    owner: str,
    limit: int,
    lease_ms: int,
    now: int | None = None,
    entity: IndexedEntity,
) -> list[int]:
    """Lease up to ``limit`` stale users to ``owner`` for ``lease_ms``; returns their ids.

    Skips users leased to a live worker (lease not expired) and users in
    backoff (``index_retry_at`` in the future). On PostgreSQL the candidate rows
    are read ``FOR UPDATE SKIP LOCKED``, so concurrent workers never wait on or
    take the same rows; everywhere the lease itself is a compare-and-set on the
    lease columns, so two workers can never hold the same user. Commit promptly:
    the lease is what other workers see.
    """
    M = entity.model
    ts = now if now is not None else now_ms()
    free = (
        or_(col(M.index_lease_expires_at).is_(None), col(M.index_lease_expires_at) < ts),
        or_(col(M.index_retry_at).is_(None), col(M.index_retry_at) <= ts),
    )
    stmt = (
        select(M.id)
        .where(*entity.indexable(), _stale(entity), *free)
        .order_by(col(M.visible_updated_at))
        .limit(limit)
    )
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    ids = [i for i in session.exec(stmt) if i is not None]
    return _lease(session, ids, owner=owner, expires=ts + lease_ms, free=free, entity=entity)


def claim_users(
    session: Session,
    ids: Sequence[int],
    *,
    owner: str,
    lease_ms: int,
    now: int | None = None,
    entity: IndexedEntity,
) -> list[int]:
    """Lease ``ids`` to ``owner`` whether stale or not (a reindex), skipping users
    leased to a live worker (that worker writes them). Returns the leased ids."""
    M = entity.model
    ts = now if now is not None else now_ms()
    free = (or_(col(M.index_lease_expires_at).is_(None), col(M.index_lease_expires_at) < ts),)
    return _lease(session, list(ids), owner=owner, expires=ts + lease_ms, free=free, entity=entity)


def _lease(
    session: Session,
    ids: list[int],
    *,
    owner: str,
    expires: int,
    free: tuple[ColumnElement[bool], ...],
    entity: IndexedEntity,
) -> list[int]:
    """Compare-and-set the lease columns of the free rows among ``ids``."""
    M = entity.model
    if not ids:
        return []
    session.execute(
        update(M)
        .where(col(M.id).in_(ids), *free)
        .values(index_lease_owner=owner, index_lease_expires_at=expires)
        .execution_options(synchronize_session=False)
    )
    mine = select(M.id).where(
        col(M.id).in_(ids),
        col(M.index_lease_owner) == owner,
        col(M.index_lease_expires_at) == expires,
    )
    return sorted(i for i in session.exec(mine) if i is not None)


def mark_indexed(
    session: Session,
    versions: dict[int, int],
    *,
    owner: str | None = None,
    entity: IndexedEntity,
) -> int:
    """Set ``embedding_updated_at`` to the indexed ``visible_updated_at``, compare-and-set.

    A row whose ``visible_updated_at`` moved on while it was being embedded keeps
    its old ``embedding_updated_at``, so the next refresh picks the newer edit
    up. With ``owner``, that worker's leases on these users are released and
    their failure count reset. Index writers use :func:`confirm_indexed`, which
    also checks the lease and the privacy floor.

    Args:
        versions: user id -> the ``visible_updated_at`` (epoch ms) that was indexed.
        owner: the worker id that leased the users, if any.

    Returns:
        Rows whose ``embedding_updated_at`` was set.
    """
    M = entity.model
    done = 0
    for user_id, version in versions.items():
        result = session.execute(
            update(M)
            .where(col(M.id) == user_id, col(M.visible_updated_at) == version)
            .values(embedding_updated_at=version)
            .execution_options(synchronize_session=False)
        )
        done += result.rowcount or 0  # type: ignore[attr-defined]
    if owner is not None and versions:
        session.execute(
            update(M)
            .where(col(M.id).in_(list(versions)), col(M.index_lease_owner) == owner)
            .values(
                index_lease_owner=None,
                index_lease_expires_at=None,
                index_attempts=0,
                index_retry_at=None,
            )
            .execution_options(synchronize_session=False)
        )
    return done


@dataclass(slots=True)
class Confirmation:
    """Outcome of :func:`confirm_indexed`.

    Attributes:
        fresh: users now marked indexed at the version written.
        remove: users whose written point must go (no longer searchable, or the
            version written is below their privacy floor).
        superseded: users whose content moved on meanwhile (they stay stale).
        lost: users whose lease another writer took: marked not indexed, so the
            last writer's verification cannot leave a stale point marked fresh.
    """

    fresh: list[int]
    remove: list[int]
    superseded: list[int]
    lost: list[int]


def confirm_indexed(
    session: Session,
    versions: dict[int, int],
    *,
    owner: str,
    entity: IndexedEntity,
) -> Confirmation:
    """Verify index writes against SQL after the upsert (the index write protocol).

    One compare-and-set over the batch (a single ``UPDATE ... RETURNING``) marks
    each point fresh only while ``owner`` still holds the lease,
    ``visible_updated_at`` still equals the version written, the user is still
    searchable and the version is not below ``privacy_floor``; it also releases
    the lease and resets the backoff. Every other row is read back and
    classified (see :class:`Confirmation`); ``lost`` rows get
    ``embedding_updated_at`` NULL and no lease, which also makes the current
    lease holder's own verification fail, so whichever write landed last is
    re-done. ARCHITECTURE.md, "Index versions", has the argument.

    Args:
        versions: user id -> the ``visible_updated_at`` (epoch ms) written to the index.
        owner: the lease owner that wrote them.
    """
    M = entity.model
    out = Confirmation([], [], [], [])
    if not versions:
        return out
    # One compare-and-set for the whole batch: each row's expected version comes
    # from a CASE on its id, and RETURNING names the rows it marked (a statement
    # per row cost ~6 ms of statement building each, most of a reindex's time).
    result = session.execute(
        update(M)
        .where(
            col(M.id).in_(list(versions)),
            col(M.index_lease_owner) == owner,
            col(M.visible_updated_at) == case(versions, value=col(M.id)),
            *entity.searchable(),
            or_(
                col(M.privacy_floor).is_(None),
                col(M.privacy_floor) <= col(M.visible_updated_at),
            ),
        )
        .values(
            embedding_updated_at=col(M.visible_updated_at),
            index_lease_owner=None,
            index_lease_expires_at=None,
            index_attempts=0,
            index_retry_at=None,
        )
        .returning(col(M.id))
        .execution_options(synchronize_session=False)
    )
    confirmed = {int(i) for i in result.scalars()}
    for user_id, version in versions.items():
        if user_id in confirmed:
            out.fresh.append(user_id)
            continue
        row = session.exec(
            select(
                and_(*entity.searchable()), col(M.privacy_floor), col(M.index_lease_owner)
            ).where(M.id == user_id)
        ).first()
        if row is None:
            out.remove.append(user_id)
            continue
        searchable, floor, lease_owner = row
        if not searchable:
            out.remove.append(user_id)
        elif floor is not None and version < floor:
            out.remove.append(user_id)
        if lease_owner != owner:
            out.lost.append(user_id)
        elif user_id not in out.remove:
            out.superseded.append(user_id)
    if out.lost:
        invalidate_index(session, out.lost, entity=entity)
    settled = set(out.fresh) | set(out.lost)
    mine = [u for u in versions if u not in settled]
    if mine:
        release_leases(session, owner=owner, ids=mine, entity=entity)
    return out


def leased_user_ids(session: Session, ids: Sequence[int], *, entity: IndexedEntity) -> list[int]:
    """Those of ``ids`` that some writer holds an index lease on (expired or not)."""
    M = entity.model
    if not ids:
        return []
    stmt = select(M.id).where(col(M.id).in_(list(ids)), col(M.index_lease_owner).is_not(None))
    return [i for i in session.exec(stmt) if i is not None]


def settled_user_ids(session: Session, ids: Sequence[int], *, entity: IndexedEntity) -> list[int]:
    """Those of ``ids`` indexed and verified at their current version, searchable,
    not below their privacy floor, and leased to no writer."""
    M = entity.model
    if not ids:
        return []
    stmt = select(M.id).where(
        col(M.id).in_(list(ids)),
        col(M.embedding_updated_at).is_not(None),
        col(M.embedding_updated_at) == col(M.visible_updated_at),
        or_(
            col(M.privacy_floor).is_(None),
            col(M.privacy_floor) <= col(M.embedding_updated_at),
        ),
        *entity.searchable(),
        col(M.index_lease_owner).is_(None),
    )
    return [i for i in session.exec(stmt) if i is not None]


def invalidate_index(session: Session, ids: Sequence[int], *, entity: IndexedEntity) -> int:
    """Mark users not indexed (``embedding_updated_at`` NULL) and drop any lease on
    them: the refresh job writes them again if they are searchable. Returns rows."""
    M = entity.model
    if not ids:
        return 0
    result = session.execute(
        update(M)
        .where(col(M.id).in_(list(ids)))
        .values(embedding_updated_at=None, index_lease_owner=None, index_lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def attempts_of(session: Session, ids: Sequence[int], *, entity: IndexedEntity) -> dict[int, int]:
    """Consecutive failed refresh attempts of ``ids`` (absent ids are left out)."""
    M = entity.model
    if not ids:
        return {}
    stmt = select(M.id, M.index_attempts).where(col(M.id).in_(list(ids)))
    return {int(i): int(n) for i, n in session.exec(stmt) if i is not None}


def record_index_failure(
    session: Session,
    user_id: int,
    *,
    owner: str,
    retry_at: int,
    entity: IndexedEntity,
) -> int:
    """Count a failed refresh of ``user_id``, release ``owner``'s lease and back off
    until ``retry_at`` (epoch ms). Returns the new attempt count (0 if not found)."""
    M = entity.model
    session.execute(
        update(M)
        .where(col(M.id) == user_id)
        .values(
            index_attempts=col(M.index_attempts) + 1,
            index_retry_at=retry_at,
            index_lease_owner=None,
            index_lease_expires_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    attempts = session.exec(select(M.index_attempts).where(M.id == user_id)).first()
    return int(attempts or 0)


def release_leases(
    session: Session,
    *,
    owner: str | None = None,
    ids: Sequence[int] | None = None,
    entity: IndexedEntity,
) -> int:
    """Drop index leases: ``owner``'s (only on ``ids`` if given), or every lease when
    ``owner`` is None (start-up of the embedded default, where no other process
    can index). Returns rows."""
    M = entity.model
    stmt = update(M).where(col(M.index_lease_owner).is_not(None))
    if owner is not None:
        stmt = stmt.where(col(M.index_lease_owner) == owner)
    if ids is not None:
        stmt = stmt.where(col(M.id).in_(list(ids)))
    result = session.execute(
        stmt.values(index_lease_owner=None, index_lease_expires_at=None).execution_options(
            synchronize_session=False
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Staleness:
    """How far the index is behind SQL.

    Attributes:
        stale: indexable users whose index entry is missing or older than their row.
        oldest_s: seconds since the oldest stale user's ``visible_updated_at`` (0.0 if none).
        failing: stale users with at least one failed refresh attempt.
    """

    stale: int
    oldest_s: float
    failing: int


def staleness(session: Session, *, now: int | None = None, entity: IndexedEntity) -> Staleness:
    """Measure the freshness backlog (two aggregate queries)."""
    M = entity.model
    ts = now if now is not None else now_ms()
    count, oldest = session.exec(
        select(func.count(), func.min(M.visible_updated_at)).where(
            *entity.indexable(), _stale(entity)
        )
    ).one()
    failing = session.exec(
        select(func.count()).where(*entity.indexable(), _stale(entity), col(M.index_attempts) > 0)
    ).one()
    age = max(0.0, (ts - int(oldest)) / 1000.0) if oldest is not None else 0.0
    return Staleness(stale=int(count), oldest_s=age, failing=int(failing))
