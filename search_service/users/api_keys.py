"""SQL for API keys (stored as SHA-256 digests)."""

from __future__ import annotations

import hashlib
import secrets
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from models import ApiKey, AuthEpoch, User, now_ms
from search_service.outbox import pending_removals_column

__all__ = [
    "KEY_PREFIX",
    "ActiveKey",
    "KeyRow",
    "create_api_key",
    "create_service_user",
    "find_active_key",
    "find_active_key_and_user",
    "hash_key",
    "read_auth_epoch",
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


_USER_COLUMNS = tuple(User.__table__.c)  # type: ignore[attr-defined]


@lru_cache(maxsize=4)
def _epoch_column() -> Any:
    """``auth_epoch.epoch`` as a scalar subquery (``NULL`` when the row is missing)."""
    return sa_select(col(AuthEpoch.epoch)).where(col(AuthEpoch.id) == 1).scalar_subquery()


@lru_cache(maxsize=4)
def _key_and_user_statement(dialect: str) -> Any:
    """The Core statement of :func:`find_active_key_and_user`, built once per
    dialect with the key's digest as the bind parameter ``key_hash`` (building the
    expression and its cache key on every request cost more than running it)."""
    return (
        sa_select(
            col(ApiKey.id),
            col(ApiKey.user_id),
            col(ApiKey.role),
            *_USER_COLUMNS,
            _epoch_column(),
            pending_removals_column(dialect),
        )
        .select_from(ApiKey)
        .outerjoin(User, col(User.id) == col(ApiKey.user_id))
        .where(col(ApiKey.key_hash) == bindparam("key_hash"), col(ApiKey.revoked_at).is_(None))
    )


@lru_cache(maxsize=4)
def _epoch_statement(dialect: str) -> Any:
    """The epoch and the index's pending removals, in one statement (see
    :func:`read_auth_epoch`)."""
    return sa_select(_epoch_column(), pending_removals_column(dialect))


class ActiveKey(NamedTuple):
    """What authentication needs of an unrevoked API key: its id, its user's id
    (``None`` for a key made without one) and its one role."""

    id: int
    user_id: int | None
    role: str


class KeyRow(NamedTuple):
    """An unrevoked API key as :func:`find_active_key_and_user` reads it.

    Attributes:
        key: the key.
        user: its user's row (column name -> value), ``None`` for a key made
            without a user or whose user row is gone.
        epoch: ``auth_epoch.epoch`` read in the same statement (``None``: no row).
        removals: the index's pending removals read in the same statement
            (:func:`search_service.outbox.pending_removals_column`).
    """

    key: ActiveKey
    user: dict[str, Any] | None
    epoch: int | None
    removals: Any


def find_active_key_and_user(connection: Connection, key_hash: str) -> KeyRow | None:
    """The unrevoked key whose digest is ``key_hash`` (:func:`hash_key`), its user's
    row and the :class:`models.AuthEpoch` value, in one Core statement on
    ``connection`` (the request session's, or the one its
    transaction is beginning on); ``None`` for no such key. Every authentication
    that memory cannot answer runs it, so it is the cost of authentication.

    The same statement reads the pending removals of the index
    (:func:`search_service.outbox.pending_removals_column`); the caller keeps them
    in the session (:func:`search_service.outbox.remember_pending_removals`), so a
    ranked list excludes those points from its query without a statement of its own.
    """
    stmt = _key_and_user_statement(connection.dialect.name)
    row = connection.execute(stmt, {"key_hash": key_hash}).first()
    if row is None:
        return None
    n = len(_USER_COLUMNS)
    names = (c.key for c in _USER_COLUMNS)
    user = dict(zip(names, row[3 : 3 + n], strict=True)) if row[3] is not None else None
    return KeyRow(ActiveKey(row[0], row[1], row[2]), user, row[3 + n], row[4 + n])


def read_auth_epoch(connection: Connection) -> tuple[int | None, Any]:
    """``auth_epoch.epoch`` (``None``: no row) and the index's pending removals
    (:func:`search_service.outbox.pending_removals_column`), in one statement on
    ``connection``: what a request whose key was authenticated from memory reads
    first (``search_service/key_cache.py``)."""
    row = connection.execute(_epoch_statement(connection.dialect.name)).one()
    return row[0], row[1]


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
