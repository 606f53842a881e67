"""API keys: only a SHA-256 digest of each key is stored, never the key itself.

Keys are 256-bit random tokens, so a fast unsalted hash is enough to make a
leaked table useless (the practice of GitHub and Stripe tokens); a slow password
hash would only add latency to every request.
"""

from __future__ import annotations

from pydantic import Field as PydField
from sqlalchemy import ForeignKey, Integer, String
from sqlmodel import Column, Field, SQLModel

from models.common import CamelModel, CamelRequest, ms_column, now_ms
from models.user import Role

__all__ = ["ApiKey", "ApiKeyCreate", "ApiKeyCreated"]


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
