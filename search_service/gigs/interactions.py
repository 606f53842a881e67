"""SQL of interactions: one row per (gig, student) pair holding the owner's decision
(``shortlisted``/``rejected``) and the student's action (``applied``/``dismissed``),
each a soft state with the time it was set (epoch ms)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from models import CandidateDecision, Interaction, StudentAction

__all__ = ["applicant_ids", "decisions_for_gig", "dismissed_gig_ids", "interactions_for_gig"]


def interactions_for_gig(session: Session, gig_id: int) -> dict[int, Interaction]:
    """Student id -> the pair's interaction, for every student with one on ``gig_id``."""
    rows = session.exec(select(Interaction).where(Interaction.gig_id == gig_id)).all()
    return {r.user_id: r for r in rows}


def decisions_for_gig(session: Session, gig_id: int) -> dict[int, CandidateDecision]:
    """Student id -> the owner's current decision on them for ``gig_id``."""
    stmt = select(Interaction.user_id, Interaction.decision).where(
        Interaction.gig_id == gig_id, col(Interaction.decision).is_not(None)
    )
    return {uid: CandidateDecision(d) for uid, d in session.exec(stmt) if d}


def applicant_ids(session: Session, gig_id: int) -> list[int]:
    """Students who applied to ``gig_id`` (and have not withdrawn), first applied first."""
    stmt = (
        select(Interaction.user_id)
        .where(Interaction.gig_id == gig_id, Interaction.action == StudentAction.APPLIED.value)
        .order_by(col(Interaction.acted_at), col(Interaction.id))
    )
    return list(session.exec(stmt))


def dismissed_gig_ids(session: Session, user_id: int) -> set[int]:
    """Gigs the student dismissed (they never come back in their recommendations)."""
    stmt = select(Interaction.gig_id).where(
        Interaction.user_id == user_id, Interaction.action == StudentAction.DISMISSED.value
    )
    return set(session.exec(stmt))
