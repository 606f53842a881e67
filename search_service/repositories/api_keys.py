"""SQL for API keys (stored as SHA-256 digests)."""

from __future__ import annotations

import hashlib
import secrets

from sqlmodel import Session, col, select

from models import ApiKey

__all__ = ["KEY_PREFIX", "create_api_key", "find_active_key", "hash_key"]

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
