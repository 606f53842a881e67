"""Ledger-first balances (seed 000): post to the immutable ledger, prove the cache.

Every posting writes the ledger row and moves ``users.balance_amount`` in one
database transaction. An idempotency key makes a retried posting return the
original entry; reusing a key for a different posting is a conflict.
Reconciliation recomputes every balance from the ledger and reports drift.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from models import Posting, Transaction
from search_service.db import session_scope
from search_service.errors import ConflictError, NotFoundError
from search_service.users.ledger_repository import (
    balances_with_ledger_sums,
    find_transaction,
    insert_transaction,
)
from search_service.users.repository import find_user_by_clerk_id

__all__ = ["BalanceDrift", "ReconcileReport", "post_transaction", "reconcile_balances"]

log = logging.getLogger(__name__)


def _same(tx: Transaction, user_id: int, p: Posting) -> bool:
    return (tx.user_id, tx.amount, tx.currency, tx.kind, tx.reference) == (
        user_id,
        p.amount,
        p.currency,
        p.kind.value,
        p.reference,
    )


def post_transaction(
    engine: Engine, posting: Posting, *, created_by: str = "system"
) -> tuple[Transaction, bool]:
    """Post one ledger entry; returns ``(entry, created)``.

    Raises:
        NotFoundError: no (undeleted) user has ``posting.clerk_id``.
        ConflictError: the idempotency key was used for a different posting, or the
            currency differs from the user's balance currency.
    """
    for _ in range(2):
        try:
            with session_scope(engine) as session:
                return _post(session, posting, created_by)
        except IntegrityError:
            continue  # a concurrent post with the same key won: read it back
    with session_scope(engine) as session:
        return _post(session, posting, created_by)


def _post(session: Session, posting: Posting, created_by: str) -> tuple[Transaction, bool]:
    user = find_user_by_clerk_id(session, posting.clerk_id)
    if user is None or user.id is None:
        raise NotFoundError(f"no user with clerkId {posting.clerk_id!r}")
    existing = find_transaction(session, posting.idempotency_key)
    if existing is not None:
        if not _same(existing, user.id, posting):
            raise ConflictError("idempotency key already used for a different posting")
        return existing, False
    if posting.currency != user.balance_currency:
        raise ConflictError(
            f"posting currency {posting.currency} differs from the balance currency"
            f" {user.balance_currency}"
        )
    tx = Transaction(
        user_id=user.id,
        amount=posting.amount,
        currency=posting.currency,
        kind=posting.kind.value,
        reference=posting.reference,
        idempotency_key=posting.idempotency_key,
        created_by=created_by,
    )
    return insert_transaction(session, tx), True


@dataclass(frozen=True, slots=True)
class BalanceDrift:
    """A user whose cached balance differs from the ledger (minor units)."""

    user_id: int
    clerk_id: str
    cached: int
    ledger: int


@dataclass(slots=True)
class ReconcileReport:
    """How many balances were checked and which drifted."""

    checked: int = 0
    drifts: list[BalanceDrift] = field(default_factory=list)


def reconcile_balances(engine: Engine) -> ReconcileReport:
    """Compare every cached balance with the sum of its ledger; log and return drift.

    Read-only: a drift is a bug to investigate, not something to paper over.
    Balances and sums are read in one statement, hence one snapshot, so postings
    committed while the check runs never show up as drift.
    """
    report = ReconcileReport()
    with session_scope(engine) as session:
        rows = balances_with_ledger_sums(session)
    report.checked = len(rows)
    report.drifts = [
        BalanceDrift(uid, clerk_id, cached, ledger)
        for uid, clerk_id, cached, ledger in rows
        if cached != ledger
    ]
    for d in report.drifts:
        log.error(
            "balance drift: user %s (%s) cached %d, ledger %d",
            d.user_id,
            d.clerk_id,
            d.cached,
            d.ledger,
        )
    return report
