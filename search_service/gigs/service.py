"""The gig API's logic: employers' writes, who may read what, the document clock.

Everything runs in the caller's unit of work (nothing here commits). A write
whose indexed document changes bumps ``gigs.visible_updated_at`` (the version the
refresh job indexes, strictly increasing, epoch ms) and appends a ``gig.updated``
outbox event in the same transaction; the refresh job is woken after the commit.
A gig that stops being servable (closed, filled, deleted, past its deadline) is
taken out of the index by the listener of ``search_service.index.removals``, so
it is gone from student-facing results before the response.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from indexers import build_gig_document
from indexers.taxonomy import normalise_skills
from models import (
    Availability,
    Gig,
    GigPay,
    GigStatus,
    GigView,
    GigWrite,
    PayUnit,
    User,
    now_ms,
)
from search_service.callers import GigManager
from search_service.conditional import apply_merge_patch
from search_service.db import after_commit
from search_service.errors import ConflictError, NotFoundError, PermissionDeniedError, ServiceError
from search_service.gigs.repository import (
    GigSubject,
    claim_gig_version,
    get_gig,
    load_gig_subject,
    owner_names,
)
from search_service.index.entity import GIG_ROWS
from search_service.outbox import append_event
from search_service.runtime import Runtime

__all__ = [
    "create_gig",
    "delete_gig",
    "gig_view",
    "gig_views",
    "owned_gig",
    "owned_gig_subject",
    "patched_gig",
    "readable_gig",
    "readable_gig_subject",
    "update_gig",
]


def gig_view(gig: Gig, company: str, *, now: int | None = None) -> GigView:
    """The API view of a gig row (``searchable``: its current version is in the
    index; ``expired``: its deadline has passed)."""
    assert gig.id is not None
    ts = now if now is not None else now_ms()
    pay = None
    if gig.pay_amount is not None and gig.pay_currency and gig.pay_unit:
        pay = GigPay(
            amount_minor=gig.pay_amount, currency=gig.pay_currency, unit=PayUnit(gig.pay_unit)
        )
    emb, visible = gig.embedding_updated_at, gig.visible_updated_at
    return GigView(
        id=gig.id,
        owner_id=gig.owner_id,
        company=company,
        title=gig.title,
        description=gig.description,
        required_skills=list(gig.required_skills),
        nice_skills=list(gig.nice_skills),
        location=gig.location,
        remote=gig.remote,
        availability=None if gig.availability is None else Availability(gig.availability),
        pay=pay,
        deadline=gig.deadline,
        status=GigStatus(gig.status),
        version=gig.version,
        created_at=gig.created_at,
        updated_at=gig.updated_at,
        embedding_updated_at=emb,
        searchable=gig.is_live(ts) and emb is not None and visible is not None and emb >= visible,
        expired=gig.deadline is not None and gig.deadline <= ts,
    )


def gig_views(session: Session, gigs: list[Gig]) -> list[GigView]:
    """Views of several gigs, their owners' names read in one query."""
    names = owner_names(session, sorted({g.owner_id for g in gigs}))
    ts = now_ms()
    return [gig_view(g, names.get(g.owner_id, ""), now=ts) for g in gigs]


def _apply(gig: Gig, body: GigWrite, now: int) -> None:
    """Copy ``body`` onto ``gig`` (skills through the taxonomy).

    Raises:
        ServiceError: 422 when an open gig's new deadline is not in the future.
    """
    status = body.status.value
    if (
        status == GigStatus.OPEN.value
        and body.deadline is not None
        and body.deadline <= now
        and (body.deadline != gig.deadline or status != gig.status)
    ):
        raise ServiceError("an open gig's deadline must be in the future (epoch ms)", 422)
    required = normalise_skills(body.required_skills)
    gig.title = body.title.strip()
    gig.description = body.description
    gig.required_skills = required
    gig.nice_skills = [s for s in normalise_skills(body.nice_skills) if s not in required]
    gig.location = body.location.strip() if body.location and body.location.strip() else None
    gig.remote = body.remote
    gig.availability = body.availability.value if body.availability else None
    gig.pay_amount = body.pay.amount_minor if body.pay else None
    gig.pay_currency = body.pay.currency if body.pay else None
    gig.pay_unit = body.pay.unit.value if body.pay else None
    gig.deadline = body.deadline
    gig.status = status
    gig.updated_at = now


def _record_document(session: Session, rt: Runtime | None, gig: Gig, now: int) -> None:
    """Bump the gig's document clock when its indexed document changed, with a
    ``gig.updated`` outbox event, and wake the refresh job after the commit."""
    assert gig.id is not None
    doc = build_gig_document(gig)
    fingerprint = doc.fingerprint
    if gig.index_doc_hash == fingerprint and gig.visible_updated_at is not None:
        return
    gig.index_doc_hash = fingerprint
    gig.visible_updated_at = max(now, (gig.visible_updated_at or 0) + 1)
    session.add(gig)
    append_event(
        session,
        GIG_ROWS.update_topic,
        gig.id,
        {"gigId": gig.id, "version": gig.visible_updated_at},
        user_version=gig.visible_updated_at,
        entity=GIG_ROWS.name,
        now=now,
    )
    if rt is not None:
        after_commit(session, rt.notify_profile_change)


