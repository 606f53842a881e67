"""API keys: only a SHA-256 digest of each key is stored, never the key itself.

Keys are 256-bit random tokens, so a fast unsalted hash is enough to make a
leaked table useless (the practice of GitHub and Stripe tokens); a slow password
hash would only add latency to every request.
"""

from __future__ import annotations

from pydantic import Field as PydField
from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlmodel import Column, Field, SQLModel

from models.common import CamelModel, CamelRequest, ms_column, now_ms
from models.user import Role

__all__ = ["AUTH_USER_COLUMNS", "ApiKey", "ApiKeyCreate", "ApiKeyCreated", "AuthEpoch"]


class ApiKey(SQLModel, table=True):
    """A bearer API key carrying one role. Times are epoch ms."""

    __tablename__ = "api_keys"

    id: int | None = Field(default=None, primary_key=True)
    key_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    prefix: str = Field(max_length=16, description="First characters, to recognise a key.")
    role: str = Field(max_length=16)
    name: str = Field(default="", max_length=200)
    user_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    )
    created_at: int = Field(default_factory=now_ms, sa_column=ms_column(nullable=False))
    revoked_at: int | None = Field(default=None, sa_column=ms_column())


AUTH_USER_COLUMNS = ("id", "clerk_id", "roles", "status", "deleted_at")
"""The ``users`` columns an API key's authentication decides on (its user, the
roles it may still use, whether the account is live). A change to any of them,
to any ``api_keys`` row, or a deleted user moves :class:`AuthEpoch`."""


class AuthEpoch(SQLModel, table=True):
    """One row (``id`` 1): a counter that database triggers add 1 to, in the same
    transaction, whenever an ``api_keys`` row is updated or deleted, or a ``users``
    row is deleted or has one of :data:`AUTH_USER_COLUMNS` updated (a revoked key,
    a suspended, deleted or demoted user), whichever process or statement made the
    change (migration ``0010``: SQLite and PostgreSQL row triggers, and on
    PostgreSQL ``TRUNCATE`` triggers). Never delete the row: while it is missing
    nothing is counted (a server that reads no row forgets every key it remembered).

    A server that keeps the outcome of a key's authentication in memory
    (``search_service/key_cache.py``) remembers the epoch it read beside it, and a
    request answered from memory compares it with this row in its first statement:
    a different value means "authenticate again". No row (a table emptied by hand)
    means no caching. A migration that rebuilds ``users`` or ``api_keys`` (SQLite
    batch mode) must create the triggers again: ``tests/search_service/
    users/test_key_cache.py`` checks that each change moves the epoch.
    """

    __tablename__ = "auth_epoch"

    id: int | None = Field(default=None, primary_key=True)
    epoch: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class ApiKeyCreate(CamelRequest):
    """Body of ``POST /v1/admin/api-keys``: the key acts as this user, with this role."""

    clerk_id: str = PydField(min_length=1, max_length=255)
    role: Role
    name: str = PydField(default="", max_length=200)


class ApiKeyCreated(CamelModel):
    """The new key; ``key`` is shown this once and never stored."""

    id: int
    key: str
    role: str
    clerk_id: str
