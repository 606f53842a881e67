"""FastAPI dependencies: the runtime, a per-request session, the authenticated caller.

A caller authenticates with ``Authorization: Bearer <token>`` where the token is
either an API key (``gsk_...``) or a Clerk session JWT. API keys belong to a user
and act as that user, limited to the one role the key carries; a JWT acts with
all of its user's roles.

Rate limits (``search_service/ratelimit.py``) are spent here too: ``get_caller``
charges the caller's budget of the route's group, so every authenticated route
is limited; unauthenticated ``/v1`` routes depend on ``limit_public`` instead.

FastAPI runs every plain ``def`` dependency in the thread pool, one hop per
dependency (and two for a generator: its set-up and its tear-down); each hop
is a hand-off to a worker thread and back, which under load waits for a CPU
and the GIL. So the dependencies that do no I/O are
``async def`` and run on the event loop (the runtime, the role guards, the
session's creation, which takes no connection), and those that do I/O stay
``def``: authentication (SQL, the rate limiter's storage) and the session's
commit, which runs in a worker thread after the handler returns.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Annotated, TypeVar

import anyio
from anyio import CancelScope, CapacityLimiter
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from models import Role, User
from search_service.auth import ClerkJwtVerifier, InvalidTokenError, looks_like_jwt
from search_service.callers import GigManager
from search_service.db import has_pending_hooks
from search_service.errors import AuthenticationError, NotFoundError, PermissionDeniedError
from search_service.key_cache import (
    KeyCache,
    attach_user,
    authenticate_key,
    key_check_pending,
    key_from_memory,
    settle_key_check,
)
from search_service.ratelimit import RequestLimiter, RouteGroup, client_ip, route_group
from search_service.runtime import Runtime
from search_service.users.repository import find_user_by_clerk_id

__all__ = [
    "ActingUser",
    "Caller",
    "CurrentAdmin",
    "CurrentCaller",
    "CurrentEmployer",
    "CurrentGigManager",
    "CurrentStudent",
    "CurrentUser",
    "PublicRateLimit",
    "PERMISSION_GUARDS",
    "RuntimeDep",
    "SessionDep",
    "get_caller",
    "gig_manager",
    "in_worker",
    "key_checked_in_worker",
    "get_runtime",
    "get_session",
    "limit_public",
    "require_metrics_scraper",
]


async def get_runtime(request: Request) -> Runtime:
    """The runtime built in the lifespan."""
    rt: Runtime = request.app.state.runtime
    return rt


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_session(rt: RuntimeDep) -> AsyncIterator[Session]:
    """The request's unit of work: commits when the handler returns, rolls back on
    error, then runs the post-commit hooks (index removals, wake-ups).

    Scoped to the handler (``scope="function"``), so the commit and its hooks
    finish before the response is sent: a 2xx means the change is durable and
    every privacy reduction is already invisible.

    The session is created on the event loop (it takes a connection only when
    first used, in a worker thread); the commit or rollback and the hooks run in
    a worker thread of their own limiter, shielded from cancellation, as FastAPI
    runs a generator dependency's tear-down: waiting for a pool thread could
    otherwise deadlock against requests that hold pool threads and wait for a
    SQL connection this session still holds.
    """
    scope = rt.session()
    session = scope.__enter__()
    try:
        yield session
    except BaseException as exc:
        with CancelScope(shield=True):
            suppressed = await anyio.to_thread.run_sync(
                _abort, scope, session, exc, limiter=CapacityLimiter(1)
            )
        if not suppressed:
            raise
    else:
        if _settled(session):
            # The handler's worker call committed (:func:`in_worker`): nothing is
            # left to write, no connection is held, no hook is pending, so the
            # tear-down does no I/O and stays on the loop (no hand-off).
            scope.__exit__(None, None, None)
            return
        with CancelScope(shield=True):
            await anyio.to_thread.run_sync(_finish, scope, session, limiter=CapacityLimiter(1))


def _abort(scope: AbstractContextManager[Session], session: Session, exc: BaseException) -> bool:
    """Roll the request's unit of work back after ``exc``. A key answered from memory
    that a route refused before any SQL (403, 404, 422) is checked first: if it no
    longer authenticates, the request gets 401 instead, as it would have from SQL.

    Raises:
        AuthenticationError: that check failed (401); what ``scope`` raises.
    """
    refused: AuthenticationError | None = None
    if not isinstance(exc, AuthenticationError) and key_check_pending(session):
        try:
            settle_key_check(session)
        except AuthenticationError as err:
            refused = err
        except Exception:  # noqa: BLE001 - the route's own error is the one to report
            pass
    suppressed = bool(scope.__exit__(type(exc), exc, exc.__traceback__))
    if refused is not None:
        raise refused from exc
    return suppressed


def _finish(scope: AbstractContextManager[Session], session: Session) -> None:
    """Commit and close the request's unit of work (its post-commit hooks run), after
    the check a key answered from memory still owes, for a request that ran no SQL
    (``search_service/key_cache.py``); if that check fails, roll back instead.

    Raises:
        AuthenticationError: the key no longer authenticates as remembered (401).
    """
    try:
        settle_key_check(session)
    except BaseException as exc:
        scope.__exit__(type(exc), exc, exc.__traceback__)
        raise
    scope.__exit__(None, None, None)


def _settled(session: Session) -> bool:
    """``session`` holds no transaction (so no connection), no unflushed change, no
    post-commit hook and no pending check of a key answered from memory: committing
    and closing it does no I/O."""
    return (
        not key_check_pending(session)
        and not session.in_transaction()
        and not (session.new or session.dirty or session.deleted)
        and not has_pending_hooks(session)
    )


async def in_worker(session: Session, work: Callable[[], T]) -> T:
    """Run ``work`` (the handler's SQL and ranking) in one worker thread, then commit
    ``session`` in that same call (its post-commit hooks run there too), so the
    session's tear-down (:func:`get_session`) has nothing left to do off the loop:
    the request makes one hand-off for its work instead of two. An API key answered
    from memory is checked against the auth epoch before ``work`` starts (its
    first statement). On an exception nothing is committed; the tear-down rolls
    back in a worker thread as before.

    Raises:
        AuthenticationError: the remembered key no longer authenticates (401).
        Whatever ``work`` or the commit raises.
    """

    def run() -> T:
        settle_key_check(session)  # a key answered from memory is checked first
        result = work()
        settle_key_check(session)  # and again: work that caught a refusal commits nothing
        session.commit()
        return result

    return await run_in_threadpool(run)


SessionDep = Annotated[Session, Depends(get_session, scope="function")]

T = TypeVar("T")
E = TypeVar("E", bound=Callable[..., object])

_bearer = HTTPBearer(
    auto_error=False,
    description="An API key (`gsk_...`) or a Clerk session JWT: `Authorization: Bearer <token>`",
)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling.

    Attributes:
        user: the acting user (``None`` only for legacy keys made without a user).
        roles: roles this request may use.
        key_id: the API key's id, ``None`` for a JWT.
    """

    user: User | None
    roles: frozenset[str]
    key_id: int | None = None

    @property
    def user_id(self) -> int | None:
        """The acting user's id."""
        return self.user.id if self.user is not None else None

    def has(self, *roles: Role) -> bool:
        """True when the caller holds any of ``roles``."""
        return any(r.value in self.roles for r in roles)

    @property
    def rate_limit_identity(self) -> str:
        """Who pays for a request: the API key (``key:<id>``) or, for a JWT, the
        user (``user:<id>``)."""
        return f"key:{self.key_id}" if self.key_id is not None else f"user:{self.user_id}"


@dataclass(frozen=True, slots=True)
class ActingUser(Caller):
    """A caller acting as a user, as :func:`require_user` and :func:`require_student`
    return it: ``user`` and ``user_id`` are never ``None``, so routes need no checks.

    Raises:
        ValueError: ``user`` has no id (not flushed).
    """

    user: User

    def __post_init__(self) -> None:
        if self.user.id is None:
            raise ValueError("an acting user must have an id")

    @property
    def user_id(self) -> int:
        """The acting user's id."""
        uid = self.user.id
        assert uid is not None  # checked in __post_init__
        return uid

    @classmethod
    def of(cls, caller: Caller) -> ActingUser:
        """``caller`` acting as its user.

        Raises:
            PermissionDeniedError: the key belongs to no user (403).
        """
        if caller.user is None:
            raise PermissionDeniedError("this API key belongs to no user")
        return cls(user=caller.user, roles=caller.roles, key_id=caller.key_id)


def _usable(user: User | None) -> User | None:
    """The user, unless missing, soft-deleted or suspended."""
    return user if user is not None and user.is_searchable else None


def _token_of(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    """The bearer token, ``None`` without an ``Authorization: Bearer`` header."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        return None
    return credentials.credentials


def _authenticate(
    request: Request, session: Session, credentials: HTTPAuthorizationCredentials | None
) -> Caller:
    """The caller of ``credentials``, from SQL (the raises of :func:`get_caller`, 401)."""
    token = _token_of(credentials)
    if token is None:
        raise AuthenticationError("missing credentials: send `Authorization: Bearer <token>`")
    verifier: ClerkJwtVerifier | None = getattr(request.app.state, "jwt_verifier", None)
    if looks_like_jwt(token):
        if verifier is None:
            raise AuthenticationError("session tokens are not accepted here; use an API key")
        try:
            claims = verifier.verify(token)
        except InvalidTokenError as exc:
            raise AuthenticationError(f"invalid session token: {exc}") from exc
        user = _usable(find_user_by_clerk_id(session, str(claims["sub"])))
        if user is None:
            raise AuthenticationError("unknown user")
        return Caller(user=user, roles=frozenset(user.roles))
    cache: KeyCache | None = getattr(request.app.state, "key_cache", None)
    decision, row = authenticate_key(session, cache, token)
    user = attach_user(session, row) if row is not None else None
    return Caller(user=user, roles=decision.roles, key_id=decision.key_id)


_CHECKED_IN_WORKER = "__gigsy_key_checked_in_worker__"


def key_checked_in_worker(endpoint: E) -> E:
    """Mark a route whose work, SQL and writes all run in :func:`in_worker` with the
    request's session: an API key remembered in memory may authenticate it on the
    event loop, because ``in_worker`` checks the key against the auth epoch before
    the work starts (``search_service/key_cache.py``). Every other route reads its
    key from SQL first."""
    setattr(endpoint, _CHECKED_IN_WORKER, True)
    return endpoint


def _from_memory(
    request: Request, session: Session, credentials: HTTPAuthorizationCredentials | None
) -> Caller | None:
    """The caller of an API key remembered in the app's :class:`KeyCache`, with no
    I/O (``search_service/key_cache.py``: the session checks it in its first
    statement); ``None`` when the route is not marked
    :func:`key_checked_in_worker`, the key is not remembered, the token is not an
    API key, or the rate limiter's storage is not in memory (its check does I/O)."""
    cache: KeyCache | None = getattr(request.app.state, "key_cache", None)
    limiter: RequestLimiter | None = request.app.state.rate_limiter
    if cache is None or (limiter is not None and not limiter.in_memory):
        return None
    if not getattr(request.scope.get("endpoint"), _CHECKED_IN_WORKER, False):
        return None
    token = _token_of(credentials)
    if token is None or looks_like_jwt(token):
        return None
    found = key_from_memory(session, cache, token)
    if found is None:
        return None
    decision, user = found
    return Caller(user=user, roles=decision.roles, key_id=decision.key_id)


def _app_path(request: Request) -> str:
    """The path inside the app (without a proxy's ``root_path``).

    Not ``scope["route"].path``: FastAPI's included routes keep their path from
    before ``include_router(prefix=...)``.
    """
    path = request.url.path
    root = request.scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


async def get_caller(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """Authenticate the bearer token, then charge the caller's rate limit: the one
    place every authenticated route goes through, so a rule here holds on all of them.

    An API key that authenticated recently is answered from memory on the event
    loop, checked by the request's first statement (``search_service/key_cache.py``);
    any other token is authenticated from SQL in a worker thread.

    Raises:
        AuthenticationError: no token; an unknown or revoked key; an invalid or expired
            JWT; a token whose user is unknown, deleted or suspended; a caller left with
            no role (an API key whose role its user no longer has) (401).
        RateLimitedError: the caller's budget for the route's group is spent, or
            the client IP's budget of failed authentications is (429).
    """
    caller = _from_memory(request, session, credentials)
    if caller is not None:
        _charge(request, caller)
        return caller
    return await run_in_threadpool(_authenticated_and_charged, request, session, credentials)


def _authenticated_and_charged(
    request: Request, session: Session, credentials: HTTPAuthorizationCredentials | None
) -> Caller:
    limiter: RequestLimiter | None = request.app.state.rate_limiter
    try:
        caller = _authenticate(request, session, credentials)
    except AuthenticationError:
        if limiter is not None:  # throttle guessing: 429 once the IP's failures run out
            limiter.check(RouteGroup.AUTH_FAILURES, f"ip:{client_ip(request.scope)}")
        raise
    _charge(request, caller)
    return caller


def _charge(request: Request, caller: Caller) -> None:
    """Refuse a caller left with no role (401, charged to the client IP's failures),
    then charge the caller's budget of the route's group."""
    limiter: RequestLimiter | None = request.app.state.rate_limiter
    if not caller.roles:
        if limiter is not None:
            limiter.check(RouteGroup.AUTH_FAILURES, f"ip:{client_ip(request.scope)}")
        raise AuthenticationError("the credentials carry no role the user still holds")
    if limiter is not None:
        group = route_group(request.method, _app_path(request))
        limiter.check(group, caller.rate_limit_identity)


CurrentCaller = Annotated[Caller, Depends(get_caller)]


def limit_public(request: Request) -> None:
    """Charge the client IP's budget of unauthenticated ``/v1`` routes.

    The IP is the socket peer, or the ``X-Forwarded-For`` client when the peer
    is one of ``GIGSY_HTTP__TRUSTED_PROXIES`` (none by default).

    Raises:
        RateLimitedError: the IP's ``public`` budget is spent (429).
    """
    limiter: RequestLimiter | None = request.app.state.rate_limiter
    if limiter is not None:
        limiter.check(RouteGroup.PUBLIC, f"ip:{client_ip(request.scope)}")


PublicRateLimit = Depends(limit_public)
"""Route dependency of unauthenticated ``/v1`` routes: ``dependencies=[PublicRateLimit]``."""


async def require_user(caller: CurrentCaller) -> ActingUser:
    """A caller acting as a user (not a legacy user-less key).

    Raises:
        PermissionDeniedError: the key belongs to no user (403).
    """
    return ActingUser.of(caller)


async def require_employer(caller: CurrentCaller) -> Caller:
    """Employers and admins.

    Raises:
        PermissionDeniedError: any other role (403).
    """
    if not caller.has(Role.EMPLOYER, Role.ADMIN):
        raise PermissionDeniedError("search is for employers")
    return caller


async def require_gig_manager(caller: CurrentCaller) -> GigManager:
    """The caller as a gig manager: a user whose credential carries the employer
    role (their own gigs) or the admin role (any gig). Every route that acts as a
    gig's owner takes this type, so none can check ownership without the role.

    Raises:
        PermissionDeniedError: no user behind the key, or neither role (403).
    """
    manager = GigManager.of(caller.user, caller.roles)
    if manager is None:
        raise PermissionDeniedError("managing gigs takes an employer (or admin) credential")
    return manager


def gig_manager(caller: Caller) -> GigManager | None:
    """The caller as a gig manager, or ``None`` when the credential carries neither
    the employer nor the admin role (for routes any caller may use, where managers
    see more, such as a gig's drafts)."""
    return GigManager.of(caller.user, caller.roles)


async def require_admin(caller: CurrentCaller) -> Caller:
    """Admins only.

    Raises:
        PermissionDeniedError: not an admin (403).
    """
    if not caller.has(Role.ADMIN):
        raise PermissionDeniedError("admins only")
    return caller


async def require_student(caller: CurrentCaller) -> ActingUser:
    """Students (the owners of profiles), acting as their own user.

    Raises:
        PermissionDeniedError: no user behind the key, or not a student (403).
    """
    if caller.user is None or not caller.has(Role.STUDENT):
        raise PermissionDeniedError("profiles belong to students; this caller is not one")
    return ActingUser.of(caller)


def require_metrics_scraper(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """A Prometheus scraper holding ``GIGSY_METRICS__TOKEN`` (compared in constant time).

    Raises:
        NotFoundError: no token is configured: metrics are off on the API port (404).
        AuthenticationError: the bearer token is missing or wrong (401).
    """
    expected: bytes | None = getattr(request.app.state, "metrics_token", None)
    if expected is None:
        raise NotFoundError(
            "metrics are not served on the API port: set GIGSY_METRICS__TOKEN, "
            "or scrape `gigsy-search worker --metrics-port`"
        )
    sent = credentials.credentials.encode() if credentials is not None else b""
    if not hmac.compare_digest(sent, expected):
        raise AuthenticationError("send `Authorization: Bearer <GIGSY_METRICS__TOKEN>`")


#: Dependencies that answer 403; the OpenAPI schema documents 403 on routes using one.
PERMISSION_GUARDS = (
    require_user,
    require_employer,
    require_admin,
    require_student,
    require_gig_manager,
)

CurrentUser = Annotated[ActingUser, Depends(require_user)]
CurrentStudent = Annotated[ActingUser, Depends(require_student)]
CurrentEmployer = Annotated[Caller, Depends(require_employer)]
CurrentAdmin = Annotated[Caller, Depends(require_admin)]
CurrentGigManager = Annotated[GigManager, Depends(require_gig_manager)]
