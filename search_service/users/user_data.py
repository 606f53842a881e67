"""Per-user key/value data (seed 002): bounded in how many keys one user holds."""

from __future__ import annotations

from sqlmodel import Session

from models import UserData
from search_service.errors import ConflictError
from search_service.users.ledger_repository import (
    count_user_data,
    get_user_data,
    lock_user_row,
    put_user_data,
)

__all__ = ["set_user_data"]


def set_user_data(
    session: Session, user_id: int, key: str, value: str, *, max_keys: int
) -> tuple[UserData, bool]:
    """Create or replace the value under ``key``; returns ``(row, created)``.

    Replacing an existing key is always allowed; a new key must leave the user
    with at most ``max_keys`` keys. The user's row is locked first, so concurrent
    writers cannot pass the limit together.

    Raises:
        ConflictError: ``key`` is new and the user already holds ``max_keys`` keys
            (409, code ``too_many_keys``).
    """
    lock_user_row(session, user_id)
    if get_user_data(session, user_id, key) is None:
        held = count_user_data(session, user_id)
        if held >= max_keys:
            raise ConflictError(
                f"user data holds at most {max_keys} keys and {held} are set;"
                f" delete one before adding {key!r}",
                code="too_many_keys",
            )
    return put_user_data(session, user_id, key, value)
