"""SQL for GDPR requests: everything held about a user, and erasure after retention."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from models import (
    ApiKey,
    OutboxEvent,
    Profile,
    Transaction,
    User,
    UserData,
    WebhookAudit,
    now_ms,
)
from search_service.repositories.profiles import SECTION_TABLES

__all__ = ["expired_deleted_users", "purge_user", "revoke_user_keys", "rows_about"]


def rows_about(session: Session, user: User) -> dict[str, list[Any]]:
    """Every row that refers to ``user``, by table name (for an export)."""
    assert user.id is not None
    uid = user.id
    out: dict[str, list[Any]] = {}
    out["api_keys"] = list(session.exec(select(ApiKey).where(ApiKey.user_id == uid)))
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
            select(OutboxEvent).where(OutboxEvent.user_id == uid).order_by(col(OutboxEvent.id))
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


def purge_user(session: Session, user: User, *, now: int | None = None) -> None:
    """Erase a soft-deleted user's personal data, keeping the row as a husk.

    Clears identity fields, metadata and the snapshot; deletes the profile, its
    sections, and key/value data; revokes API keys; replaces ``clerk_id`` with
    ``purged:<id>`` (the Clerk tombstone keeps late events out). Ledger
    transactions stay (amounts, kinds, references: bookkeeping records), as do
    outbox events (ids and hashes only).

    Raises:
        ValueError: the user is not soft-deleted.
    """
    if user.id is None or user.deleted_at is None:
        raise ValueError("only a soft-deleted user can be purged")
    ts = now if now is not None else now_ms()
    for table in (*SECTION_TABLES, UserData):
        session.execute(delete(table).where(col(table.user_id) == user.id))  # type: ignore[arg-type, attr-defined]
    session.execute(delete(Profile).where(col(Profile.user_id) == user.id))
    revoke_user_keys(session, user.id, now=ts)
    for key, value in _ERASED.items():
        setattr(user, key, value)
    user.clerk_id = f"purged:{user.id}"
    user.purged_at = ts
    user.updated_at = max(ts, user.updated_at + 1)
    session.add(user)
    session.flush()
