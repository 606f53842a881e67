"""SQL of saved searches: the owner's list, the due ones, run claims, matches and alerts."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import case, delete, update
from sqlmodel import Session, col, func, select

from models import SavedSearch, SavedSearchMatch, User
from search_service.index.entity import PROFILE_ROWS

__all__ = [
    "alerts_page",
    "claim_run",
    "count_owner_searches",
    "delete_matches",
    "due_searches",
    "get_owned_search",
    "indexed_versions",
    "known_candidates",
    "mark_seen",
    "owner_searches",
    "unseen_alerts",
]


def count_owner_searches(session: Session, owner_id: int) -> int:
    """How many saved searches (not deleted) ``owner_id`` holds."""
    stmt = (
        select(func.count())
        .select_from(SavedSearch)
        .where(SavedSearch.owner_id == owner_id, col(SavedSearch.deleted_at).is_(None))
    )
    return int(session.exec(stmt).one())


def owner_searches(session: Session, owner_id: int) -> Sequence[SavedSearch]:
    """``owner_id``'s saved searches (not deleted), newest first."""
    return session.exec(
        select(SavedSearch)
        .where(SavedSearch.owner_id == owner_id, col(SavedSearch.deleted_at).is_(None))
        .order_by(col(SavedSearch.created_at).desc(), col(SavedSearch.id).desc())
    ).all()


def get_owned_search(session: Session, owner_id: int, search_id: int) -> SavedSearch | None:
    """The saved search ``search_id`` if ``owner_id`` owns it and it is not deleted."""
    found = session.get(SavedSearch, search_id)
    if found is None or found.owner_id != owner_id or found.deleted_at is not None:
        return None
    return found


def unseen_alerts(session: Session, search_ids: Sequence[int]) -> list[tuple[int, int, int | None]]:
    """``(saved search id, candidate user id, indexed version)`` of every alert of
    ``search_ids`` not yet marked seen."""
    if not search_ids:
        return []
    rows = session.exec(
        select(
            SavedSearchMatch.saved_search_id,
            SavedSearchMatch.user_id,
            SavedSearchMatch.indexed_version,
        ).where(
            col(SavedSearchMatch.saved_search_id).in_(list(search_ids)),
            col(SavedSearchMatch.alert).is_(True),
            col(SavedSearchMatch.seen_at).is_(None),
        )
    )
    return [(sid, uid, version) for sid, uid, version in rows]


def delete_matches(session: Session, search_id: int) -> int:
    """Delete every match (baseline and alerts) of a saved search; returns rows deleted."""
    result = session.execute(
        delete(SavedSearchMatch).where(col(SavedSearchMatch.saved_search_id) == search_id)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def due_searches(session: Session, *, now: int, limit: int, force: bool) -> Sequence[SavedSearch]:
    """Saved searches whose ``next_run_at`` has come (every live one with ``force``),
    oldest due first, whose owner can still sign in (not deleted, not suspended)."""
    owners = select(User.id).where(*PROFILE_ROWS.searchable())
    stmt = select(SavedSearch).where(
        col(SavedSearch.deleted_at).is_(None), col(SavedSearch.owner_id).in_(owners)
    )
    if not force:
        stmt = stmt.where(col(SavedSearch.next_run_at) <= now)
    return session.exec(
        stmt.order_by(col(SavedSearch.next_run_at), col(SavedSearch.id)).limit(limit)
    ).all()


def claim_run(session: Session, search_id: int, *, seen_next: int, next_run_at: int) -> bool:
    """Move a saved search's ``next_run_at`` from ``seen_next`` to ``next_run_at``
    (compare-and-set): True for the one worker that wins the run."""
    result = session.execute(
        update(SavedSearch)
        .where(
            col(SavedSearch.id) == search_id,
            col(SavedSearch.next_run_at) == seen_next,
            col(SavedSearch.deleted_at).is_(None),
        )
        .values(next_run_at=next_run_at)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def known_candidates(session: Session, search_id: int) -> set[int]:
    """User ids a saved search already matched (baseline and alerts)."""
    return set(
        session.exec(
            select(SavedSearchMatch.user_id).where(SavedSearchMatch.saved_search_id == search_id)
        )
    )


def indexed_versions(session: Session, user_ids: Collection[int]) -> dict[int, int | None]:
    """Each user's index version (``embedding_updated_at``, epoch ms; None: not indexed)."""
    if not user_ids:
        return {}
    rows = session.exec(
        select(User.id, User.embedding_updated_at).where(col(User.id).in_(list(user_ids)))
    )
    return {uid: version for uid, version in rows if uid is not None}


def alerts_page(
    session: Session, search_id: int, *, limit: int, offset: int
) -> Sequence[SavedSearchMatch]:
    """A saved search's alerts (not the baseline), unseen first, then newest."""
    unseen_first = case((col(SavedSearchMatch.seen_at).is_(None), 0), else_=1)
    return session.exec(
        select(SavedSearchMatch)
        .where(SavedSearchMatch.saved_search_id == search_id, col(SavedSearchMatch.alert))
        .order_by(
            unseen_first,
            col(SavedSearchMatch.created_at).desc(),
            col(SavedSearchMatch.id).desc(),
        )
        .limit(limit)
        .offset(offset)
    ).all()


def mark_seen(
    session: Session, search_id: int, alert_ids: Sequence[int] | None, *, now: int
) -> int:
    """Mark a saved search's unseen alerts seen at ``now`` (epoch ms): those in
    ``alert_ids``, or all when None. Ids of other searches are ignored. Returns rows
    marked."""
    stmt = update(SavedSearchMatch).where(
        col(SavedSearchMatch.saved_search_id) == search_id,
        col(SavedSearchMatch.alert).is_(True),
        col(SavedSearchMatch.seen_at).is_(None),
    )
    if alert_ids is not None:
        if not alert_ids:
            return 0
        stmt = stmt.where(col(SavedSearchMatch.id).in_(list(alert_ids)))
    result = session.execute(stmt.values(seen_at=now).execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
