"""Gig expiry: take gigs whose deadline has passed out of the index.

Students never see an expired gig whatever this job does: every student-facing
query filters on the payload ``deadline`` and hydration re-checks it in SQL. The
job keeps the index small and the state honest: an open gig past its deadline
that is still indexed gets an ``index.remove`` event and is marked not indexed in
one transaction; the point goes right after the commit (or on the refresh job's
next pass, if the store is down). Idempotent: a removed gig is not selected again
until it is re-indexed (its deadline moved and it was written again).
"""

from __future__ import annotations

import logging

from sqlmodel import col, select

from models import Gig, GigStatus, now_ms
from search_service.index.entity import GIG_ROWS
from search_service.index.removals import schedule_removal
from search_service.runtime import Runtime

__all__ = ["expire_gigs"]

log = logging.getLogger(__name__)


def expire_gigs(rt: Runtime, *, now: int | None = None, limit: int = 1000) -> int:
    """Remove up to ``limit`` indexed open gigs whose deadline is at or before
    ``now`` (epoch ms) from the index; returns how many.

    Raises:
        SQLAlchemyError: the database failed (the next run retries).
    """
    ts = now if now is not None else now_ms()
    with rt.session() as session:
        gigs = session.exec(
            select(Gig)
            .where(
                col(Gig.deleted_at).is_(None),
                col(Gig.status) == GigStatus.OPEN.value,
                col(Gig.deadline) <= ts,
                col(Gig.embedding_updated_at).is_not(None),
            )
            .limit(limit)
        ).all()
        for gig in gigs:
            assert gig.id is not None
            gig.embedding_updated_at = None
            session.add(gig)
            schedule_removal(session, gig.id, "expired", entity=GIG_ROWS)
    if gigs:
        log.info("expired %d gigs", len(gigs))
    return len(gigs)
