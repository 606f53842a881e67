"""API-key authentication answered from memory, checked in the request's first statement.

An API key's authentication is a pure function of SQL rows: the key (unrevoked,
its role, its user) and the user's :data:`models.AUTH_USER_COLUMNS` (roles, status,
deletion). :class:`KeyCache` keeps that outcome per key digest together with the
:class:`models.AuthEpoch` value read in the same statement; database triggers move
the epoch in the transaction of every change that could alter an outcome (a
revoked or deleted key, a suspended, deleted or demoted user), from any process
or statement.

A request whose key is in memory is authenticated on the event loop with no I/O
and no hand-off to a worker thread (:func:`key_from_memory`). Its session then
carries a pending check, run by a session hook when the request's first
transaction begins (:func:`_check_on_begin`, before any of its statements runs):
one statement reads the epoch (with the index's pending removals, which
authentication reads anyway). An unchanged epoch confirms the outcome; a changed
one authenticates again in that transaction, and a different outcome ends the
request with 401 before it read or wrote anything else. A request that runs no
SQL at all runs the check when its session closes (:func:`settle_key_check`),
before the response is sent. So a revoked key stops working on the next request,
whatever process revoked it: memory saves the key's statement and the hand-off,
never the check. Time-to-live plays no part.

The caller's :class:`models.User` is attached to the session from the remembered
columns without SQL (:func:`attach_user`); its other columns load on first use,
from the row as it is then.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import SessionTransaction
from sqlalchemy.orm.attributes import instance_state, set_committed_value
from sqlmodel import Session

from models import AUTH_USER_COLUMNS, User, account_is_live
from search_service.errors import AuthenticationError
from search_service.outbox import remember_pending_removals
from search_service.users.api_keys import (
    KeyRow,
    find_active_key_and_user,
    hash_key,
    read_auth_epoch,
)

__all__ = [
    "DEFAULT_MAX_KEYS",
    "KeyCache",
    "KeyDecision",
    "attach_user",
    "authenticate_key",
    "decide",
    "key_check_pending",
    "key_from_memory",
    "settle_key_check",
]

DEFAULT_MAX_KEYS = 10_000
"""Keys :class:`KeyCache` remembers by default (about 1 KB each); the oldest
entry goes first when it is full."""

_PENDING = "gigsy.key_check"
"""``session.info`` key of the check a key answered from memory still owes."""

_USER_MAPPER = sa_inspect(User)
_USER_COLUMN_KEYS = tuple(User.__table__.c.keys())  # type: ignore[attr-defined]

_REFUSED = "gigsy.key_refused"
"""``session.info`` key: why the check refused the key (every later check refuses too)."""


@dataclass(frozen=True, slots=True)
class KeyDecision:
    """The outcome of an API key's authentication.

    Attributes:
        key_id: the key's id.
        roles: the roles the request may use: the key's one role, while its user
            still holds it (empty: the user no longer does).
        user: the user's :data:`models.AUTH_USER_COLUMNS`, ``None`` for a key made
            without a user.
    """

    key_id: int
    roles: frozenset[str]
    user: dict[str, Any] | None


def decide(row: KeyRow | None) -> KeyDecision:
    """The outcome of authenticating with the key of ``row``
    (:func:`~search_service.users.api_keys.find_active_key_and_user`).

    Raises:
        AuthenticationError: no such unrevoked key; its user is gone, soft-deleted
            or suspended (401).
    """
    if row is None:
        raise AuthenticationError("invalid or revoked API key")
    key = row.key
    if key.user_id is None:
        return KeyDecision(key.id, frozenset({key.role}), None)
    user = row.user
    if user is None or not account_is_live(user["deleted_at"], user["status"]):
        raise AuthenticationError("the API key's user is deleted or suspended")
    # A key acts with its one role, and only while its user still holds that role.
    roles = frozenset({key.role}) & frozenset(user["roles"])
    return KeyDecision(key.id, roles, {name: user[name] for name in AUTH_USER_COLUMNS})


class KeyCache:
    """Key digest -> (:class:`models.AuthEpoch` value, :class:`KeyDecision`) of
    the keys that authenticated recently, at most ``max_keys`` (the oldest entry
    goes first). Thread-safe: the event loop reads it, worker threads fill it.

    Args:
        max_keys: capacity (>= 1).

    Raises:
        ValueError: ``max_keys`` < 1.
    """

    def __init__(self, max_keys: int = DEFAULT_MAX_KEYS):
        if max_keys < 1:
            raise ValueError(f"max_keys must be >= 1, got {max_keys}")
        self._max = max_keys
        self._entries: dict[str, tuple[int, KeyDecision]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key_hash: str) -> tuple[int, KeyDecision] | None:
        """The remembered ``(epoch, decision)`` of the key whose digest is ``key_hash``."""
        return self._entries.get(key_hash)

    def put(self, key_hash: str, epoch: int, decision: KeyDecision) -> None:
        """Remember ``decision``, read when the epoch was ``epoch``."""
        with self._lock:
            self._entries.pop(key_hash, None)
            while len(self._entries) >= self._max:
                del self._entries[next(iter(self._entries))]
            self._entries[key_hash] = (epoch, decision)

    def clear(self) -> None:
        """Forget every key."""
        with self._lock:
            self._entries.clear()

    def drop(self, key_hash: str) -> None:
        """Forget the key whose digest is ``key_hash`` (no error when unknown)."""
        with self._lock:
            self._entries.pop(key_hash, None)


@dataclass(slots=True)
class _Check:
    """What a key answered from memory owes: the epoch its decision was read at."""

    cache: KeyCache
    key_hash: str
    epoch: int
    decision: KeyDecision
    user: User | None


def attach_user(session: Session, columns: dict[str, Any]) -> User:
    """The user of ``columns`` (a whole ``users`` row, or at least
    :data:`models.AUTH_USER_COLUMNS`), attached to ``session`` as a persistent row
    without SQL: those columns are as given, every missing column loads from the
    database on first attribute access (one ``SELECT``
    by primary key, in whatever thread touches it first, so never on the event
    loop; ``model_dump`` reads only what is loaded).

    Built as the ORM builds a loaded row (``ClassManager.new_instance``, no
    ``__init__``): the SQLModel constructor cost 350 us, this 40 us.
    ``columns`` is not shared with the returned entity (its lists are copied).
    """
    user: User = _USER_MAPPER.class_manager.new_instance()
    for name, value in columns.items():
        set_committed_value(user, name, list(value) if isinstance(value, list) else value)
    instance_state(user).key = _USER_MAPPER.identity_key_from_primary_key((columns["id"],))
    session.add(user)
    missing = [name for name in _USER_COLUMN_KEYS if name not in columns]
    if missing:
        session.expire(user, missing)
    return user


def authenticate_key(
    session: Session, cache: KeyCache | None, token: str
) -> tuple[KeyDecision, dict[str, Any] | None]:
    """Authenticate the API key ``token`` with one statement in ``session``
    (blocking: a worker thread), keep the index's pending removals it read in the
    session, and remember the outcome in ``cache`` (not one that leaves no role: it
    is refused, and must be read again once the role is back).

    Returns:
        The decision and the user's whole row (``None``: a key without a user).

    Raises:
        AuthenticationError: see :func:`decide` (401); the key is forgotten.
    """
    key_hash = hash_key(token)
    row = find_active_key_and_user(session.connection(), key_hash)
    if row is not None:
        remember_pending_removals(session, row.removals)
    try:
        decision = decide(row)
    except AuthenticationError:
        if cache is not None:
            cache.drop(key_hash)
        raise
    if cache is not None:
        _remember(cache, key_hash, row, decision)
    return decision, (row.user if row is not None else None)


def _remember(cache: KeyCache, key_hash: str, row: KeyRow | None, decision: KeyDecision) -> None:
    """Remember ``decision`` with the epoch ``row`` was read at; forget the key when
    there is no epoch or the decision leaves no role (refused: it must be read
    again once the role is back)."""
    if row is not None and row.epoch is not None and decision.roles:
        cache.put(key_hash, row.epoch, decision)
    else:
        cache.drop(key_hash)


def key_from_memory(
    session: Session, cache: KeyCache, token: str
) -> tuple[KeyDecision, User | None] | None:
    """The remembered decision of the API key ``token`` and its user, attached to
    ``session`` (:func:`attach_user`; ``None`` for a key without a user), or
    ``None`` when the key is not in ``cache``. No I/O: safe on the event loop. The
    check it owes is left in ``session`` (run when its first transaction begins, or
    by :func:`settle_key_check`); that check refreshes the user's columns if they
    changed meanwhile.
    """
    if session.in_transaction():  # its begin hook may have run: the check could not
        return None
    key_hash = hash_key(token)
    hit = cache.get(key_hash)
    if hit is None:
        return None
    epoch, decision = hit
    user = attach_user(session, decision.user) if decision.user is not None else None
    session.info[_PENDING] = _Check(cache, key_hash, epoch, decision, user)
    return decision, user


def key_check_pending(session: Session) -> bool:
    """``session`` still owes the check of a key answered from memory."""
    return _PENDING in session.info


def settle_key_check(session: Session) -> None:
    """Run the check ``session`` owes, if any, now (blocking: a worker thread): for a
    request that ran no SQL before its session closes.

    Raises:
        AuthenticationError: the key no longer authenticates as remembered (401).
    """
    refused = session.info.get(_REFUSED)
    if refused is not None:
        raise AuthenticationError(refused)
    if _PENDING in session.info:
        session.connection()  # begins the transaction: _check_on_begin runs


@event.listens_for(OrmSession, "after_begin")
def _check_on_begin(session: OrmSession, transaction: SessionTransaction, conn: Connection) -> None:
    """Session hook: the first transaction of a request whose key was answered from
    memory reads the epoch (and the index's pending removals) before anything else;
    see the module docstring.

    Raises:
        AuthenticationError: the key is revoked, its user deleted or suspended, or
            its roles changed since it was remembered (401); it is forgotten.
    """
    check: _Check | None = session.info.pop(_PENDING, None)
    if check is None:
        return
    try:
        _check(session, check, conn)
    except AuthenticationError as exc:
        # Sticky: code that caught this error cannot go on unchecked; the commit
        # (in_worker, the session's tear-down) refuses again.
        session.info[_REFUSED] = str(exc)
        raise


def _check(session: OrmSession, check: _Check, conn: Connection) -> None:
    epoch, removals = read_auth_epoch(conn)
    remember_pending_removals(session, removals)  # type: ignore[arg-type]
    if epoch is not None and epoch == check.epoch:
        return
    if epoch is None:  # the row is gone: no epoch can vouch for any remembered key
        check.cache.clear()
    row = find_active_key_and_user(conn, check.key_hash)
    try:
        decision = decide(row)
    except AuthenticationError:
        check.cache.drop(check.key_hash)
        raise
    before = check.decision
    same_user = (decision.user or {}).get("id") == (before.user or {}).get("id")
    if decision.key_id != before.key_id or decision.roles != before.roles or not same_user:
        check.cache.drop(check.key_hash)
        raise AuthenticationError("the API key changed during this request; send it again")
    if check.user is not None and decision.user is not None:
        for name, value in decision.user.items():
            if name != "id":
                set_committed_value(check.user, name, value)
    _remember(check.cache, check.key_hash, row, decision)
