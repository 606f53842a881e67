"""SQL for API keys (stored as SHA-256 digests)."""

from __future__ import annotations

import hashlib
import secrets
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import bindparam
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from models import ApiKey, User, now_ms
from search_service.outbox import pending_removals_column, remember_pending_removals

__all__ = [
    "KEY_PREFIX",
    "ActiveKey",
    "create_api_key",
    "create_service_user",
    "find_active_key",
    "find_active_key_and_user",
    "hash_key",
    "revoke_api_key",
]

KEY_PREFIX = "gsk_"
"""Every key starts with this, so leaked keys are easy to grep for."""


def hash_key(key: str) -> str:
    """Hex SHA-256 of ``key``."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_api_key(
    session: Session, *, role: str, name: str = "", user_id: int | None = None
) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the plaintext key (shown once, never stored)."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(key_hash=hash_key(key), prefix=key[:12], role=role, name=name, user_id=user_id)
    session.add(row)
    session.flush()
    return row, key


def find_active_key(session: Session, key: str) -> ApiKey | None:
    """The unrevoked key row matching ``key``, if any."""
    stmt = select(ApiKey).where(ApiKey.key_hash == hash_key(key), col(ApiKey.revoked_at).is_(None))
    return session.exec(stmt).first()


@lru_cache(maxsize=4)
def _key_and_user_statement(dialect: str) -> Any:
    """The statement of :func:`find_active_key_and_user`, built once per dialect
    with the key's digest as the bind parameter ``key_hash`` (building the
    expression and its cache key on every request cost more than running it)."""
    return (
        sa_select(
            col(ApiKey.id),
            col(ApiKey.user_id),
            col(ApiKey.role),
            User,
            pending_removals_column(dialect),
        )
        .outerjoin(User, col(User.id) == col(ApiKey.user_id))
        .where(col(ApiKey.key_hash) == bindparam("key_hash"), col(ApiKey.revoked_at).is_(None))
    )


class ActiveKey(NamedTuple):
    """What authentication needs of an unrevoked API key: its id, its user's id
    (``None`` for a key made without one) and its one role."""

    id: int
    user_id: int | None
    role: str


def find_active_key_and_user(session: Session, key: str) -> tuple[ActiveKey, User | None] | None:
    """The unrevoked key matching ``key`` and its user (``None`` for a key made
    without one, or whose user row is gone), in one statement: every authenticated
    request runs it, so it is the cost of authentication. ``None`` for no such key.
    The key comes as three columns, not an ORM entity (only the user is one: a
    route may change it).

    The same statement reads the pending removals of the index
    (:func:`search_service.outbox.pending_removals_column`) and keeps them in the
    session, so a ranked list excludes those points from its query without a
    statement of its own."""
    stmt = _key_and_user_statement(session.get_bind().dialect.name)
    row = session.exec(stmt, params={"key_hash": hash_key(key)}).first()
    if row is None:
        return None
    remember_pending_removals(session, row[4])
    return ActiveKey(row[0], row[1], row[2]), row[3]


def revoke_api_key(session: Session, key_id: int) -> bool:
    """Revoke a key at once; False when it does not exist or was already revoked."""
    row = session.get(ApiKey, key_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = now_ms()
    session.flush()
    return True


def create_service_user(session: Session, *, role: str, name: str = "") -> User:
    """A user that exists only to own API keys (``clerk_id`` ``svc_<random>``)."""
    user = User(
        clerk_id=f"svc_{secrets.token_hex(8)}",
        name=name or f"service ({role})",
        roles=[role],
        created_by="service",
    )
    session.add(user)
    session.flush()
    return user
