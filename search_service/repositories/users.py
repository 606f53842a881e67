"""SQL for users and their profile rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, func, or_, update
from sqlmodel import Session, SQLModel, col, select

from indexers import ProfileRows, normalise_keyword
from models import (
    Education,
    Language,
    Profile,
    ProfileDraft,
    Project,
    Skill,
    User,
    UserDraft,
    UserStatus,
    WorkExperience,
    now_ms,
)

__all__ = [
    "active_user_ids",
    "count_users",
    "find_user_by_clerk_id",
    "get_users",
    "load_profile_rows",
    "mark_indexed",
    "stale_user_ids",
    "upsert_user_profile",
]

_SECTION_TABLES: tuple[type[SQLModel], ...] = (Education, WorkExperience, Project, Language, Skill)
T = TypeVar("T", bound=SQLModel)


def _compose_name(first: str | None, last: str | None, username: str | None) -> str:
    name = " ".join(p for p in (first, last) if p)
    return name or username or ""


def upsert_user_profile(
    session: Session, user_in: UserDraft, profile_in: ProfileDraft, *, now: int | None = None
) -> tuple[User, str]:
    """Create or replace a user (by ``clerk_id``) with their whole profile.

    Sections are replaced wholesale. ``updated_at`` is bumped only when something
    changed, so re-importing identical data leaves the index fresh.

    Returns:
        ``(user, outcome)`` with outcome ``"created"``, ``"updated"`` or ``"unchanged"``.
    """
    ts = now if now is not None else now_ms()
    user = session.exec(select(User).where(User.clerk_id == user_in.clerk_id)).first()
    fields: dict[str, Any] = {
        "email": user_in.email,
        "first_name": user_in.first_name,
        "last_name": user_in.last_name,
        "username": user_in.username,
        "image_url": user_in.image_url,
        "external_id": user_in.external_id,
        "roles": list(user_in.roles),
        "tags": list(user_in.tags),
        "name": _compose_name(user_in.first_name, user_in.last_name, user_in.username),
    }
    created = user is None
    if user is None:
        user = User(
            clerk_id=user_in.clerk_id,
            created_by=user_in.created_by,
            created_at=ts,
            updated_at=ts,
            **fields,
        )
        session.add(user)
        session.flush()
    assert user.id is not None
    changed = created or any(getattr(user, k) != v for k, v in fields.items())
    for key, value in fields.items():
        setattr(user, key, value)

    profile = session.get(Profile, user.id)
    visibility = {k: v.value for k, v in profile_in.visibility.items()}
    profile_fields: dict[str, Any] = {
        "headline": profile_in.headline,
        "bio": profile_in.bio,
        "location": profile_in.location,
        "availability": profile_in.availability.value if profile_in.availability else None,
    }
    if profile is None:
        profile = Profile(user_id=user.id, created_at=ts, updated_at=ts, **profile_fields)
        if visibility:
            profile.visibility = {**profile.visibility, **visibility}
        session.add(profile)
        changed = True
    else:
        new_vis = {**profile.visibility, **visibility}
        if any(getattr(profile, k) != v for k, v in profile_fields.items()) or (
            new_vis != profile.visibility
        ):
            changed = True
        for key, value in profile_fields.items():
            setattr(profile, key, value)
        profile.visibility = new_vis

    new_rows = _section_rows(user.id, profile_in)
    old_rows = load_profile_rows(session, [user.id]).get(user.id)
    if old_rows is None or _signature(_section_rows_of(old_rows)) != _signature(new_rows):
        changed = True
        for table in _SECTION_TABLES:
            for row in session.exec(select(table).where(col(table.user_id) == user.id)):  # type: ignore[attr-defined]
                session.delete(row)
        session.flush()
        session.add_all(new_rows)
    if changed:
        user.updated_at = max(ts, user.updated_at + 1) if not created else ts
        profile.updated_at = user.updated_at
    session.flush()
    return user, "created" if created else "updated" if changed else "unchanged"


def _section_rows(user_id: int, p: ProfileDraft) -> list[SQLModel]:
    rows: list[SQLModel] = []
    rows += [
        Education(user_id=user_id, position=i, **e.model_dump()) for i, e in enumerate(p.education)
    ]
    rows += [
        WorkExperience(user_id=user_id, position=i, **w.model_dump())
        for i, w in enumerate(p.work_experience)
    ]
    rows += [
        Project(
            user_id=user_id,
            position=i,
            **{**pr.model_dump(), "skills": [normalise_keyword(s) for s in pr.skills]},
        )
        for i, pr in enumerate(p.projects)
    ]
    rows += [
        Language(user_id=user_id, position=i, **lang.model_dump())
        for i, lang in enumerate(p.languages)
    ]
    seen: set[str] = set()
    skills: list[Skill] = []
    for s in p.skills:
        name = normalise_keyword(s.name)
        if name and name not in seen:
            seen.add(name)
            skills.append(
                Skill(
                    user_id=user_id, position=len(skills), name=name, level=s.level, years=s.years
                )
            )
    return rows + list(skills)


_IGNORED = {"id", "user_id"}


def _row_key(row: SQLModel) -> tuple[str, tuple[tuple[str, Any], ...]]:
    data = row.model_dump(exclude=_IGNORED)
    return type(row).__name__, tuple(sorted((k, repr(v)) for k, v in data.items()))


def _signature(rows: Sequence[SQLModel]) -> list[tuple[str, tuple[tuple[str, Any], ...]]]:
    return sorted(_row_key(r) for r in rows)


def _section_rows_of(rows: ProfileRows) -> list[SQLModel]:
    return [*rows.education, *rows.work_experience, *rows.projects, *rows.languages, *rows.skills]


def _by_user(session: Session, table: type[T], ids: Sequence[int]) -> dict[int, list[T]]:
    out: dict[int, list[T]] = {}
    stmt = select(table).where(col(table.user_id).in_(ids)).order_by(col(table.position))  # type: ignore[attr-defined]
    for row in session.exec(stmt):
        out.setdefault(row.user_id, []).append(row)  # type: ignore[attr-defined]
    return out


def load_profile_rows(session: Session, ids: Sequence[int]) -> dict[int, ProfileRows]:
    """Users (any state) with profile and sections, keyed by user id; missing ids are absent."""
    if not ids:
        return {}
    users = session.exec(select(User).where(col(User.id).in_(ids))).all()
    profiles = {
        p.user_id: p for p in session.exec(select(Profile).where(col(Profile.user_id).in_(ids)))
    }
    edu = _by_user(session, Education, ids)
    work = _by_user(session, WorkExperience, ids)
    proj = _by_user(session, Project, ids)
    lang = _by_user(session, Language, ids)
    skills = _by_user(session, Skill, ids)
    out: dict[int, ProfileRows] = {}
    for u in users:
        assert u.id is not None
        out[u.id] = ProfileRows(
            user=u,
            profile=profiles.get(u.id),
            education=edu.get(u.id, []),
            work_experience=work.get(u.id, []),
            projects=proj.get(u.id, []),
            languages=lang.get(u.id, []),
            skills=skills.get(u.id, []),
        )
    return out


def find_user_by_clerk_id(
    session: Session, clerk_id: str, *, include_deleted: bool = False
) -> User | None:
    """The user with ``clerk_id``; soft-deleted users only when ``include_deleted``."""
    stmt = select(User).where(User.clerk_id == clerk_id)
    if not include_deleted:
        stmt = stmt.where(col(User.deleted_at).is_(None))
    return session.exec(stmt).first()


def get_users(session: Session, ids: Sequence[int]) -> dict[int, User]:
    """Searchable users among ``ids`` (not soft-deleted, not suspended), by id."""
    if not ids:
        return {}
    stmt = select(User).where(
        col(User.id).in_(ids),
        col(User.deleted_at).is_(None),
        col(User.status) != UserStatus.SUSPENDED.value,
    )
    return {u.id: u for u in session.exec(stmt) if u.id is not None}


def _indexable() -> tuple[ColumnElement[bool], ...]:
    return (
        col(User.deleted_at).is_(None),
        col(User.status) != UserStatus.SUSPENDED.value,
        col(User.id).in_(select(Profile.user_id)),
    )


def active_user_ids(session: Session) -> list[int]:
    """Ids of every user that belongs in the index (has a profile, not deleted/suspended)."""
    return [
        i for i in session.exec(select(User.id).where(*_indexable()).order_by(col(User.id))) if i
    ]


def stale_user_ids(session: Session, *, limit: int) -> list[int]:
    """Indexable users whose ``embedding_updated_at`` is NULL or older than ``updated_at``."""
    stmt = (
        select(User.id)
        .where(
            *_indexable(),
            or_(
                col(User.embedding_updated_at).is_(None),
                col(User.embedding_updated_at) < col(User.updated_at),
            ),
        )
        .order_by(col(User.updated_at))
        .limit(limit)
    )
    return [i for i in session.exec(stmt) if i is not None]


def mark_indexed(session: Session, versions: dict[int, int]) -> int:
    """Set ``embedding_updated_at`` to the indexed ``updated_at``, compare-and-set.

    A row whose ``updated_at`` moved on while it was being embedded keeps its old
    ``embedding_updated_at``, so the next refresh picks the newer edit up.

    Args:
        versions: user id -> the ``updated_at`` (epoch ms) that was indexed.

    Returns:
        Rows updated.
    """
    done = 0
    for user_id, version in versions.items():
        result = session.execute(
            update(User)
            .where(col(User.id) == user_id, col(User.updated_at) == version)
            .values(embedding_updated_at=version)
        )
        done += result.rowcount or 0  # type: ignore[attr-defined]
    return done


def count_users(session: Session) -> int:
    """Number of users that are not soft-deleted."""
    return int(
        session.exec(
            select(func.count()).select_from(User).where(col(User.deleted_at).is_(None))
        ).one()
    )
