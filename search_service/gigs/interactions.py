"""SQL of interactions: one row per (gig, student) pair holding the owner's decision
(``shortlisted``/``rejected``) and the student's action (``applied``/``dismissed``),
each a soft state with the time it was set (epoch ms).

Rows are never deleted: clearing a state sets it (and its time) to NULL, so a
pair keeps its history of having existed (and a deleted gig keeps its rows).

Writes are upserts of the pair, safe under concurrent writers on SQLite and
PostgreSQL (:func:`_upsert`):

1. a conditional ``UPDATE`` of the pair's row, changing only the columns of one
   side (decision or action) and only when they differ, so an owner's decision
   and a student's action written at the same time never overwrite each other;
2. when it matched nothing but a row exists, the ``UPDATE`` again: under
   PostgreSQL's READ COMMITTED each statement sees the rows committed before it
   started, so a row another transaction inserted and committed between the
   ``UPDATE`` and this check was invisible to the first ``UPDATE``; returning
   there would drop this side's values. The second ``UPDATE`` sees that row (and
   matches nothing only if it already holds the values);
3. when it matched nothing and no row exists, an ``INSERT`` inside a SAVEPOINT
   (``session.begin_nested()``); if a concurrent transaction inserted the pair
   first, the unique constraint ``uq_interactions_pair`` fails the insert (on
   PostgreSQL after waiting for that transaction to commit), the SAVEPOINT is
   rolled back, which keeps the caller's transaction usable (PostgreSQL aborts a
   whole transaction on an error outside one), and step 1 runs again on the row
   that now exists.

On SQLite the ``UPDATE`` of step 1 also matters for atomicity: pysqlite opens a
transaction only before DML, and a SAVEPOINT issued outside a transaction opens
one of its own that its ``RELEASE`` commits. Issued after the ``UPDATE``, the
SAVEPOINT nests inside the unit of work, which commits or rolls back as a whole.
SQLite has one writer at a time, so there the ``UPDATE`` also takes the write
lock and no other transaction can insert the pair before this one commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, exists, func, insert, or_, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from models import CandidateDecision, CandidateExposure, Gig, Interaction, StudentAction, User
from search_service.index.entity import PROFILE_ROWS

__all__ = [
    "applicant_ids",
    "clear_action",
    "clear_decision",
    "count_student_actions",
    "decidable_student",
    "decisions_for_gig",
    "dismissed_gig_ids",
    "get_interaction",
    "interactions_for_gig",
    "set_action",
    "set_decision",
    "record_exposures",
    "student_actions",
]


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


def applicant_ids(pairs: Mapping[int, Interaction]) -> list[int]:
    """Students who applied (and have not withdrawn) among a gig's interactions
    (:func:`interactions_for_gig`), first applied first (ties by row id)."""
    applied = [p for p in pairs.values() if p.action == StudentAction.APPLIED.value]
    return [p.user_id for p in sorted(applied, key=lambda p: (p.acted_at or 0, p.id or 0))]


def dismissed_gig_ids(session: Session, user_id: int) -> set[int]:
    """Gigs the student dismissed (they never come back in their recommendations)."""
    stmt = select(Interaction.gig_id).where(
        Interaction.user_id == user_id, Interaction.action == StudentAction.DISMISSED.value
    )
    return set(session.exec(stmt))


def get_interaction(session: Session, gig_id: int, user_id: int) -> Interaction | None:
    """The pair's row as the database holds it now (re-read, not the session's copy)."""
    stmt = (
        select(Interaction)
        .where(Interaction.gig_id == gig_id, Interaction.user_id == user_id)
        .execution_options(populate_existing=True)
    )
    return session.exec(stmt).first()


def decidable_student(session: Session, gig_id: int, user_id: int) -> User | None:
    """The user the owner of ``gig_id`` may decide on: one with a profile who is
    searchable (not soft-deleted, not suspended) and whom the gig's candidates or
    applicants list has shown (:func:`record_exposures`) or who applied to it;
    ``None`` otherwise, whichever condition fails (one statement)."""
    shown = exists().where(
        col(CandidateExposure.gig_id) == gig_id, col(CandidateExposure.user_id) == user_id
    )
    applied = exists().where(
        *_pair(gig_id, user_id), col(Interaction.action) == StudentAction.APPLIED.value
    )
    stmt = select(User).where(
        col(User.id) == user_id, *PROFILE_ROWS.indexable(), or_(shown, applied)
    )
    return session.exec(stmt).first()


@lru_cache(maxsize=4)
def _exposure_insert(dialect: str) -> Any:
    """``INSERT INTO candidate_exposures ... ON CONFLICT DO NOTHING`` for ``dialect``."""
    build = postgresql_insert if dialect == "postgresql" else sqlite_insert
    return build(CandidateExposure.__table__).on_conflict_do_nothing()  # type: ignore[attr-defined]


def record_exposures(session: Session, gig_id: int, user_ids: Sequence[int], *, now: int) -> None:
    """Record that ``gig_id``'s owner was shown ``user_ids`` (first time kept): one
    ``INSERT ... ON CONFLICT DO NOTHING`` (SQLite 3.24+ and PostgreSQL), so
    concurrent pages showing the same student never conflict.

    Args:
        now: when they were shown (epoch ms).
    """
    if not user_ids:
        return
    rows = [{"gig_id": gig_id, "user_id": uid, "first_shown_at": now} for uid in user_ids]
    # The rows as parameters of one Core statement on the session's connection
    # (SQLAlchemy sends them as one multi-row INSERT, "insertmanyvalues"), built
    # once per dialect: no ORM bulk-persistence layer, and a cached compiled form.
    session.connection().execute(_exposure_insert(session.get_bind().dialect.name), rows)


def _pair(gig_id: int, user_id: int) -> tuple[ColumnElement[bool], ...]:
    return (col(Interaction.gig_id) == gig_id, col(Interaction.user_id) == user_id)


def _update(
    session: Session,
    gig_id: int,
    user_id: int,
    values: dict[str, Any],
    when: ColumnElement[bool],
    now: int,
) -> bool:
    """``UPDATE`` the pair's row with ``values`` where ``when`` holds; True if it did."""
    stmt = (
        update(Interaction)
        .where(*_pair(gig_id, user_id), when)
        .values(**values, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def _upsert(
    session: Session,
    gig_id: int,
    user_id: int,
    values: dict[str, Any],
    differs: ColumnElement[bool],
    now: int,
) -> bool:
    """Give the pair's row ``values``, inserting the row when there is none
    (the protocol in the module docstring).

    Args:
        values: column -> value, all of one side (decision or action).
        differs: SQL true when the row does not hold ``values`` yet.
        now: the write time (epoch ms) for ``created_at``/``updated_at``.

    Returns:
        True when something changed (a row inserted or updated).
    """
    if _update(session, gig_id, user_id, values, differs, now):
        return True
    exists = select(Interaction.id).where(*_pair(gig_id, user_id))
    if session.exec(exists).first() is not None:
        # Either the row holds the values already, or a concurrent writer committed
        # it after our UPDATE took its snapshot: update again, which sees it.
        return _update(session, gig_id, user_id, values, differs, now)
    try:
        with session.begin_nested():
            session.execute(
                insert(Interaction).values(
                    gig_id=gig_id, user_id=user_id, created_at=now, updated_at=now, **values
                )
            )
        return True
    except IntegrityError:
        # A concurrent writer inserted the pair after our UPDATE: update its row.
        return _update(session, gig_id, user_id, values, differs, now)


def set_decision(
    session: Session, gig_id: int, user_id: int, decision: CandidateDecision, *, now: int
) -> bool:
    """Set the owner's decision on the pair; ``decided_at`` moves only when the
    decision changes (setting the same one again changes nothing).

    Returns:
        True when the row changed (or was created).
    """
    column = col(Interaction.decision)
    return _upsert(
        session,
        gig_id,
        user_id,
        {"decision": decision.value, "decided_at": now},
        or_(column.is_(None), column != decision.value),
        now,
    )


def clear_decision(session: Session, gig_id: int, user_id: int, *, now: int) -> bool:
    """Clear the owner's decision (``decision`` and ``decided_at`` to NULL; the row
    stays). Returns False when there was none."""
    return _update(
        session,
        gig_id,
        user_id,
        {"decision": None, "decided_at": None},
        col(Interaction.decision).is_not(None),
        now,
    )


def set_action(
    session: Session, gig_id: int, user_id: int, action: StudentAction, *, now: int
) -> bool:
    """Set the student's action on the pair (it replaces the other action: applying
    replaces a dismissal and the other way round); ``acted_at`` moves only when
    the action changes.

    Returns:
        True when the row changed (or was created).
    """
    column = col(Interaction.action)
    return _upsert(
        session,
        gig_id,
        user_id,
        {"action": action.value, "acted_at": now},
        or_(column.is_(None), column != action.value),
        now,
    )


def clear_action(
    session: Session, gig_id: int, user_id: int, action: StudentAction, *, now: int
) -> bool:
    """Clear the student's action if it is ``action`` (withdrawing an application
    never clears a dismissal made since). Returns False when it was not set."""
    return _update(
        session,
        gig_id,
        user_id,
        {"action": None, "acted_at": None},
        col(Interaction.action) == action.value,
        now,
    )


def _student_actions_where(
    user_id: int, action: StudentAction | None
) -> tuple[ColumnElement[bool], ...]:
    kinds = [action.value] if action else [a.value for a in StudentAction]
    return (
        col(Interaction.user_id) == user_id,
        col(Interaction.action).in_(kinds),
        col(Gig.deleted_at).is_(None),
    )


def student_actions(
    session: Session,
    user_id: int,
    *,
    action: StudentAction | None,
    limit: int,
    offset: int,
) -> Sequence[tuple[Interaction, Gig]]:
    """The student's actions (``action`` only, or both kinds) on gigs that are not
    deleted, with their gigs, newest action first."""
    stmt = (
        select(Interaction, Gig)
        .join(Gig, col(Gig.id) == col(Interaction.gig_id))
        .where(*_student_actions_where(user_id, action))
        .order_by(col(Interaction.acted_at).desc(), col(Interaction.id).desc())
        .limit(limit)
        .offset(offset)
    )
    return session.exec(stmt).all()


def count_student_actions(session: Session, user_id: int, *, action: StudentAction | None) -> int:
    """How many rows :func:`student_actions` pages through."""
    stmt = (
        select(func.count())
        .select_from(Interaction)
        .join(Gig, col(Gig.id) == col(Interaction.gig_id))
        .where(*_student_actions_where(user_id, action))
    )
    return int(session.exec(stmt).one())
