"""Gig expiry: take gigs that are no longer servable out of the index.

Students never see an expired gig whatever this job does: every student-facing
query filters on the payload ``deadline`` and hydration re-checks it in SQL. The
job keeps the index small and the state honest: every gig SQL says is indexed
but that may no longer be served (mostly: past its deadline; also a gig whose
owner is gone, or any state a writer left behind) gets an ``index.remove`` event
and is marked not indexed in one transaction; the point goes right after the
commit (or on the refresh job's next pass, if the store is down). Idempotent: a
removed gig is not selected again until it is re-indexed.
"""

from __future__ import annotations

import logging

from sqlalchemy import and_, not_
from sqlmodel import col, select

from models import Gig
from search_service.index.entity import GIG_ROWS
from search_service.index.removals import schedule_removal
from search_service.runtime import Runtime

__all__ = ["expire_gigs"]

log = logging.getLogger(__name__)


def expire_gigs(rt: Runtime, *, now: int | None = None, limit: int = 1000) -> int:
    """Remove from the index up to ``limit`` gigs marked indexed that are not
    servable at ``now`` (epoch ms; :data:`GIG_ROWS` rules: open, not deleted,
    deadline after ``now``, owner searchable); returns how many.

    Raises:
        SQLAlchemyError: the database failed (the next run retries).
    """
    with rt.session() as session:
        gigs = session.exec(
            select(Gig)
            .where(
                col(Gig.embedding_updated_at).is_not(None),
                not_(and_(*GIG_ROWS.searchable(now))),
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