def create_gig(
    session: Session,
    rt: Runtime | None,
    owner: User,
    body: GigWrite,
    *,
    external_id: str | None = None,
    now: int | None = None,
) -> Gig:
    """Insert a gig owned by ``owner`` (flushed, so it has an id).

    Raises:
        ServiceError: 422 for an open gig whose deadline has passed.
    """
    assert owner.id is not None
    ts = now if now is not None else now_ms()
    gig = Gig(owner_id=owner.id, title=body.title, external_id=external_id, created_at=ts)
    _apply(gig, body, ts)
    session.add(gig)
    session.flush()
    _record_document(session, rt, gig, ts)
    session.flush()
    return gig


def update_gig(
    session: Session,
    rt: Runtime | None,
    gig_id: int,
    body: GigWrite,
    *,
    expected_version: int | None,
    now: int | None = None,
) -> Gig:
    """Replace a gig's writable fields, as one new version.

    Raises:
        NotFoundError: the gig is gone (404).
        ConflictError: ``expected_version`` is not the current version (409).
        ServiceError: 422 for an open gig whose new deadline has passed.
    """
    version = claim_gig_version(session, gig_id, expected_version)
    if version is None:
        if get_gig(session, gig_id) is None:
            raise NotFoundError("no such gig")
        raise ConflictError("the gig changed since that version: GET it and reapply")
    gig = get_gig(session, gig_id)
    assert gig is not None
    ts = now if now is not None else now_ms()
    _apply(gig, body, ts)
    session.add(gig)
    session.flush()
    _record_document(session, rt, gig, ts)
    session.flush()
    return gig


def patched_gig(current: GigView, patch: dict[str, Any]) -> GigWrite:
    """``current``'s writable fields with a JSON Merge Patch (RFC 7396) applied.

    Raises:
        ValidationError: the merged document is not a valid gig (422).
    """
    base = GigWrite.model_validate(
        current.model_dump(include=set(GigWrite.model_fields))
    ).model_dump(by_alias=True, mode="json")
    return GigWrite.model_validate(apply_merge_patch(base, patch))


def delete_gig(session: Session, gig: Gig, *, now: int | None = None) -> None:
    """Soft-delete a gig (its point leaves the index before the response)."""
    ts = now if now is not None else now_ms()
    gig.deleted_at = ts
    gig.updated_at = ts
    session.add(gig)
    session.flush()


def readable_gig_subject(
    session: Session,
    manager: GigManager | None,
    gig_id: int,
    *,
    interactions: bool = False,
    dismissed_by: int | None = None,
) -> GigSubject:
    """A gig the caller may read, with its owner (one statement; with what
    ``interactions`` and ``dismissed_by`` ask for in the same one:
    :func:`load_gig_subject`): any servable gig; drafts, closed, filled and expired
    ones only for a ``manager`` who manages it (its owner acting as an employer, or
    an admin).

    Raises:
        NotFoundError: unknown, deleted, or not the caller's to see (404: the
            existence of someone else's draft is not revealed).
    """
    subject = load_gig_subject(
        session, gig_id, interactions=interactions, dismissed_by=dismissed_by
    )
    if subject is None:
        raise NotFoundError("no such gig")
    if subject.gig.is_live(now_ms()) and subject.owner.is_searchable:
        return subject
    if manager is not None and manager.manages(subject.gig):
        return subject
    raise NotFoundError("no such gig")


def readable_gig(session: Session, manager: GigManager | None, gig_id: int) -> Gig:
    """The gig of :func:`readable_gig_subject` (the raises of it)."""
    return readable_gig_subject(session, manager, gig_id).gig


def owned_gig(session: Session, manager: GigManager, gig_id: int) -> Gig:
    """A gig ``manager`` manages (its owner acting as an employer, or an admin).

    Raises:
        NotFoundError: unknown, deleted, or someone else's gig that students
            cannot see either (404).
        PermissionDeniedError: someone else's servable gig (403).
    """
    return owned_gig_subject(session, manager, gig_id).gig


def owned_gig_subject(
    session: Session, manager: GigManager, gig_id: int, *, interactions: bool = False
) -> GigSubject:
    """The :func:`readable_gig_subject` of a gig ``manager`` manages.

    Raises:
        NotFoundError: unknown, deleted, or someone else's gig that students
            cannot see either (404).
        PermissionDeniedError: someone else's servable gig (403).
    """
    subject = readable_gig_subject(session, manager, gig_id, interactions=interactions)
    if not manager.manages(subject.gig):
        raise PermissionDeniedError("only the gig's owner (or an admin) may do this")
    return subject
