"""GDPR: export everything held about a user, delete at once, erase after retention."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from models import User, UserPublic, now_ms
from search_service.db import session_scope
from search_service.errors import NotFoundError
from search_service.outbox import purge_processed
from search_service.privacy.repository import (
    expired_deleted_users,
    purge_user,
    revoke_user_keys,
    rows_about,
)
from search_service.profiles.service import get_own_profile
from search_service.users.repository import soft_delete_user

__all__ = ["OUTBOX_RETENTION_DAYS", "delete_account", "export_user", "purge_expired"]

log = logging.getLogger(__name__)

OUTBOX_RETENTION_DAYS = 7
"""Processed outbox events are deleted after this many days."""

_DAY_MS = 86_400_000
_SECRET_FIELDS = {"key_hash"}


def _row(row: Any) -> dict[str, Any]:
    data: dict[str, Any] = row.model_dump(mode="json", exclude=_SECRET_FIELDS)
    return data


def export_user(session: Session, user: User) -> dict[str, Any]:
    """Everything held about ``user`` as JSON-ready data (GDPR art. 15 and 20).

    Keys: ``exportedAt`` (epoch ms), ``user`` (the account, public and unsafe
    metadata included), ``profile`` (every section, private ones included, with
    strength), ``portfolioSnapshot`` (``users.portfolio`` as stored), ``apiKeys``
    (without hashes), ``data``, ``transactions``, ``webhookDeliveries``,
    ``outboxEvents``, ``gigs``, ``interactions``, ``savedSearches`` (an employer's
    saved searches: name, search body, schedule; not the candidates they matched).
    The vector index holds nothing that is not derived from ``profile``.

    Clerk's ``privateMetadata`` is left out: Clerk defines it as backend-only
    (never readable by the user's own frontend), and operators keep internal
    notes there.
    """
    account = UserPublic.of(user).model_dump(mode="json", by_alias=True)
    account.update(
        tags=list(user.tags),
        publicMetadata=user.public_metadata,
        unsafeMetadata=user.unsafe_metadata,
        lastSignInAt=user.last_sign_in_at,
        createdBy=user.created_by,
    )
    related = rows_about(session, user)
    return {
        "exportedAt": now_ms(),
        "user": account,
        "profile": get_own_profile(session, user).model_dump(mode="json", by_alias=True),
        "portfolioSnapshot": user.portfolio,
        "apiKeys": [_row(r) for r in related["api_keys"]],
        "data": [_row(r) for r in related["user_data"]],
        "transactions": [_row(r) for r in related["transactions"]],
        "webhookDeliveries": [_row(r) for r in related["webhook_deliveries"]],
        "outboxEvents": [_row(r) for r in related["outbox_events"]],
        "gigs": [_row(r) for r in related["gigs"]],
        "interactions": [_row(r) for r in related["interactions"]],
        "savedSearches": [_row(r) for r in related["saved_searches"]],
    }


def delete_account(session: Session, user: User) -> None:
    """Soft-delete ``user`` and revoke their API keys, in the caller's transaction.

    The soft delete appends ``user.deleted`` and ``index.remove`` outbox events;
    right after the commit the point is removed (:mod:`search_service.profiles.visibility`).
    If the index is unavailable the events stay pending and the refresh job
    removes the point; search hides a deleted user meanwhile.

    Raises:
        NotFoundError: the user is already deleted.
    """
    assert user.id is not None
    row = session.get(User, user.id)
    if row is None or not soft_delete_user(session, row):
        raise NotFoundError("no such user")
    revoke_user_keys(session, user.id)


def purge_expired(
    engine: Engine, *, retention_days: int, now: int | None = None, batch: int = 200
) -> int:
    """Erase personal fields of users soft-deleted more than ``retention_days`` ago,
    and delete outbox events processed more than :data:`OUTBOX_RETENTION_DAYS` ago.

    Returns:
        Users purged.
    """
    ts = now if now is not None else now_ms()
    purged = 0
    while True:
        with session_scope(engine) as session:
            users = expired_deleted_users(
                session, deleted_before=ts - retention_days * _DAY_MS, limit=batch
            )
            for user in users:
                purge_user(session, user, now=ts)
        purged += len(users)
        if len(users) < batch:
            break
    with session_scope(engine) as session:
        purge_processed(session, older_than=ts - OUTBOX_RETENTION_DAYS * _DAY_MS)
    if purged:
        log.info("purged personal data of %d deleted users", purged)
    return purged
