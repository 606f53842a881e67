"""Feedback between gigs and students: the owner's decisions, the student's actions.

* The gig's owner (or an admin) shortlists or rejects a student for a gig, or
  clears that decision. The student must be searchable, have a profile, and
  have been shown in the gig's candidates or applicants list or have applied
  to it (``candidate_exposures``); anything else is the same 404, so decisions
  cannot probe which user ids are students.
  Rejected students drop out of the gig's candidates, and the shortlist moves
  the candidates' ranking (``search_service.search.recommend.gig_candidates``).
* A student applies to a gig or dismisses it, or withdraws either. Only a gig
  students can see (open, before its deadline, its owner in good standing) can
  be applied to or dismissed; one ``action`` per pair, so applying replaces a
  dismissal and the other way round. Dismissed gigs never come back in the
  student's recommendations; applicants are ranked for the owner
  (``recommend.gig_applicants``).

Each side sees only its own part: the owner sees decisions and applications
(never a dismissal), the student their own actions (never the decision).
Everything runs in the caller's unit of work (nothing here commits); the SQL and
its concurrency are in :mod:`search_service.gigs.interactions`. Times are epoch ms.
"""

from __future__ import annotations

from sqlmodel import Session

from models import (
    CandidateDecision,
    GigActionList,
    GigActionView,
    Interaction,
    InteractionView,
    StudentAction,
    User,
    now_ms,
)
from search_service.callers import GigManager
from search_service.errors import NotFoundError
from search_service.gigs.interactions import (
    clear_action,
    clear_decision,
    count_student_actions,
    decidable_student,
    get_interaction,
    set_action,
    set_decision,
    student_actions,
)
from search_service.gigs.repository import get_gig
from search_service.gigs.service import gig_views, owned_gig, readable_gig
from search_service.users.repository import get_users

__all__ = [
    "act_on_gig",
    "clear_candidate_decision",
    "decide_on_candidate",
    "interaction_view",
    "list_gig_actions",
    "withdraw_from_gig",
]


def interaction_view(row: Interaction) -> InteractionView:
    """The pair as the gig's owner sees it: the decision, and the student's action
    only when it is an application (``updatedAt``: the latest time shown)."""
    applied = row.action == StudentAction.APPLIED.value
    acted_at = row.acted_at if applied else None
    shown = [t for t in (row.decided_at, acted_at) if t is not None]
    return InteractionView(
        gig_id=row.gig_id,
        user_id=row.user_id,
        decision=CandidateDecision(row.decision) if row.decision else None,
        decided_at=row.decided_at,
        action=StudentAction.APPLIED if applied else None,
        acted_at=acted_at,
        updated_at=max(shown, default=None),
    )


def _require_candidate(session: Session, gig_id: int, user_id: int) -> None:
    """404 unless ``user_id`` is a searchable student with a profile whom the gig
    has shown its owner or who applied to it. Every failing case answers alike,
    so a decision cannot tell which user ids are students."""
    if decidable_student(session, gig_id, user_id) is None:
        raise NotFoundError("no such candidate for this gig")


def decide_on_candidate(
    session: Session,
    manager: GigManager,
    gig_id: int,
    user_id: int,
    decision: CandidateDecision,
    *,
    now: int | None = None,
) -> InteractionView:
    """Shortlist or reject student ``user_id`` for the caller's gig ``gig_id``.

    Setting the decision the pair already holds changes nothing (``decidedAt``
    stays).

    Raises:
        NotFoundError: no such gig (or not the caller's to see), or ``user_id``
            is not a searchable student with a profile whom the gig has shown
            the owner or who applied to it (404, the same for every case).
        PermissionDeniedError: someone else's servable gig (403).
    """
    gig = owned_gig(session, manager, gig_id)
    assert gig.id is not None
    _require_candidate(session, gig.id, user_id)
    ts = now if now is not None else now_ms()
    set_decision(session, gig.id, user_id, decision, now=ts)
    row = get_interaction(session, gig.id, user_id)
    assert row is not None
    return interaction_view(row)


