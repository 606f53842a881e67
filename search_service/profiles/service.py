"""The profile API's logic: owner reads and writes, shared views, drift repair.

Everything runs in the caller's unit of work (the request's session): nothing
here commits. Side effects wait for the commit (:func:`search_service.db.after_commit`):
the refresh job is woken, and points are removed for privacy reductions
(:mod:`search_service.profiles.visibility`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from indexers import ProfileRows, build_document
from models import (
    SECTIONS,
    MissingItem,
    ProfileStrength,
    ProfileView,
    ProfileWrite,
    SharedProfileView,
    User,
    Visibility,
    now_ms,
)
from models.user import display_name
from search_service.conditional import apply_merge_patch
from search_service.db import after_commit, session_scope
from search_service.errors import ConflictError, NotFoundError
from search_service.profiles.repository import (
    VersionConflict,
    content_hash,
    load_profile_rows,
    profile_ids,
    profile_write_of,
    store_snapshot,
    write_profile,
)
from search_service.profiles.strength import score_profile
from search_service.profiles.visibility import UNKNOWN, record_document
from search_service.runtime import Runtime

__all__ = [
    "DriftReport",
    "apply_merge_patch",
    "get_own_profile",
    "get_shared_profile",
    "patched_document",
    "reconcile_snapshots",
    "save_profile",
]

log = logging.getLogger(__name__)


def _view(session: Session, user: User) -> ProfileView:
    assert user.id is not None
    rows = load_profile_rows(session, [user.id]).get(user.id)
    doc = profile_write_of(rows) if rows is not None else None
    profile = rows.profile if rows is not None else None
    fresh = rows.user if rows is not None else user
    if doc is None or profile is None:
        doc = ProfileWrite()
        strength = score_profile(doc.to_draft())
        version = 0
    else:
        strength = ProfileStrength(
            score=profile.strength,
            missing=[MissingItem.model_validate(m) for m in profile.strength_missing or []],
        )
        version = profile.version
    emb, visible = fresh.embedding_updated_at, fresh.visible_updated_at
    return ProfileView(
        **dict(doc),  # the sections as built from the rows, not validated again
        user_id=user.id,
        version=version,
        updated_at=fresh.updated_at,
        embedding_updated_at=emb,
        searchable=profile is not None
        and emb is not None
        and visible is not None
        and emb >= visible,
        strength=strength,
    )


def get_own_profile(session: Session, user: User) -> ProfileView:
    """The owner's profile with every section; version 0 and empty when never written."""
    return _view(session, user)


def save_profile(
    session: Session,
    rt: Runtime,
    user: User,
    doc: ProfileWrite,
    *,
    expected_version: int | None,
) -> tuple[ProfileView, bool]:
    """Write ``doc`` as ``user``'s whole profile in the caller's transaction; after
    the commit the refresh job is woken. Returns ``(view, changed)``.

    Raises:
        ConflictError: ``expected_version`` is stale, or a concurrent first write won.
        NotFoundError: the user was deleted meanwhile.
    """
    assert user.id is not None
    owner = session.get(User, user.id)
    if owner is None or owner.deleted_at is not None:
        raise NotFoundError("no such user")
    try:
        result = write_profile(session, owner, doc.to_draft(), expected_version=expected_version)
    except VersionConflict as exc:
        raise ConflictError(
            f"profile changed: you sent version {expected_version}, it is now at "
            f"{exc.current}; GET it again and reapply your edit"
        ) from exc
    except IntegrityError as exc:
        raise ConflictError("profile was created concurrently; GET it and retry") from exc
    if result.changed:
        after_commit(session, rt.notify_profile_change)
    return _view(session, owner), result.changed


def patched_document(current: ProfileView, patch: dict[str, Any]) -> ProfileWrite:
    """The profile after applying ``patch`` (RFC 7396) to ``current``'s writable fields.

    Raises:
        pydantic.ValidationError: the result is not a valid profile.
    """
    base = current.model_dump(mode="json", by_alias=True, include=set(ProfileWrite.model_fields))
    merged = apply_merge_patch(base, patch)
    return ProfileWrite.model_validate(merged)


def _display_name(user: User) -> str:
    """The name shown before contact (:func:`models.user.display_name`)."""
    return display_name(user.first_name, user.last_name, user.username)


