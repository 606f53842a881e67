"""Clerk user sync from Svix-delivered webhooks (seeds 001 and 002).

Guarantees, given Svix's at-least-once, unordered delivery:

- **Idempotent**: the audit row (unique ``svix_id``) is written in the same
  transaction as the effect; a redelivery hits the unique constraint and has no
  second effect.
- **Ordered by version**: an event's version is ``data.updated_at`` (ms); an event
  older than the last one applied to a user changes nothing (outcome ``stale``).
- **Deletes stick**: ``user.deleted`` soft-deletes and writes a tombstone, so a late
  ``user.created``/``user.updated`` for that Clerk id is ignored.
- **Bans and locks suspend**: Clerk's ``banned`` or ``locked`` makes the user
  ``suspended`` (out of search, credentials refused); both false makes them
  ``active`` again. The mapping is :func:`_status_of`, and nothing else sets a
  status from Clerk.
- **Nothing valid is lost**: a field failing the seed-002 rules (valid email; first
  and last name at least 2 characters) is skipped and named in the audit row,
  and the rest of the event is applied.
- **No personal data in problems**: a problem names the field and the rule, never
  the value (``"email rejected: owned by another user"``); problems are stored in
  ``webhook_audit.error`` and logged, both of which outlive a GDPR erasure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from models import Role, User, UserStatus, UserTombstone, WebhookAudit, WebhookOutcome, now_ms
from search_service.users.repository import soft_delete_user

__all__ = [
    "ClerkUserFields",
    "DeliveryResult",
    "apply_event",
    "event_version",
    "is_duplicate_delivery",
    "map_clerk_user",
    "normalise_epoch_ms",
]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ROLES = {r.value for r in Role}
_MIN_NAME = 2
# Epoch values below this are seconds, not milliseconds (it is 2001-09-09 in ms:
# no Clerk event is that old, and no seconds value reaches it before year 33658).
_MS_THRESHOLD = 1_000_000_000_000


def normalise_epoch_ms(value: Any) -> int | None:
    """Epoch seconds or milliseconds (int/float/str) -> ms; ``None`` if not a number."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number if number >= _MS_THRESHOLD else number * 1000)


