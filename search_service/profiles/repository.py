"""SQL for profiles: the one-transaction dual write, snapshots and drift checks.

The normalized tables (``profiles`` and one table per section) are the system of
record. ``users.portfolio`` is a read-optimised snapshot of the same profile
(seed 000), and ``profiles.content_hash`` is the sha256 of that snapshot's
canonical JSON. :func:`write_profile` changes all of them, bumps the optimistic
lock ``profiles.version`` and ``users.updated_at``, and appends a
``profile.updated`` outbox event, inside the caller's transaction (seed 004,
"Migration & Dual-Write Strategy", A7 and B2).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import bindparam, insert, update
from sqlmodel import Session, SQLModel, col, select

from indexers import ProfileDocument, ProfileRows, build_document
from indexers.taxonomy import normalise_skill, normalise_skills
from models import (
    SECTIONS,
    STORED,
    Availability,
    Education,
    EducationItem,
    Interaction,
    Language,
    LanguageItem,
    OutboxEvent,
    Profile,
    ProfileDraft,
    ProfileWrite,
    Project,
    ProjectItem,
    Section,
    Skill,
    SkillItem,
    StudentAction,
    User,
    UserDraft,
    Visibility,
    WorkExperience,
    WorkItem,
    now_ms,
)
from search_service.db import json_rows, json_rows_value
from search_service.index.entity import PROFILE_ROWS
from search_service.outbox import append_event
from search_service.profiles.strength import score_profile
from search_service.profiles.visibility import record_document

__all__ = [
    "ProfileWriteResult",
    "VersionConflict",
    "content_hash",
    "insert_user_profiles",
    "ProfileSubject",
    "load_profile_rows",
    "load_profile_subject",
    "profile_ids",
    "profile_write_of",
    "snapshot_of",
    "store_snapshot",
    "upsert_user_profile",
    "write_profile",
]

SECTION_TABLES: tuple[type[SQLModel], ...] = (Education, WorkExperience, Project, Language, Skill)
T = TypeVar("T", bound=SQLModel)


class VersionConflict(Exception):
    """The profile changed since the version the writer read (HTTP 409).

    Attributes:
        current: the version now stored (0 when the user has no profile yet).
    """

    def __init__(self, current: int) -> None:
        super().__init__(f"profile is at version {current}")
        self.current = current


@dataclass(slots=True)
class ProfileWriteResult:
    """Outcome of :func:`write_profile`.

    Attributes:
        profile: the profile row after the write.
        changed: False when the write matched what was stored (nothing bumped,
            no event).
        created: True when the profile row did not exist before.
    """

    profile: Profile
    changed: bool
    created: bool


def _by_user(
    session: Session, table: type[T], ids: Sequence[int], *, reread: bool = False
) -> dict[int, list[T]]:
    out: dict[int, list[T]] = {}
    stmt = select(table).where(col(table.user_id).in_(ids)).order_by(col(table.position))  # type: ignore[attr-defined]
    if reread:
        stmt = stmt.execution_options(populate_existing=True)
    for row in session.exec(stmt):
        out.setdefault(row.user_id, []).append(row)  # type: ignore[attr-defined]
    return out


def load_profile_rows(
    session: Session, ids: Sequence[int], *, reread: bool = False
) -> dict[int, ProfileRows]:
    """Users (any state) with profile and sections, keyed by user id; missing ids are absent.

    With ``reread``, profile and section rows already in the session are
    overwritten with what the database holds now (the caller holds the profile
    lock and must see what concurrent writers committed); user rows are not.
    """
    if not ids:
        return {}
    users = session.exec(select(User).where(col(User.id).in_(ids))).all()
    profile_stmt = select(Profile).where(col(Profile.user_id).in_(ids))
    if reread:
        profile_stmt = profile_stmt.execution_options(populate_existing=True)
    profiles = {p.user_id: p for p in session.exec(profile_stmt)}
    edu = _by_user(session, Education, ids, reread=reread)
    work = _by_user(session, WorkExperience, ids, reread=reread)
    proj = _by_user(session, Project, ids, reread=reread)
    lang = _by_user(session, Language, ids, reread=reread)
    skills = _by_user(session, Skill, ids, reread=reread)
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


@dataclass(frozen=True, slots=True)
class ProfileSubject:
    """A student as the subject of a ranked list (their recommended gigs, students
    like them): everything stored about them and the gigs they dismissed.

    Attributes:
        rows: the user, profile and sections (as :func:`load_profile_rows`).
        dismissed: ids of the gigs they dismissed (empty unless asked for).
    """

    rows: ProfileRows
    dismissed: frozenset[int] = frozenset()


_SECTIONS: tuple[tuple[str, type[SQLModel]], ...] = (
    ("education", Education),
    ("work_experience", WorkExperience),
    ("projects", Project),
    ("languages", Language),
    ("skills", Skill),
)


@lru_cache(maxsize=8)
def _subject_statement(dialect: str, dismissed: bool) -> Any:
    """The statement of :func:`load_profile_subject`, built once per dialect and
    shape with the user's id as the bind parameter ``user_id`` (building its seven
    subqueries on every request cost more than running it)."""
    extra: list[Any] = [
        json_rows(dialect, table, col(table.user_id) == col(User.id))  # type: ignore[attr-defined]
        for _, table in _SECTIONS
    ]
    if dismissed:
        extra.append(
            json_rows(
                dialect,
                Interaction,
                col(Interaction.user_id) == col(User.id),
                col(Interaction.action) == StudentAction.DISMISSED.value,
                columns=("gig_id",),
            )
        )
    return (
        select(User, Profile, *extra)
        .outerjoin(Profile, col(Profile.user_id) == col(User.id))
        .where(col(User.id) == bindparam("user_id"))
    )


def load_profile_subject(
    session: Session, user_id: int, *, dismissed: bool = False
) -> ProfileSubject | None:
    """``user_id`` (any state) with profile and sections, in one statement (the
    sections and, with ``dismissed``, the dismissed gig ids as JSON aggregates:
    :func:`search_service.db.json_rows`); ``None`` for an unknown user. Sections
    come in ``position`` order (ties by id), as :func:`load_profile_rows` gives them.
    """
    stmt = _subject_statement(session.get_bind().dialect.name, dismissed)
    row = session.exec(stmt, params={"user_id": user_id}).first()
    if row is None:
        return None
    user, profile, *aggregates = row
    sections: dict[str, list[Any]] = {}
    for (name, table), value in zip(_SECTIONS, aggregates, strict=False):
        items = sorted(json_rows_value(value), key=lambda r: (r["position"], r["id"]))
        # model_construct: no validation, no ORM instrumentation (7x cheaper per row).
        sections[name] = [table.model_construct(**item) for item in items]
    gone = (
        frozenset(int(r["gig_id"]) for r in json_rows_value(aggregates[-1]))
        if dismissed
        else frozenset()
    )
    return ProfileSubject(ProfileRows(user=user, profile=profile, **sections), gone)


# ``type[Any]``: each section's ``Section[item]`` is built from a variable item type,
# which mypy cannot follow.
_SECTION_ITEMS: dict[str, type[Any]] = {
    "education": EducationItem,
    "work_experience": WorkItem,
    "projects": ProjectItem,
    "languages": LanguageItem,
    "skills": SkillItem,
}
"""Wire item schema of each section (keys are ``SECTIONS``)."""


def _visibility(profile: Profile, section: str) -> Visibility:
    return Visibility(profile.visibility.get(section, Visibility.EMPLOYERS.value))


def profile_write_of(rows: ProfileRows) -> ProfileWrite | None:
    """The profile of ``rows`` as the API writes it; ``None`` without a profile row."""
    p = rows.profile
    if p is None:
        return None
    sections: dict[str, Any] = {
        name: Section[item](  # type: ignore[valid-type]
            visibility=_visibility(p, name),
            # Rows were validated when written; rules added since apply to new input only.
            items=[item.model_validate(r, context=STORED) for r in getattr(rows, name)],
        )
        for name, item in _SECTION_ITEMS.items()
    }
    return ProfileWrite(
        headline=p.headline,
        bio=p.bio,
        location=p.location,
        availability=None if p.availability is None else Availability(p.availability),
        **sections,
    )


def snapshot_of(rows: ProfileRows) -> dict[str, Any] | None:
    """The ``users.portfolio`` snapshot built from the normalized rows (camelCase JSON).

    It holds every section with its visibility, private ones included: it is the
    owner's data, never served to anyone else as is.
    """
    doc = profile_write_of(rows)
    return None if doc is None else doc.model_dump(mode="json", by_alias=True)


def store_snapshot(user: User, profile: Profile, doc: ProfileWrite) -> str:
    """Write ``doc`` (the profile as built from the tables) to the read-optimised
    copies: ``users.portfolio``, ``profiles.content_hash`` and the strength score.

    Returns:
        The content hash (64 hex digits).
    """
    snapshot = doc.model_dump(mode="json", by_alias=True)
    digest = content_hash(snapshot)
    assert digest is not None
    strength = score_profile(doc.to_draft())
    profile.strength = strength.score
    profile.strength_missing = [m.model_dump(mode="json", by_alias=True) for m in strength.missing]
    profile.content_hash = digest
    user.portfolio = snapshot
    return digest


def content_hash(snapshot: dict[str, Any] | None) -> str | None:
    """sha256 (64 hex digits) of the snapshot's canonical JSON (sorted keys, no spaces)."""
    if snapshot is None:
        return None
    canonical = json.dumps(snapshot, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


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
            **{**pr.model_dump(), "skills": normalise_skills(pr.skills)},
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
        name = normalise_skill(s.name)
        if name and name not in seen:
            seen.add(name)
            skills.append(
                Skill(
                    user_id=user_id, position=len(skills), name=name, level=s.level, years=s.years
                )
            )
    return rows + list(skills)


def _rows_of(user: User, profile: Profile, rows: Sequence[SQLModel]) -> ProfileRows:
    by_table: dict[type[SQLModel], list[Any]] = {t: [] for t in SECTION_TABLES}
    for r in rows:
        by_table[type(r)].append(r)
    return ProfileRows(
        user=user,
        profile=profile,
        education=by_table[Education],
        work_experience=by_table[WorkExperience],
        projects=by_table[Project],
        languages=by_table[Language],
        skills=by_table[Skill],
    )


_LOCKED_USER_COLUMNS = [
    "portfolio",
    "updated_at",
    "visible_updated_at",
    "privacy_floor",
    "index_doc_hash",
    "embedding_updated_at",
    "deleted_at",
    "status",
]
"""``users`` columns that profile writes read and write under the profile lock."""


def _claim_version(session: Session, user_id: int, expected: int | None) -> Profile | None:
    """Bump ``version`` if it still equals what the writer read; the first DML of the
    transaction, so it also takes the write lock (PostgreSQL row lock; SQLite's
    database lock). Returns the locked row, ``None`` when there is no profile yet.

    Raises:
        VersionConflict: ``expected`` is stale.
    """
    for _ in range(3):
        current = session.exec(select(Profile.version).where(Profile.user_id == user_id)).first()
        if current is None:
            if expected not in (None, 0):
                raise VersionConflict(0)
            return None
        want = expected if expected is not None else current
        result = session.execute(
            update(Profile)
            .where(col(Profile.user_id) == user_id, col(Profile.version) == want)
            .values(version=want + 1)
            .execution_options(synchronize_session=False)
        )
        if (result.rowcount or 0) == 1:  # type: ignore[attr-defined]
            profile = session.get(Profile, user_id, populate_existing=True)
            assert profile is not None
            return profile
        if expected is not None:
            now = session.exec(select(Profile.version).where(Profile.user_id == user_id)).first()
            raise VersionConflict(now or 0)
    raise VersionConflict(current or 0)  # lost three races in a row: report, do not spin


def write_profile(
    session: Session,
    user: User,
    draft: ProfileDraft,
    *,
    expected_version: int | None = None,
    now: int | None = None,
) -> ProfileWriteResult:
    """Replace a user's profile: the dual write, in the caller's transaction.

    Updates the ``profiles`` row and the section tables (skills normalised
    through the taxonomy), the ``users.portfolio`` snapshot, the content hash,
    the strength score, ``profiles.version`` (+1) and ``users.updated_at``, and
    appends a ``profile.updated`` outbox event. A write equal to what is stored
    changes nothing. ``draft.visibility`` is merged onto the stored map.

    Args:
        session: an open session; the caller commits.
        user: the owner (flushed, with an id).
        draft: the new profile.
        expected_version: the version the writer read (``If-Match``); ``None``
            writes unconditionally; 0 means "no profile yet".
        now: clock override (epoch ms).

    Raises:
        VersionConflict: ``expected_version`` is not the stored version.
        sqlalchemy.exc.IntegrityError: a concurrent first write created the profile.
    """
    if user.id is None:
        raise ValueError("user must be flushed (have an id)")
    ts = now if now is not None else now_ms()
    profile = _claim_version(session, user.id, expected_version)
    created = profile is None
    old_snapshot: dict[str, Any] | None = None
    old_document: ProfileDocument | None = None
    if profile is None:
        profile = Profile(user_id=user.id, created_at=ts, updated_at=ts, version=1)
        session.add(profile)
    else:
        # We hold the profile lock now: re-read what writers committed since the
        # caller loaded ``user`` (snapshot and index state), and the sections.
        session.refresh(user, attribute_names=_LOCKED_USER_COLUMNS)
        old_rows = load_profile_rows(session, [user.id], reread=True)[user.id]
        old_snapshot = snapshot_of(old_rows)
        old_document = build_document(old_rows)
    profile.headline = draft.headline
    profile.bio = draft.bio
    profile.location = draft.location
    profile.availability = draft.availability.value if draft.availability else None
    profile.visibility = {
        **{s: Visibility.EMPLOYERS.value for s in SECTIONS},
        **profile.visibility,
        **{k: v.value for k, v in draft.visibility.items()},
    }
    new_rows = _section_rows(user.id, draft)
    new_row_set = _rows_of(user, profile, new_rows)
    new_doc = profile_write_of(new_row_set)
    assert new_doc is not None
    new_snapshot = new_doc.model_dump(mode="json", by_alias=True)
    digest = content_hash(new_snapshot)
    if (
        not created
        and new_snapshot == old_snapshot
        and profile.content_hash == digest
        and user.portfolio == new_snapshot
    ):
        profile.version -= 1  # we hold the lock: undo the claim, nothing changed
        session.flush()
        return ProfileWriteResult(profile=profile, changed=False, created=False)
    if created or new_snapshot != old_snapshot:
        for table in SECTION_TABLES:
            for row in session.exec(select(table).where(col(table.user_id) == user.id)):  # type: ignore[attr-defined]
                session.delete(row)
        session.flush()
        session.add_all(new_rows)
    store_snapshot(user, profile, new_doc)
    user.updated_at = ts if created and user.updated_at <= ts else max(ts, user.updated_at + 1)
    profile.updated_at = user.updated_at
    record_document(session, user, old_document, build_document(new_row_set), now=ts)
    session.add(user)
    session.flush()
    append_event(
        session,
        PROFILE_ROWS.update_topic,
        user.id,
        {
            "userId": user.id,
            "version": profile.version,
            "updatedAt": user.updated_at,
            "visibleUpdatedAt": user.visible_updated_at,
            "contentHash": digest,
        },
        user_version=user.visible_updated_at,
        now=ts,
        entity=PROFILE_ROWS.name,
    )
    session.flush()
    return ProfileWriteResult(profile=profile, changed=True, created=created)


def _compose_name(first: str | None, last: str | None, username: str | None) -> str:
    name = " ".join(p for p in (first, last) if p)
    return name or username or ""


def _user_fields(user_in: UserDraft) -> dict[str, Any]:
    """The ``users`` columns an import sets from the draft (on create and update)."""
    return {
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


def _new_user(user_in: UserDraft, ts: int) -> User:
    return User(
        clerk_id=user_in.clerk_id,
        created_by=user_in.created_by,
        created_at=ts,
        updated_at=ts,
        **_user_fields(user_in),
    )


def upsert_user_profile(
    session: Session, user_in: UserDraft, profile_in: ProfileDraft, *, now: int | None = None
) -> tuple[User, str]:
    """Create or update a user (by ``clerk_id``) with their whole profile (imports, demo).

    The profile goes through :func:`write_profile` (the same dual write as the
    API). ``updated_at`` is bumped only when something changed, so re-importing
    identical data leaves the index fresh.

    Returns:
        ``(user, outcome)`` with outcome ``"created"``, ``"updated"`` or ``"unchanged"``.
    """
    ts = now if now is not None else now_ms()
    user = session.exec(select(User).where(User.clerk_id == user_in.clerk_id)).first()
    fields = _user_fields(user_in)
    created = user is None
    if user is None:
        user = _new_user(user_in, ts)
        session.add(user)
        session.flush()
    identity_changed = not created and any(getattr(user, k) != v for k, v in fields.items())
    for key, value in fields.items():
        setattr(user, key, value)
    result = write_profile(session, user, profile_in, now=ts)
    if identity_changed and not result.changed:
        user.updated_at = max(ts, user.updated_at + 1)
        session.flush()
    if created:
        return user, "created"
    return user, "updated" if identity_changed or result.changed else "unchanged"


def profile_ids(session: Session) -> list[int]:
    """Ids of every user with a profile row, ascending."""
    return list(session.exec(select(Profile.user_id).order_by(col(Profile.user_id))))


def _column_values(row: SQLModel) -> dict[str, Any]:
    """Every column of ``row`` as an INSERT sets it; an unassigned autoincrement key
    is left to the database."""
    table = row.__table__  # type: ignore[attr-defined]
    return {
        c.key: getattr(row, c.key)
        for c in table.columns
        if not (c.primary_key and getattr(row, c.key) is None)
    }


def insert_user_profiles(
    session: Session, drafts: Sequence[tuple[UserDraft, ProfileDraft]], *, now: int | None = None
) -> list[User]:
    """Create users that do not exist yet, with their whole profile, in a few
    multi-row statements (imports and the demo loader).

    Writes exactly the rows :func:`upsert_user_profile` writes for a new user: the
    ``users`` row (snapshot, content clock ``visible_updated_at``, index fingerprint),
    the ``profiles`` row at version 1 (content hash, strength), the section rows and
    one ``profile.updated`` outbox event each, inside the caller's transaction. A
    first document takes nothing away (:func:`indexers.reduces` of ``None``), so no
    privacy floor and no removal. Costs one INSERT per table plus one UPDATE of
    ``users`` instead of about a dozen statements and five flushes per user.

    Args:
        session: an open session; the caller commits.
        drafts: users whose ``clerk_id`` is in no ``users`` row and not tombstoned
            (the caller checks), each ``clerk_id`` once.
        now: clock override (epoch ms).

    Returns:
        The new users (detached copies, with ids), in the order of ``drafts``.

    Raises:
        sqlalchemy.exc.IntegrityError: a ``clerk_id`` (or another unique column)
            is already taken.
    """
    if not drafts:
        return []
    ts = now if now is not None else now_ms()
    users = [_new_user(user_in, ts) for user_in, _ in drafts]
    ids = session.scalars(
        insert(User).returning(col(User.id), sort_by_parameter_order=True),
        [_column_values(u) for u in users],
    ).all()
    profiles: list[dict[str, Any]] = []
    sections: dict[type[SQLModel], list[dict[str, Any]]] = {t: [] for t in SECTION_TABLES}
    events: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for user, user_id, (_, draft) in zip(users, ids, drafts, strict=True):
        assert user_id is not None
        user.id = user_id
        # Every column given: a default factory costs more than the value here.
        profile = Profile(
            user_id=user_id,
            created_at=ts,
            updated_at=ts,
            version=1,
            headline=draft.headline,
            bio=draft.bio,
            location=draft.location,
            availability=draft.availability.value if draft.availability else None,
            visibility={
                **{s: Visibility.EMPLOYERS.value for s in SECTIONS},
                **{k: v.value for k, v in draft.visibility.items()},
            },
            strength_missing=[],
        )
        rows = _section_rows(user_id, draft)
        row_set = _rows_of(user, profile, rows)
        doc = profile_write_of(row_set)
        assert doc is not None
        digest = store_snapshot(user, profile, doc)
        # As write_profile and record_document set them for a created profile.
        user.updated_at = ts
        user.index_doc_hash = build_document(row_set).fingerprint
        user.visible_updated_at = max(ts, 1)
        profile.updated_at = user.updated_at
        updates.append(
            {
                "id": user_id,
                "portfolio": user.portfolio,
                "updated_at": user.updated_at,
                "index_doc_hash": user.index_doc_hash,
                "visible_updated_at": user.visible_updated_at,
            }
        )
        profiles.append(_column_values(profile))
        for row in rows:
            sections[type(row)].append(_column_values(row))
        event = OutboxEvent(
            entity=PROFILE_ROWS.name,
            topic=PROFILE_ROWS.update_topic.value,
            user_id=user_id,
            user_version=user.visible_updated_at,
            payload={
                "userId": user_id,
                "version": profile.version,
                "updatedAt": user.updated_at,
                "visibleUpdatedAt": user.visible_updated_at,
                "contentHash": digest,
            },
            created_at=ts,
        )
        events.append(_column_values(event))
    session.execute(update(User), updates)
    session.execute(insert(Profile), profiles)
    for table, values in sections.items():
        if values:
            session.execute(insert(table), values)
    session.execute(insert(OutboxEvent), events)
    return users
