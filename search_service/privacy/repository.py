"""SQL for GDPR requests: everything held about a user, and erasure after retention."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import delete, func, or_, update
from sqlmodel import Session, col, select

from models import (
    ApiKey,
    CandidateExposure,
    Gig,
    Interaction,
    OutboxEvent,
    Profile,
    SavedSearch,
    SavedSearchMatch,
    Transaction,
    User,
    UserData,
    WebhookAudit,
    now_ms,
)
from search_service.profiles.repository import SECTION_TABLES

__all__ = [
    "ERASED_MARK",
    "expired_deleted_users",
    "purge_user",
    "revoke_user_keys",
    "rows_about",
]

ERASED_MARK = "[erased]"
"""What replaces an erased person's identifiers inside text that is kept."""


def rows_about(session: Session, user: User) -> dict[str, list[Any]]:
    """Every row that refers to ``user``, by table name (for an export)."""
    assert user.id is not None
    uid = user.id
    out: dict[str, list[Any]] = {}
    out["api_keys"] = list(session.exec(select(ApiKey).where(ApiKey.user_id == uid)))
    out["gigs"] = list(session.exec(select(Gig).where(Gig.owner_id == uid).order_by(col(Gig.id))))
    # An employer's saved searches (deleted ones too, until purged); not the
    # candidates they matched, who are other people.
    out["saved_searches"] = list(
        session.exec(
            select(SavedSearch).where(SavedSearch.owner_id == uid).order_by(col(SavedSearch.id))
        )
    )
    # Their applications and dismissals, and employers' decisions about them.
    out["interactions"] = list(
        session.exec(
            select(Interaction).where(Interaction.user_id == uid).order_by(col(Interaction.id))
        )
    )
    out["user_data"] = list(
        session.exec(select(UserData).where(UserData.user_id == uid).order_by(col(UserData.key)))
    )
    out["transactions"] = list(
        session.exec(
            select(Transaction).where(Transaction.user_id == uid).order_by(col(Transaction.id))
        )
    )
    out["webhook_deliveries"] = list(
        session.exec(
            select(WebhookAudit)
            .where(WebhookAudit.clerk_id == user.clerk_id)
            .order_by(col(WebhookAudit.id))
        )
    )
    out["outbox_events"] = list(
        session.exec(
            select(OutboxEvent)
            .where(OutboxEvent.user_id == uid, OutboxEvent.entity == "profiles")
            .order_by(col(OutboxEvent.id))
        )
    )
    return out


