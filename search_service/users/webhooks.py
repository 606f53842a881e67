"""Processing verified Clerk deliveries: one unit of work each, retries.

Index effects (a deleted or suspended user leaving search) are not handled here:
the unit of work's post-commit hooks apply them (:mod:`search_service.profiles.visibility`).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.exc import IntegrityError

from search_service.db import session_scope
from search_service.runtime import Runtime
from search_service.users.clerk import DeliveryResult, apply_event, is_duplicate_delivery

__all__ = ["DUPLICATE", "process_clerk_delivery"]

log = logging.getLogger(__name__)

DUPLICATE = "duplicate"
"""Outcome reported for a redelivered svix id (no second effect)."""

_ATTEMPTS = 3


def process_clerk_delivery(rt: Runtime, svix_id: str, event: dict[str, Any]) -> DeliveryResult:
    """Apply a verified delivery in its own transaction, exactly once per ``svix_id``.

    A unique-constraint race (the same delivery twice at once, or two events
    creating the same user) is resolved by re-checking in a new transaction: a
    known ``svix_id`` is a duplicate, anything else is retried (3 attempts).

    Raises:
        SQLAlchemyError: the database failed; the caller answers 5xx so Svix retries.
    """
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            with rt.session() as session:
                result = apply_event(session, svix_id, event)
        except IntegrityError:
            with session_scope(rt.engine) as session:
                if is_duplicate_delivery(session, svix_id):
                    return DeliveryResult(DUPLICATE, duplicate=True)
            if attempt == _ATTEMPTS:
                raise
            continue
        if result.problems:  # field names and rules only: no values (clerk_sync)
            log.warning(
                "clerk delivery %s (%s, user %s): %s",
                svix_id,
                event.get("type"),
                result.user_id,
                "; ".join(result.problems),
            )
        return result
    raise AssertionError("unreachable")  # pragma: no cover
