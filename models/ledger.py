"""The immutable ``transactions`` ledger and per-user ``user_data`` (seeds 000 and 002).

Ledger-first (seed 000): the ledger is the truth; ``users.balance_amount`` is a
cache updated in the same database transaction as each posting. Amounts are
integers in minor units (cents), signed: credits positive, debits negative; one
posting moves at most ``MAX_POSTING_AMOUNT`` either way and never zero.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator
from pydantic import Field as PydField
from pydantic_core import PydanticCustomError
from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlmodel import Column, Field, SQLModel

from models.common import CamelModel, CamelRequest, WireEnum, ms_column, now_ms

__all__ = [
    "MAX_POSTING_AMOUNT",
    "Balance",
    "LedgerKind",
    "Posting",
    "Transaction",
    "TransactionPublic",
    "UserData",
    "UserDataPublic",
    "UserDataWrite",
]


MAX_POSTING_AMOUNT = 10**12
"""Largest ``|amount|`` of one posting, in minor units (10 billion in a currency with
cents). Sums of postings this size stay far inside ``BIGINT`` (about 9.2e18), the
type of both ``transactions.amount`` and ``users.balance_amount``."""


def _non_zero(amount: int) -> int:
    if amount == 0:
        raise PydanticCustomError("zero_amount", "a posting must move money: amount is 0")
    return amount


PostingAmount = Annotated[
    int,
    PydField(
        ge=-MAX_POSTING_AMOUNT,
        le=MAX_POSTING_AMOUNT,
        json_schema_extra={"not": {"const": 0}},
        description="Minor units (cents), signed: negative for debits; never 0,"
        f" at most {MAX_POSTING_AMOUNT} either way.",
    ),
    AfterValidator(_non_zero),
]


class LedgerKind(WireEnum):
    """Why money moved."""

    GIG_PAYMENT = "gig_payment"
    PAYOUT = "payout"
    REFUND = "refund"
    FEE = "fee"
    ADJUSTMENT = "adjustment"


class Transaction(SQLModel, table=True):
    """One immutable ledger entry. Never deleted, and never updated except by the GDPR
    purge, which replaces an erased person's identifiers in ``reference`` and
    ``idempotency_key`` (docs/privacy.md)."""

    __tablename__ = "transactions"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id"), nullable=False, index=True)
    )
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(max_length=3)
    kind: str = Field(max_length=32)
    reference: str | None = Field(default=None, max_length=255)
    idempotency_key: str = Field(sa_column=Column(String(255), unique=True, nullable=False))
    created_at: int = Field(default_factory=now_ms, sa_column=ms_column(nullable=False))
    created_by: str = Field(default="system", max_length=255)


class UserData(SQLModel, table=True):
    """A key/value pair of user metadata (seed 002); key unique per user."""

    __tablename__ = "user_data"
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_user_data_user_key"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    key: str = Field(max_length=128)
    value: str = Field(sa_column=Column(Text, nullable=False))
    created_at: int = Field(default_factory=now_ms, sa_column=ms_column(nullable=False))
    updated_at: int = Field(default_factory=now_ms, sa_column=ms_column(nullable=False))


class Posting(CamelRequest):
    """A ledger posting request; ``amount`` in minor units, signed, non-zero, and
    within ``MAX_POSTING_AMOUNT`` either way."""

    clerk_id: str = PydField(min_length=1, max_length=255)
    amount: PostingAmount
    currency: str = PydField(default="USD", pattern=r"^[A-Z]{3}$")
    kind: LedgerKind
    reference: str | None = PydField(
        default=None,
        max_length=255,
        description="The source document (invoice or payout id); not a place for names.",
    )
    idempotency_key: str = PydField(min_length=1, max_length=255)


class TransactionPublic(CamelModel):
    """A ledger entry on the wire."""

    id: int
    user_id: int
    amount: int
    currency: str
    kind: str
    reference: str | None
    idempotency_key: str
    created_at: int


class Balance(CamelModel):
    """A cached balance in minor units."""

    amount: int
    currency: str


class UserDataWrite(CamelRequest):
    """Body of ``PUT /v1/users/me/data/{key}``."""

    value: str = PydField(min_length=1, max_length=10_000)


class UserDataPublic(CamelModel):
    """A user_data pair on the wire."""

    key: str
    value: str
    created_at: int
    updated_at: int