def revoke_user_keys(session: Session, user_id: int, *, now: int | None = None) -> int:
    """Revoke every active API key of ``user_id``; returns keys revoked."""
    result = session.execute(
        update(ApiKey)
        .where(col(ApiKey.user_id) == user_id, col(ApiKey.revoked_at).is_(None))
        .values(revoked_at=now if now is not None else now_ms())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def expired_deleted_users(session: Session, *, deleted_before: int, limit: int) -> list[User]:
    """Soft-deleted, not yet purged users deleted before ``deleted_before`` (epoch ms)."""
    stmt = (
        select(User)
        .where(
            col(User.deleted_at).is_not(None),
            col(User.deleted_at) < deleted_before,
            col(User.purged_at).is_(None),
        )
        .order_by(col(User.deleted_at))
        .limit(limit)
    )
    return list(session.exec(stmt))


_ERASED: dict[str, Any] = {
    "email": None,
    "name": "",
    "first_name": None,
    "last_name": None,
    "username": None,
    "image_url": None,
    "external_id": None,
    "tags": [],
    "public_metadata": {},
    "private_metadata": {},
    "unsafe_metadata": {},
    "last_sign_in_at": None,
    "portfolio": None,
}


def _identifiers(user: User) -> list[str]:
    """The user's own identifying strings, longest first (a full name before its parts)."""
    values = {user.email, user.name, user.first_name, user.last_name, user.username}
    return sorted((v for v in values if v and v.strip()), key=len, reverse=True)


def _redact(text: str, patterns: list[re.Pattern[str]]) -> str:
    for pattern in patterns:
        text = pattern.sub(ERASED_MARK, text)
    return text


def _scrub_kept_rows(session: Session, user: User, identifiers: list[str]) -> None:
    """Remove personal data from the rows a purge keeps (see :func:`purge_user`)."""
    assert user.id is not None
    uid = user.id
    # Audit rows are kept to reject redeliveries; their error text is not needed.
    # Rows written before problems stopped carrying values may name the email in
    # another user's row ("email ... belongs to another user"), hence the match.
    owned = col(WebhookAudit.clerk_id) == user.clerk_id
    if user.email:
        mentioned = func.lower(col(WebhookAudit.error)).contains(
            user.email.lower(), autoescape=True
        )
        owned = or_(owned, mentioned)
    session.execute(
        update(WebhookAudit)
        .where(owned, col(WebhookAudit.error).is_not(None))
        .values(error=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(ApiKey)
        .where(col(ApiKey.user_id) == uid)
        .values(name="")
        .execution_options(synchronize_session=False)
    )
    # Outbox: processed events are history nobody reads; pending ones keep their
    # topic and user id (a pending user.deleted still has to reach the index).
    session.execute(
        delete(OutboxEvent).where(
            col(OutboxEvent.user_id) == uid,
            col(OutboxEvent.entity) == "profiles",
            col(OutboxEvent.processed_at).is_not(None),
        )
    )
    session.execute(
        update(OutboxEvent)
        .where(col(OutboxEvent.user_id) == uid, col(OutboxEvent.entity) == "profiles")
        .values(payload={"userId": uid}, last_error=None)
        .execution_options(synchronize_session=False)
    )
    if not identifiers:
        return
    # Ledger rows stay (bookkeeping), and so does their reference: it is the link
    # to an invoice or payout document. Only the person's own identifiers are
    # replaced in it; a key naming them is replaced by a unique placeholder.
    patterns = [re.compile(rf"(?<!\w){re.escape(v)}(?!\w)", re.IGNORECASE) for v in identifiers]
    for tx in list(session.exec(select(Transaction).where(Transaction.user_id == uid))):
        reference = _redact(tx.reference, patterns) if tx.reference else tx.reference
        key = tx.idempotency_key
        if _redact(key, patterns) != key:
            key = f"erased:{tx.id}"
        if (reference, key) != (tx.reference, tx.idempotency_key):
            tx.reference, tx.idempotency_key = reference, key
            session.add(tx)


def purge_user(session: Session, user: User, *, now: int | None = None) -> None:
    """Erase a soft-deleted user's personal data, keeping the row as a husk.

    Clears identity fields, metadata and the snapshot; deletes the profile, its
    sections, key/value data, interactions (applications, dismissals and
    employers' decisions about them), their saved searches with everything those
    matched, every saved-search match or alert naming them, and processed outbox
    events; soft-deletes
    gigs they still own; revokes API keys and
    clears their names; clears the ``error`` text of the user's webhook audit
    rows (and of any row naming their email); reduces pending outbox events to
    ``{"userId"}``; replaces ``clerk_id`` with ``purged:<id>`` (the Clerk
    tombstone keeps late events and re-imports out).

    Ledger transactions stay (amounts, kinds, references: bookkeeping records),
    but the user's email, names and username are replaced by ``[erased]`` in
    their ``reference``, and an ``idempotency_key`` containing one becomes
    ``erased:<transaction id>``. See ``docs/privacy.md``.

    Raises:
        ValueError: the user is not soft-deleted.
    """
    if user.id is None or user.deleted_at is None:
        raise ValueError("only a soft-deleted user can be purged")
    ts = now if now is not None else now_ms()
    for table in (*SECTION_TABLES, UserData):
        session.execute(delete(table).where(col(table.user_id) == user.id))  # type: ignore[arg-type, attr-defined]
    session.execute(delete(Profile).where(col(Profile.user_id) == user.id))
    session.execute(delete(Interaction).where(col(Interaction.user_id) == user.id))
    session.execute(delete(CandidateExposure).where(col(CandidateExposure.user_id) == user.id))
    # Saved searches: their own (queries are their words) with every match, and
    # every match or alert that names them in someone else's.
    owned = select(SavedSearch.id).where(col(SavedSearch.owner_id) == user.id)
    session.execute(
        delete(SavedSearchMatch).where(
            or_(
                col(SavedSearchMatch.user_id) == user.id,
                col(SavedSearchMatch.saved_search_id).in_(owned),
            )
        )
    )
    session.execute(delete(SavedSearch).where(col(SavedSearch.owner_id) == user.id))
    # Their gigs left the index with them; the postings stay, deleted, for the
    # students who applied (their interactions reference them).
    session.execute(
        update(Gig)
        .where(col(Gig.owner_id) == user.id, col(Gig.deleted_at).is_(None))
        .values(deleted_at=ts, updated_at=ts)
        .execution_options(synchronize_session=False)
    )
    revoke_user_keys(session, user.id, now=ts)
    _scrub_kept_rows(session, user, _identifiers(user))
    for key, value in _ERASED.items():
        setattr(user, key, value)
    user.clerk_id = f"purged:{user.id}"
    user.purged_at = ts
    user.updated_at = max(ts, user.updated_at + 1)
    session.add(user)
    session.flush()