def get_shared_profile(session: Session, user_id: int, *, employer: bool) -> SharedProfileView:
    """A profile as someone other than the owner sees it.

    Anonymous viewers (``employer`` False) see ``public`` sections only and get
    404 when no section is public (privacy by default: nothing is published
    until the owner makes a section public). Employers see ``public`` and
    ``employers`` sections plus bio, location and availability. ``private``
    sections are never included.

    Raises:
        NotFoundError: unknown, deleted or suspended user, no profile, or nothing public.
    """
    rows = load_profile_rows(session, [user_id]).get(user_id)
    if rows is None or rows.profile is None or not rows.user.is_searchable:
        raise NotFoundError("no such profile")
    doc = profile_write_of(rows)
    assert doc is not None
    allowed = {Visibility.PUBLIC} | ({Visibility.EMPLOYERS} if employer else set())
    sections: dict[str, Any] = {}
    for name in SECTIONS:
        section = getattr(doc, name)
        sections[name] = section if section.visibility in allowed else None
    if not employer and all(v is None for v in sections.values()):
        raise NotFoundError("no such profile")
    return SharedProfileView(
        user_id=user_id,
        display_name=_display_name(rows.user),
        headline=doc.headline,
        bio=doc.bio if employer else None,
        location=doc.location if employer else None,
        availability=doc.availability if employer else None,
        **sections,
    )


@dataclass(slots=True)
class DriftReport:
    """Result of :func:`reconcile_snapshots`.

    Attributes:
        checked: profiles compared.
        repaired: snapshots that differed from the normalized tables and were rewritten.
        reindexed: of those, profiles whose normalized rows had changed outside the
            write path (content hash differed): ``updated_at`` was bumped so the
            refresh job re-embeds them.
        backfilled: profiles that had no snapshot yet (written before snapshots existed).
        repaired_ids: user ids of ``repaired``.
    """

    checked: int = 0
    repaired: int = 0
    reindexed: int = 0
    backfilled: int = 0
    repaired_ids: list[int] = field(default_factory=list)


def _reconcile_one(session: Session, rows: ProfileRows, report: DriftReport) -> bool:
    """Check one profile's snapshot against its tables; repair it. True when changed."""
    user, profile = rows.user, rows.profile
    doc = profile_write_of(rows)
    if profile is None or doc is None:
        return False
    assert user.id is not None
    report.checked += 1
    digest = content_hash(doc.model_dump(mode="json", by_alias=True))
    if content_hash(user.portfolio) == digest and profile.content_hash == digest:
        return False
    if user.portfolio is None and profile.content_hash is None:
        report.backfilled += 1
    else:
        report.repaired += 1
        report.repaired_ids.append(user.id)
        log.error("profile snapshot drift for user %d: repaired from tables", user.id)
        if profile.content_hash != digest:
            report.reindexed += 1
            user.updated_at = max(now_ms(), user.updated_at + 1)
            profile.updated_at = user.updated_at
            profile.version += 1
            # What was indexed before the out-of-band edit is unknown: treated as a
            # privacy reduction (the point is removed until it is re-indexed).
            record_document(session, user, UNKNOWN, build_document(rows))
    store_snapshot(user, profile, doc)
    return True


def reconcile_snapshots(
    engine: Engine, *, chunk: int = 500, metrics_inc: Any = None
) -> DriftReport:
    """Compare every ``users.portfolio`` snapshot with the normalized tables by hash
    and repair the snapshot from the tables (the system of record).

    Drift is logged at ERROR with the user id. A profile whose tables no longer
    match its stored ``content_hash`` also gets ``updated_at`` and ``version``
    bumped, so the index and optimistic-locking clients see the change.

    Args:
        engine: SQL engine; each chunk of ``chunk`` users is its own transaction.
        metrics_inc: optional callable ``(n) -> None`` counting repairs.
    """
    report = DriftReport()
    with session_scope(engine) as session:
        ids = profile_ids(session)
    for start in range(0, len(ids), chunk):
        with session_scope(engine) as session:
            rows = load_profile_rows(session, ids[start : start + chunk])
            for r in rows.values():
                if _reconcile_one(session, r, report):
                    session.add(r.user)
                    session.add(r.profile)
    if metrics_inc is not None and report.repaired:
        metrics_inc(report.repaired)
    log.info(
        "snapshot reconciliation: %d checked, %d repaired, %d backfilled",
        report.checked,
        report.repaired,
        report.backfilled,
    )
    return report
