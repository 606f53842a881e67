"""SQL of gigs: lookups, the owner's listing and the version claim of a write."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, update
from sqlmodel import Session, col, func, select

from models import Gig, Interaction, StudentAction, User
from search_service.db import id_list_param, in_id_list, json_rows, json_rows_value
from search_service.index.entity import GIG_ROWS, PROFILE_ROWS
from search_service.outbox import no_pending_removal

__all__ = [
    "GigSubject",
    "claim_gig_version",
    "count_owner_gigs",
    "get_gig",
    "gig_by_external_id",
    "gigs_by_external_ids",
    "load_gig_subject",
    "gigs_of_searchable_owners",
    "load_gigs_with_owners",
    "owner_gigs",
    "owner_names",
    "users_by_clerk_ids",
]


def get_gig(session: Session, gig_id: int) -> Gig | None:
    """The gig, unless unknown or soft-deleted."""
    gig = session.get(Gig, gig_id)
    return gig if gig is not None and gig.deleted_at is None else None


def gig_by_external_id(session: Session, external_id: str) -> Gig | None:
    """The gig imported under ``external_id`` (deleted ones included: an import
    never resurrects a gig its owner deleted)."""
    return session.exec(select(Gig).where(Gig.external_id == external_id)).first()


def gigs_by_external_ids(session: Session, external_ids: Sequence[str]) -> dict[str, Gig]:
    """The gigs imported under ``external_ids`` (deleted ones included), by external id."""
    if not external_ids:
        return {}
    rows = session.exec(select(Gig).where(col(Gig.external_id).in_(list(external_ids))))
    return {g.external_id: g for g in rows if g.external_id is not None}


def users_by_clerk_ids(session: Session, clerk_ids: Sequence[str]) -> dict[str, User]:
    """The users holding ``clerk_ids`` (soft-deleted ones included), by clerk id: the
    owners an import finds again."""
    if not clerk_ids:
        return {}
    rows = session.exec(select(User).where(col(User.clerk_id).in_(list(clerk_ids))))
    return {u.clerk_id: u for u in rows}


@dataclass(frozen=True, slots=True)
class GigSubject:
    """A gig as the subject of a ranked list (its candidates, applicants, gigs like
    it), read in one statement (:func:`load_gig_subject`).

    Attributes:
        gig: the gig (not soft-deleted).
        owner: its owner.
        interactions: student id -> the pair's interaction on the gig (as
            :func:`search_service.gigs.interactions.interactions_for_gig`);
            ``None`` unless asked for.
        dismissed: gigs the viewer asked about dismissed; ``None`` unless asked for.
    """

    gig: Gig
    owner: User
    interactions: dict[int, Interaction] | None = None
    dismissed: frozenset[int] | None = None


@lru_cache(maxsize=16)
def _gig_subject_statement(dialect: str, interactions: bool, dismissed: bool) -> Any:
    """The statement of :func:`load_gig_subject`, built once per dialect and shape,
    with the bind parameters ``gig_id`` and (``dismissed``) ``dismissed_by``."""
    extra: list[Any] = []
    if interactions:
        extra.append(json_rows(dialect, Interaction, col(Interaction.gig_id) == col(Gig.id)))
    if dismissed:
        extra.append(
            json_rows(
                dialect,
                Interaction,
                col(Interaction.user_id) == bindparam("dismissed_by"),
                col(Interaction.action) == StudentAction.DISMISSED.value,
                columns=("gig_id",),
            )
        )
    return (
        select(Gig, User, *extra)
        .join(User, col(User.id) == col(Gig.owner_id))
        .where(col(Gig.id) == bindparam("gig_id"), col(Gig.deleted_at).is_(None))
    )


def load_gig_subject(
    session: Session, gig_id: int, *, interactions: bool = False, dismissed_by: int | None = None
) -> GigSubject | None:
    """Gig ``gig_id`` with its owner in one statement, and, in the same statement,
    with ``interactions`` every student's interaction on it and with
    ``dismissed_by`` the ids of the gigs that student dismissed (JSON aggregates:
    :func:`search_service.db.json_rows`); ``None`` when unknown or soft-deleted."""
    stmt = _gig_subject_statement(
        session.get_bind().dialect.name, interactions, dismissed_by is not None
    )
    params: dict[str, Any] = {"gig_id": gig_id}
    if dismissed_by is not None:
        params["dismissed_by"] = dismissed_by
    row = session.exec(stmt, params=params).first()
    if row is None:
        return None
    gig, owner, *aggregates = row
    pairs: dict[int, Interaction] | None = None
    if interactions:
        pairs = {}
        for item in json_rows_value(aggregates.pop(0)):
            pair = Interaction.model_construct(**item)
            pairs[pair.user_id] = pair
    dismissed = None
    if dismissed_by is not None:
        dismissed = frozenset(int(r["gig_id"]) for r in json_rows_value(aggregates.pop(0)))
    return GigSubject(gig, owner, pairs, dismissed)


def load_gigs_with_owners(session: Session, ids: Sequence[int]) -> dict[int, tuple[Gig, User]]:
    """Gigs ``ids`` (deleted ones included) with their owners; unknown ids are left out."""
    if not ids:
        return {}
    stmt = (
        select(Gig, User).join(User, col(User.id) == col(Gig.owner_id)).where(col(Gig.id).in_(ids))
    )
    rows = session.exec(stmt).all()
    return {gig.id: (gig, user) for gig, user in rows if gig.id is not None}


def gigs_of_searchable_owners(session: Session, ids: Sequence[int]) -> dict[int, tuple[Gig, str]]:
    """Gigs ``ids`` (any status) whose owner is searchable (not soft-deleted, not
    suspended) and whose point has no pending removal
    (:func:`search_service.outbox.no_pending_removal`), each with its owner's name
    (searchable by the users' rule, ``PROFILE_ROWS.searchable``):
    the SQL half of the serving check, one statement. Only the gig is an ORM
    entity: a whole ``User`` (its JSON columns decoded) cost more than the gig."""
    if not ids:
        return {}
    dialect = session.get_bind().dialect.name
    rows = session.exec(_owned_gigs_statement(dialect), params={"ids": id_list_param(dialect, ids)})
    return {gig.id: (gig, name) for gig, name in rows if gig.id is not None}


@lru_cache(maxsize=4)
def _owned_gigs_statement(dialect: str) -> Any:
    """The statement of :func:`gigs_of_searchable_owners`, built once per dialect,
    the ids one list parameter ``ids`` (:func:`search_service.db.in_id_list`)."""
    return (
        select(Gig, User.name)
        .join(User, col(User.id) == col(Gig.owner_id))
        .where(
            in_id_list(dialect, col(Gig.id), "ids"),
            *PROFILE_ROWS.searchable(),  # the owner's account: the users rule
            no_pending_removal(GIG_ROWS.name, col(Gig.id)),
        )
    )


def owner_names(session: Session, owner_ids: Sequence[int]) -> dict[int, str]:
    """Display names (the company, for an employer) of users ``owner_ids``."""
    if not owner_ids:
        return {}
    rows = session.exec(select(User.id, User.name).where(col(User.id).in_(list(owner_ids))))
    return {uid: name for uid, name in rows if uid is not None}


def owner_gigs(
    session: Session, owner_id: int, *, status: str | None, limit: int, offset: int
) -> Sequence[Gig]:
    """The owner's gigs (not deleted), newest first."""
    stmt = select(Gig).where(Gig.owner_id == owner_id, col(Gig.deleted_at).is_(None))
    if status is not None:
        stmt = stmt.where(Gig.status == status)
    return session.exec(
        stmt.order_by(col(Gig.created_at).desc(), col(Gig.id).desc()).limit(limit).offset(offset)
    ).all()


def count_owner_gigs(session: Session, owner_id: int, *, status: str | None) -> int:
    """How many gigs :func:`owner_gigs` pages through."""
    stmt = (
        select(func.count())
        .select_from(Gig)
        .where(Gig.owner_id == owner_id, col(Gig.deleted_at).is_(None))
    )
    if status is not None:
        stmt = stmt.where(Gig.status == status)
    return int(session.exec(stmt).one())


def claim_gig_version(session: Session, gig_id: int, expected: int | None) -> int | None:
    """Move the gig to its next version, as the transaction's first write (it takes
    the row lock on PostgreSQL, the write lock on SQLite).

    Args:
        expected: the version the write is based on; ``None``: whatever is current.

    Returns:
        The new version, or ``None`` when the gig is gone or ``expected`` is stale.
    """
    stmt = update(Gig).where(col(Gig.id) == gig_id, col(Gig.deleted_at).is_(None))
    if expected is not None:
        stmt = stmt.where(col(Gig.version) == expected)
    result = session.execute(stmt.values(version=col(Gig.version) + 1))
    if not result.rowcount:  # type: ignore[attr-defined]
        return None
    gig = session.get(Gig, gig_id, populate_existing=True)
    return gig.version if gig is not None else None