@dataclass(slots=True)
class ClerkUserFields:
    """The ``users`` columns a Clerk user payload sets, plus rule violations found
    (``problems``: field names and the rule broken, never the values)."""

    clerk_id: str
    values: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _ms(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _status_of(data: dict[str, Any]) -> UserStatus | None:
    """The account status a Clerk user object implies.

    ``banned`` (an admin ban) or ``locked`` (too many failed sign-ins, Clerk's
    user lockout) -> ``suspended``; both false -> ``active``; neither present
    (an older payload) -> ``None``, i.e. keep the current status.
    """
    flags = [data.get("banned"), data.get("locked")]
    if any(flag is True for flag in flags):
        return UserStatus.SUSPENDED
    if any(flag is False for flag in flags):
        return UserStatus.ACTIVE
    return None


def map_clerk_user(data: dict[str, Any]) -> ClerkUserFields:
    """Map Clerk's ``user`` object to ``users`` columns.

    Tolerates nulls, an empty ``email_addresses``, and unknown fields.

    Raises:
        ValueError: ``data.id`` is missing.
    """
    clerk_id = _str(data.get("id"))
    if not clerk_id:
        raise ValueError("event data has no user id")
    out = ClerkUserFields(clerk_id=clerk_id)
    primary = data.get("primary_email_address_id")
    email = None
    for entry in data.get("email_addresses") or []:
        if isinstance(entry, dict) and entry.get("id") == primary:
            email = _str(entry.get("email_address"))
    if email is not None and not _EMAIL.match(email):
        out.problems.append("email rejected: not a valid address")
        email = None
    names: dict[str, str | None] = {}
    for key in ("first_name", "last_name"):
        value = _str(data.get(key))
        if value is not None and len(value) < _MIN_NAME:
            out.problems.append(f"{key} rejected: shorter than {_MIN_NAME} characters")
            value = None
        names[key] = value
    public = _dict(data.get("public_metadata"))
    roles = public.get("roles")
    if isinstance(roles, list) and roles:
        valid = [r for r in roles if isinstance(r, str) and r in _ROLES]
        if len(valid) != len(roles):
            unknown = len(roles) - len(valid)
            out.problems.append(f"public_metadata.roles: {unknown} unknown role(s) ignored")
        roles = list(dict.fromkeys(valid)) or [Role.STUDENT.value]
    else:
        roles = [Role.STUDENT.value]
    username = _str(data.get("username"))
    name = " ".join(n for n in (names["first_name"], names["last_name"]) if n)
    out.values = {
        "email": email,
        "first_name": names["first_name"],
        "last_name": names["last_name"],
        "username": username,
        "name": name or username or "",
        "image_url": _str(data.get("image_url")),
        "external_id": _str(data.get("external_id")),
        "public_metadata": public,
        "private_metadata": _dict(data.get("private_metadata")),
        "unsafe_metadata": _dict(data.get("unsafe_metadata")),
        "last_sign_in_at": _ms(data.get("last_sign_in_at")),
        "roles": roles,
    }
    status = _status_of(data)
    if status is not None:
        out.values["status"] = status.value
    return out


def event_version(event: dict[str, Any]) -> int:
    """The event's version in ms: ``data.updated_at``, else the envelope ``timestamp``
    (seconds or ms), else now."""
    data = _dict(event.get("data"))
    updated = data.get("updated_at")
    if isinstance(updated, int) and not isinstance(updated, bool):
        return updated  # Clerk's data.updated_at is always epoch ms
    return normalise_epoch_ms(event.get("timestamp")) or now_ms()


@dataclass(slots=True)
class DeliveryResult:
    """What a delivery did (a user it soft-deletes leaves the index after the commit:
    :mod:`search_service.index.removals`)."""

    outcome: str
    duplicate: bool = False
    user_id: int | None = None
    problems: list[str] = field(default_factory=list)


def _locked_user(session: Session, clerk_id: str) -> User | None:
    # FOR UPDATE serialises concurrent events for one user on PostgreSQL (the
    # version check and the write must not interleave); SQLite already holds the
    # database write lock from the audit insert.
    stmt = select(User).where(User.clerk_id == clerk_id).with_for_update()
    return session.exec(stmt).first()


def _upsert(session: Session, mapped: ClerkUserFields, version: int) -> DeliveryResult:
    user = _locked_user(session, mapped.clerk_id)
    if session.get(UserTombstone, mapped.clerk_id) is not None:
        if user is not None and user.deleted_at is None:
            # A create that raced its delete: the tombstone wins, now.
            soft_delete_user(session, user)
        return DeliveryResult(WebhookOutcome.TOMBSTONED.value)
    values = dict(mapped.values)
    email = values.get("email")
    if email is not None:
        owner = session.exec(select(User.id).where(User.email == email)).first()
        if owner is not None and (user is None or owner != user.id):
            mapped.problems.append("email rejected: owned by another user")
            values["email"] = None if user is None else user.email
    ts = now_ms()
    if user is None:
        user = User(
            clerk_id=mapped.clerk_id,
            created_by="clerk",
            created_at=ts,
            updated_at=ts,
            clerk_updated_at=version,
            **values,
        )
        session.add(user)
        session.flush()
        return DeliveryResult(WebhookOutcome.APPLIED.value, user_id=user.id)
    if user.clerk_updated_at is not None and version < user.clerk_updated_at:
        return DeliveryResult(WebhookOutcome.STALE.value, user_id=user.id)
    for key, value in values.items():
        setattr(user, key, value)
    user.clerk_updated_at = version
    user.updated_at = max(ts, user.updated_at + 1)
    session.flush()
    return DeliveryResult(WebhookOutcome.APPLIED.value, user_id=user.id)


def _delete(session: Session, clerk_id: str) -> DeliveryResult:
    user = _locked_user(session, clerk_id)
    if session.get(UserTombstone, clerk_id) is None:
        session.add(UserTombstone(clerk_id=clerk_id))
    if user is None:
        session.flush()
        return DeliveryResult(WebhookOutcome.APPLIED.value)
    soft_delete_user(session, user)
    return DeliveryResult(WebhookOutcome.APPLIED.value, user_id=user.id)


def apply_event(session: Session, svix_id: str, event: dict[str, Any]) -> DeliveryResult:
    """Apply one verified delivery inside the caller's transaction.

    The audit row is inserted first: a redelivered ``svix_id`` raises
    ``IntegrityError`` at once (the caller rolls back and answers 200, duplicate).

    Raises:
        IntegrityError: ``svix_id`` was already processed, or a concurrent delivery
            created the same user first (retry in a new transaction).
        SQLAlchemyError: the database failed (answer 5xx so that Svix retries).
    """
    event_type = str(event.get("type") or "")
    data = _dict(event.get("data"))
    clerk_id = _str(data.get("id"))
    audit = WebhookAudit(
        svix_id=svix_id,
        event_type=event_type[:64],
        clerk_id=clerk_id,
        event_version=event_version(event),
        outcome=WebhookOutcome.FAILED.value,
    )
    session.add(audit)
    session.flush()  # claims svix_id now; a duplicate fails here
    if event_type in ("user.created", "user.updated"):
        try:
            mapped = map_clerk_user(data)
        except ValueError as exc:
            audit.outcome, audit.error = WebhookOutcome.IGNORED.value, str(exc)
            return DeliveryResult(audit.outcome, problems=[str(exc)])
        result = _upsert(session, mapped, audit.event_version or now_ms())
        result.problems = mapped.problems
    elif event_type == "user.deleted" and clerk_id:
        result = _delete(session, clerk_id)
    else:
        result = DeliveryResult(WebhookOutcome.IGNORED.value)
    audit.outcome = result.outcome
    audit.error = "; ".join(result.problems) or None
    session.flush()
    return result


def is_duplicate_delivery(session: Session, svix_id: str) -> bool:
    """True when ``svix_id`` already has an audit row."""
    stmt = select(col(WebhookAudit.id)).where(WebhookAudit.svix_id == svix_id)
    return session.exec(stmt).first() is not None
