"""The ``users`` table: the identity hub (seeds 000 and 002).

One row per person on Gigsy, synced from Clerk or imported. ``clerk_id`` and
``email`` are database-unique (the seeds enforced this in code only). The
balance columns are a cache of the ledger (seed 000, "ledger-first"). Two clocks:
``updated_at`` is the row's own clock (any change, Clerk syncs included), while
``visible_updated_at`` moves only when the employer-visible indexed document
changes; ``embedding_updated_at`` holds the ``visible_updated_at`` value that is
in the index (ARCHITECTURE.md, "Index versions").
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Integer, String
from sqlmodel import Column, Field, SQLModel

from models.common import CamelModel, WireEnum, json_column, ms_column, now_ms, stale_index
from models.ledger import Balance

__all__ = [
    "CallerView",
    "Role",
    "User",
    "UserPublic",
    "UserStatus",
    "account_is_live",
    "display_name",
]


class Role(WireEnum):
    """What a user may do: employers search, students own profiles."""

    STUDENT = "student"
    EMPLOYER = "employer"
    MENTOR = "mentor"
    ADMIN = "admin"


class UserStatus(WireEnum):
    """Account status (seed 002 ``user_status`` enum)."""

    ACTIVE = "active"
    INACTIVE = "inactive"
    INVITED = "invited"
    SUSPENDED = "suspended"


class User(SQLModel, table=True):
    """A Gigsy user. Times are epoch ms; ``deleted_at`` set means soft-deleted."""

    __tablename__ = "users"
    __table_args__ = (stale_index("users"),)

    id: int | None = Field(default=None, primary_key=True)
    clerk_id: str = Field(sa_column=Column(String(255), unique=True, nullable=False))
    email: str | None = Field(default=None, sa_column=Column(String(320), unique=True))
    name: str = Field(default="", max_length=255)
    first_name: str | None = Field(default=None, max_length=255)
    last_name: str | None = Field(default=None, max_length=255)
    username: str | None = Field(default=None, max_length=255)
    image_url: str | None = Field(default=None, max_length=2048)
    external_id: str | None = Field(default=None, max_length=255, index=True)
    roles: list[str] = Field(default_factory=lambda: [Role.STUDENT.value], sa_column=json_column())
    status: str = Field(default=UserStatus.ACTIVE.value, max_length=16)
    tags: list[str] = Field(default_factory=list, sa_column=json_column())
    public_metadata: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    private_metadata: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    unsafe_metadata: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    last_sign_in_at: int | None = Field(default=None, sa_column=ms_column())
    balance_amount: int = Field(
        default=0,
        sa_column=Column(BigInteger, nullable=False),
        description="Minor units (cents); BIGINT, as wide as ``transactions.amount``.",
    )
    balance_currency: str = Field(default="USD", max_length=3)
    portfolio: dict[str, Any] | None = Field(default=None, sa_column=json_column(nullable=True))
    clerk_updated_at: int | None = Field(
        default=None,
        sa_column=ms_column(),
        description="data.updated_at (ms) of the last Clerk event applied: older events lose.",
    )
    embedding_updated_at: int | None = Field(
        default=None,
        sa_column=ms_column(),
        description="The visible_updated_at (ms) whose document is in the index; NULL: none.",
    )
    visible_updated_at: int | None = Field(
        default=None,
        sa_column=ms_column(),
        description="When the employer-visible indexed document last changed (ms): the "
        "index version clock and the recency signal; private edits never move it.",
    )
    privacy_floor: int | None = Field(
        default=None,
        sa_column=ms_column(),
        description="visible_updated_at of the last privacy reduction (ms): an index entry "
        "of an older version is never served.",
    )
    index_doc_hash: str | None = Field(
        default=None,
        max_length=64,
        description="sha256 of the indexed document (text and filterable payload).",
    )
    index_lease_owner: str | None = Field(
        default=None,
        max_length=64,
        description="Worker currently embedding this user (freshness job lease).",
    )
    index_lease_expires_at: int | None = Field(default=None, sa_column=ms_column())
    index_attempts: int = Field(
        default=0,
        sa_column=Column(Integer, nullable=False, default=0, server_default="0"),
        description="Consecutive failed refresh attempts (reset on success).",
    )
    index_retry_at: int | None = Field(
        default=None, sa_column=ms_column(), description="No refresh before this (backoff)."
    )
    purged_at: int | None = Field(
        default=None, sa_column=ms_column(), description="Personal fields erased (retention)."
    )
    updated_at: int = Field(default_factory=now_ms, sa_column=ms_column(nullable=False))
    created_at: int = Field(default_factory=now_ms, sa_column=ms_column(nullable=False))
    created_by: str = Field(default="system", max_length=255)
    deleted_at: int | None = Field(default=None, sa_column=ms_column())

    @property
    def is_searchable(self) -> bool:
        """True for a live account (not soft-deleted, not suspended): it may appear in
        search and authenticate."""
        return account_is_live(self.deleted_at, self.status)


def account_is_live(deleted_at: int | None, status: str) -> bool:
    """The rule of :attr:`User.is_searchable` on the two columns it reads: not
    soft-deleted (``deleted_at``, epoch ms) and not suspended."""
    return deleted_at is None and status != UserStatus.SUSPENDED.value


class UserPublic(CamelModel):
    """A user on the wire (for the user themself and admins). Times are epoch ms."""

    id: int
    clerk_id: str
    email: str | None
    name: str
    first_name: str | None
    last_name: str | None
    username: str | None
    image_url: str | None
    external_id: str | None
    roles: list[str]
    status: str
    balance: Balance
    created_at: int
    updated_at: int
    deleted_at: int | None
    embedding_updated_at: int | None

    @classmethod
    def of(cls, user: User) -> UserPublic:
        """Build from a row (which must have an id)."""
        if user.id is None:
            raise ValueError("user has no id")
        return cls(
            id=user.id,
            clerk_id=user.clerk_id,
            email=user.email,
            name=user.name,
            first_name=user.first_name,
            last_name=user.last_name,
            username=user.username,
            image_url=user.image_url,
            external_id=user.external_id,
            roles=list(user.roles),
            status=user.status,
            balance=Balance(amount=user.balance_amount, currency=user.balance_currency),
            created_at=user.created_at,
            updated_at=user.updated_at,
            deleted_at=user.deleted_at,
            embedding_updated_at=user.embedding_updated_at,
        )


class CallerView(CamelModel):
    """Who a request's credentials act as (``GET /v1/users/me``).

    ``roles`` are the roles this request may use: an API key carries one (while
    its user still holds it), a Clerk session JWT all of its user's. ``userId`` and
    ``name`` are null for a legacy key made without a user.
    """

    user_id: int | None
    name: str | None
    roles: list[str]


def display_name(first_name: str | None, last_name: str | None, username: str | None) -> str:
    """How a student is named to anyone but themself before contact: first name and
    last initial ("Ada L."), else the username, else "Gigsy student"."""
    if first_name:
        initial = f" {last_name[0]}." if last_name else ""
        return first_name + initial
    return username or "Gigsy student"
