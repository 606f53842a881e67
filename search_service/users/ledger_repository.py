"""SQL for the ledger, cached balances and user_data."""

from __future__ import annotations

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from models import Transaction, User, UserData, now_ms

__all__ = [
    "balances_with_ledger_sums",
    "count_user_data",
    "delete_user_data",
    "find_transaction",
    "get_user_data",
    "insert_transaction",
    "list_user_data",
    "lock_user_row",
    "put_user_data",
]


def find_transaction(session: Session, idempotency_key: str) -> Transaction | None:
    """The ledger row with this idempotency key, if any."""
    stmt = select(Transaction).where(Transaction.idempotency_key == idempotency_key)
    return session.exec(stmt).first()


def insert_transaction(session: Session, tx: Transaction) -> Transaction:
    """Append ``tx`` and add its amount to the user's cached balance, atomically.

    The balance update is a single ``UPDATE ... SET balance = balance + :amount``
    in the same transaction, so concurrent postings never lose an update.
    """
    session.add(tx)
    session.execute(
        update(User)
        .where(col(User.id) == tx.user_id)
        .values(balance_amount=col(User.balance_amount) + tx.amount)
    )
    session.flush()
    return tx


def balances_with_ledger_sums(session: Session) -> list[tuple[int, str, int, int]]:
    """``(user id, clerk id, cached balance, sum of ledger amounts)`` of every user,
    deleted ones included, by id.

    One statement, so the cached balances and the sums come from one snapshot
    (PostgreSQL and SQLite both give a statement a consistent view): a posting
    committed meanwhile is either in both or in neither.
    """
    sums = (
        select(
            col(Transaction.user_id).label("user_id"),
            func.sum(Transaction.amount).label("total"),
        )
        .group_by(col(Transaction.user_id))
        .subquery()
    )
    stmt = (
        select(User.id, User.clerk_id, User.balance_amount, func.coalesce(sums.c.total, 0))
        .outerjoin(sums, sums.c.user_id == User.id)
        .order_by(col(User.id))
    )
    return [
        (uid, clerk, int(bal), int(total))
        for uid, clerk, bal, total in session.exec(stmt)
        if uid is not None
    ]


def list_user_data(
    session: Session, user_id: int, *, after: str | None = None, limit: int | None = None
) -> list[UserData]:
    """A user's key/value pairs, by key: those after the key ``after`` (keyset
    paging), at most ``limit``."""
    stmt = select(UserData).where(UserData.user_id == user_id)
    if after is not None:
        stmt = stmt.where(col(UserData.key) > after)
    stmt = stmt.order_by(col(UserData.key))
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.exec(stmt))


def count_user_data(session: Session, user_id: int) -> int:
    """How many keys a user holds."""
    stmt = select(func.count()).select_from(UserData).where(UserData.user_id == user_id)
    return int(session.exec(stmt).one())


def lock_user_row(session: Session, user_id: int) -> None:
    """Hold the user's row until the transaction ends, so a check such as "fewer
    than N keys" still holds when the insert after it commits.

    A no-op ``UPDATE`` rather than ``SELECT ... FOR UPDATE``: it is a write, so it
    takes PostgreSQL's row lock and SQLite's database write lock alike (SQLite has
    no ``FOR UPDATE``, and its reads do not block writers).
    """
    session.execute(
        update(User)
        .where(col(User.id) == user_id)
        .values(id=col(User.id))
        .execution_options(synchronize_session=False)
    )


def get_user_data(session: Session, user_id: int, key: str) -> UserData | None:
    """One pair, if present."""
    stmt = select(UserData).where(UserData.user_id == user_id, UserData.key == key)
    return session.exec(stmt).first()


def put_user_data(session: Session, user_id: int, key: str, value: str) -> tuple[UserData, bool]:
    """Insert or replace; returns ``(row, created)``."""
    row = get_user_data(session, user_id, key)
    if row is None:
        row = UserData(user_id=user_id, key=key, value=value)
        session.add(row)
        session.flush()
        return row, True
    row.value = value
    row.updated_at = now_ms()
    session.flush()
    return row, False


def delete_user_data(session: Session, user_id: int, key: str) -> bool:
    """Delete one pair; False when it did not exist."""
    row = get_user_data(session, user_id, key)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True