def clear_candidate_decision(
    session: Session,
    manager: GigManager,
    gig_id: int,
    user_id: int,
    *,
    now: int | None = None,
) -> None:
    """Clear the caller's decision on student ``user_id`` for gig ``gig_id`` (the
    row stays, its decision NULL); a no-op when there is none.

    Raises:
        NotFoundError: as :func:`decide_on_candidate` (404).
        PermissionDeniedError: someone else's servable gig (403).
    """
    gig = owned_gig(session, manager, gig_id)
    assert gig.id is not None
    _require_candidate(session, gig.id, user_id)
    clear_decision(session, gig.id, user_id, now=now if now is not None else now_ms())


def act_on_gig(
    session: Session,
    student: User,
    gig_id: int,
    action: StudentAction,
    *,
    now: int | None = None,
) -> GigActionView:
    """Apply to (``applied``) or dismiss (``dismissed``) gig ``gig_id`` as
    ``student``, replacing the other action. Repeating the current action
    changes nothing (``actedAt`` stays).

    Raises:
        NotFoundError: the gig is not one students can see (unknown, deleted,
            draft, closed, filled, past its deadline, its owner gone) (404).
    """
    assert student.id is not None
    gig = readable_gig(session, None, gig_id)  # as any student sees it
    assert gig.id is not None
    set_action(session, gig.id, student.id, action, now=now if now is not None else now_ms())
    row = get_interaction(session, gig.id, student.id)
    assert row is not None and row.acted_at is not None
    return GigActionView(
        gig_id=gig.id, action=action, acted_at=row.acted_at, gig=gig_views(session, [gig])[0]
    )


def withdraw_from_gig(
    session: Session,
    student: User,
    gig_id: int,
    action: StudentAction,
    *,
    now: int | None = None,
) -> None:
    """Withdraw ``student``'s ``action`` on gig ``gig_id`` (an application, or a
    dismissal): the row stays, its action NULL. A no-op when that action is not
    the current one. A gig that students can no longer see (closed, filled,
    expired) can still be withdrawn from while the action is set.

    Raises:
        NotFoundError: the gig is deleted or unknown, or students cannot see it
            and the action is not set (404: a draft's existence is not revealed).
    """
    assert student.id is not None
    gig = get_gig(session, gig_id)
    if gig is None or gig.id is None:
        raise NotFoundError("no such gig")
    if clear_action(session, gig.id, student.id, action, now=now if now is not None else now_ms()):
        return
    readable_gig(session, None, gig_id)  # nothing was set: 404 unless servable


def list_gig_actions(
    session: Session,
    student: User,
    *,
    action: StudentAction | None = None,
    limit: int = 20,
    offset: int = 0,
) -> GigActionList:
    """``student``'s applications and dismissals (or ``action`` only) on gigs that
    are not deleted, newest first, each with the gig while students can see it.

    Args:
        limit: page size; offset: rows to skip (``nextOffset`` of the previous page).
    """
    assert student.id is not None
    rows = student_actions(session, student.id, action=action, limit=limit, offset=offset)
    total = count_student_actions(session, student.id, action=action)
    ts = now_ms()
    owners = get_users(session, sorted({gig.owner_id for _, gig in rows}))
    live = [gig for _, gig in rows if gig.is_live(ts) and gig.owner_id in owners]
    views = {v.id: v for v in gig_views(session, live)}
    results = [
        GigActionView(
            gig_id=row.gig_id,
            action=StudentAction(row.action),
            acted_at=row.acted_at or row.updated_at,
            gig=views.get(row.gig_id),
        )
        for row, _ in rows
        if row.action
    ]
    nxt = offset + len(rows) if offset + len(rows) < total else None
    return GigActionList(results=results, total=total, next_offset=nxt)
