"""SQL for users: lookups, soft deletion, tombstones."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from models import OutboxTopic, Profile, Skill, User, UserTombstone, now_ms
from search_service.db import id_list_param, in_id_list
from search_service.index.entity import PROFILE_ROWS
from search_service.outbox import append_event, no_pending_removal

__all__ = [
    "ProfileCard",
    "count_users",
    "erased_clerk_ids",
    "existing_clerk_ids",
    "find_user_by_clerk_id",
    "get_users",
    "searchable_privacy_floors",
    "searchable_profile_cards",
    "soft_delete_user",
]


def find_user_by_clerk_id(
    session: Session, clerk_id: str, *, include_deleted: bool = False
) -> User | None:
    """The user with ``clerk_id``; soft-deleted users only when ``include_deleted``."""
    stmt = select(User).where(User.clerk_id == clerk_id)
    if not include_deleted:
        stmt = stmt.where(col(User.deleted_at).is_(None))
    return session.exec(stmt).first()


def _servable() -> tuple[Any, ...]:
    """SQL conditions on ``users`` of a profile point that may be served: the user is
    searchable (:data:`PROFILE_ROWS`) and no removal of their point is pending
    (:func:`search_service.outbox.no_pending_removal`)."""
    return (*PROFILE_ROWS.searchable(), no_pending_removal(PROFILE_ROWS.name, col(User.id)))


def get_users(session: Session, ids: Sequence[int], *, servable: bool = False) -> dict[int, User]:
    """Searchable users among ``ids`` (not soft-deleted, not suspended), by id; with
    ``servable``, only those whose point has no pending removal
    (:func:`search_service.outbox.no_pending_removal`)."""
    if not ids:
        return {}
    rule = _servable() if servable else PROFILE_ROWS.searchable()
    stmt = select(User).where(col(User.id).in_(ids), *rule)
    return {u.id: u for u in session.exec(stmt) if u.id is not None}


def searchable_privacy_floors(session: Session, ids: Sequence[int]) -> dict[int, int | None]:
    """``users.privacy_floor`` (epoch ms, or None) of the searchable users among
    ``ids`` (not soft-deleted, not suspended) whose point has no pending removal
    (:func:`search_service.outbox.no_pending_removal`): two columns, for checks
    over many users at once."""
    if not ids:
        return {}
    stmt = select(User.id, User.privacy_floor).where(
        col(User.id).in_(ids),
        *_servable(),
    )
    return {uid: floor for uid, floor in session.exec(stmt) if uid is not None}


@dataclass(frozen=True, slots=True)
class ProfileCard:
    """What a search hit shows of a searchable student, with their privacy floor
    (epoch ms or ``None``); ``headline`` ``""`` when the user has no profile row;
    ``skills_visibility`` the visibility of their skills section (``None``: the
    default, or no profile row); ``skills`` their skill names in profile order (those
    :func:`searchable_profile_cards` was asked for; raw, as stored)."""

    user_id: int
    external_id: str | None
    name: str
    first_name: str | None
    last_name: str | None
    username: str | None
    privacy_floor: int | None
    headline: str
    skills_visibility: str | None
    skills: tuple[str, ...] = ()


def _skills_column(dialect: str, below: int | None) -> Any:
    """A correlated subquery: the user's ``[position, name]`` skill pairs as one JSON
    array (SQLite ``json_group_array``, PostgreSQL ``json_agg``; neither orders an
    aggregate on SQLite 3.40, so :func:`_skill_names` sorts by position), only
    positions below ``below`` when given."""
    if dialect == "postgresql":
        pair = func.json_build_array(col(Skill.position), col(Skill.name))
        agg = func.json_agg(pair)
    else:
        pair = func.json_array(col(Skill.position), col(Skill.name))
        agg = func.json_group_array(pair)
    stmt = sa_select(agg).where(col(Skill.user_id) == col(User.id))
    if below is not None:
        stmt = stmt.where(col(Skill.position) < below)
    return stmt.scalar_subquery()


_POSITION = itemgetter(0)


def _skill_names(value: Any) -> tuple[str, ...]:
    """Skill names in position order from :func:`_skills_column`'s JSON (text on
    SQLite, decoded already by psycopg; ``None`` on PostgreSQL for no skills)."""
    pairs = json.loads(value) if isinstance(value, str) else (value or [])
    return tuple(name for _, name in sorted(pairs, key=_POSITION))


@lru_cache(maxsize=16)
def _cards_statement(dialect: str, skills: bool, skills_below: int | None) -> Any:
    """The statement of :func:`searchable_profile_cards`, built once per shape: the
    ids are one list parameter (``ids``, :func:`search_service.db.in_id_list`), so
    each call only binds them (building the expression and its cache key, or
    re-rendering an expanding ``IN`` list, cost more than running it)."""
    columns: list[Any] = [
        col(User.id),
        col(User.external_id),
        col(User.name),
        col(User.first_name),
        col(User.last_name),
        col(User.username),
        col(User.privacy_floor),
        col(Profile.headline),
        # Only the skills section's entry: decoding the whole JSON column per row
        # cost more than the rest of the row.
        col(Profile.visibility)["skills"].as_string(),
    ]
    if skills:
        columns.append(_skills_column(dialect, skills_below))
    # sqlalchemy's select: sqlmodel's typed overloads stop at four columns.
    return (
        sa_select(*columns)
        .outerjoin(Profile, col(Profile.user_id) == col(User.id))
        .where(in_id_list(dialect, col(User.id), "ids"), *_servable())
    )


def searchable_profile_cards(
    session: Session,
    ids: Sequence[int],
    *,
    skills: bool = False,
    skills_below: int | None = None,
) -> dict[int, ProfileCard]:
    """The :class:`ProfileCard` of each searchable user among ``ids`` (not
    soft-deleted, not suspended, no pending removal of their point:
    :func:`search_service.outbox.no_pending_removal`), by id: one query over
    ``users`` left-joined to ``profiles`` reading only the columns a hit shows, no
    ORM entities (loading whole users decoded their JSON columns, portfolio
    snapshot included), run on the session's connection as a Core statement built
    once per shape. With ``skills``, the same statement carries each user's skills
    (positions below ``skills_below`` when given), so hydration is one statement."""
    if not ids:
        return {}
    dialect = session.get_bind().dialect.name
    stmt = _cards_statement(dialect, skills, skills_below)
    out: dict[int, ProfileCard] = {}
    for row in session.connection().execute(stmt, {"ids": id_list_param(dialect, ids)}):
        uid, ext, name, first, last, username, floor, headline, vis = row[:9]
        if uid is None:
            continue
        names = _skill_names(row[9]) if skills else ()
        out[uid] = ProfileCard(
            uid, ext, name, first, last, username, floor, headline or "", vis, names
        )
    return out


def soft_delete_user(session: Session, user: User, *, now: int | None = None) -> bool:
    """Soft-delete ``user`` at once, tombstone their clerk id (so no late Clerk event
    revives them) and append a ``user.deleted`` outbox event.

    Returns:
        False when the user was already deleted (nothing changed).
    """
    if user.id is None:
        raise ValueError("user must be flushed (have an id)")
    if session.get(UserTombstone, user.clerk_id) is None:
        session.add(UserTombstone(clerk_id=user.clerk_id))
    if user.deleted_at is not None:
        session.flush()
        return False
    ts = now if now is not None else now_ms()
    user.deleted_at = ts
    user.updated_at = max(ts, user.updated_at + 1)
    session.add(user)
    append_event(
        session,
        OutboxTopic.USER_DELETED,
        user.id,
        {"userId": user.id, "deletedAt": ts},
        user_version=user.updated_at,
        now=ts,
        entity=PROFILE_ROWS.name,
    )
    session.flush()
    return True


def count_users(session: Session) -> int:
    """Number of users that are not soft-deleted."""
    return int(
        session.exec(
            select(func.count()).select_from(User).where(col(User.deleted_at).is_(None))
        ).one()
    )


def erased_clerk_ids(session: Session, clerk_ids: Collection[str]) -> set[str]:
    """Those of ``clerk_ids`` that must not be (re)created: tombstoned, or held by a
    soft-deleted user. A purged user's ``clerk_id`` is renamed, but every soft
    delete writes a tombstone under the original id, which outlives the purge."""
    if not clerk_ids:
        return set()
    ids = list(clerk_ids)
    tombstoned = session.exec(
        select(UserTombstone.clerk_id).where(col(UserTombstone.clerk_id).in_(ids))
    )
    deleted = session.exec(
        select(User.clerk_id).where(col(User.clerk_id).in_(ids), col(User.deleted_at).is_not(None))
    )
    return {*tombstoned, *deleted}


def existing_clerk_ids(session: Session, clerk_ids: Collection[str]) -> set[str]:
    """Those of ``clerk_ids`` held by a ``users`` row in any state (one query; bulk
    imports use it to tell new users from updates)."""
    if not clerk_ids:
        return set()
    stmt = select(User.clerk_id).where(col(User.clerk_id).in_(list(clerk_ids)))
    return set(session.exec(stmt))
