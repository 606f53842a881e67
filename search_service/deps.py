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
from search_service.ratelimit import RequestLimiter, RouteGroup, client_ip, route_group
from search_service.runtime import Runtime
from search_service.users.api_keys import find_active_key_and_user
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
                scope.__exit__, type(exc), exc, exc.__traceback__, limiter=CapacityLimiter(1)
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
            await anyio.to_thread.run_sync(
                scope.__exit__, None, None, None, limiter=CapacityLimiter(1)
            )


def _settled(session: Session) -> bool:
    """``session`` holds no transaction (so no connection), no unflushed change and
    no post-commit hook: committing and closing it does no I/O."""
    return (
        not session.in_transaction()
        and not (session.new or session.dirty or session.deleted)
        and not has_pending_hooks(session)
    )


async def in_worker(session: Session, work: Callable[[], T]) -> T:
    """Run ``work`` (the handler's SQL and ranking) in one worker thread, then commit
    ``session`` in that same call (its post-commit hooks run there too), so the
    session's tear-down (:func:`get_session`) has nothing left to do off the loop:
    the request makes one hand-off for its work instead of two. On an exception
    nothing is committed; the tear-down rolls back in a worker thread as before.

    Raises:
        Whatever ``work`` or the commit raises.
    """

    def run() -> T:
        result = work()
        session.commit()
        return result

    return await run_in_threadpool(run)


SessionDep = Annotated[Session, Depends(get_session, scope="function")]

T = TypeVar("T")

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


def _authenticate(
    request: Request, session: Session, credentials: HTTPAuthorizationCredentials | None
) -> Caller:
    """The caller of ``credentials`` (the raises of :func:`get_caller`, 401)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthenticationError("missing credentials: send `Authorization: Bearer <token>`")
    token = credentials.credentials
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
    found = find_active_key_and_user(session, token)
    if found is None:
        raise AuthenticationError("invalid or revoked API key")
    key, owner = found
    if key.user_id is None:
        return Caller(user=None, roles=frozenset({key.role}), key_id=key.id)
    user = _usable(owner)
    if user is None:
        raise AuthenticationError("the API key's user is deleted or suspended")
    # A key acts with its one role, and only while its user still holds that role.
    roles = frozenset({key.role}) & frozenset(user.roles)
    return Caller(user=user, roles=roles, key_id=key.id)


def _app_path(request: Request) -> str:
    """The path inside the app (without a proxy's ``root_path``).

    Not ``scope["route"].path``: FastAPI's included routes keep their path from
    before ``include_router(prefix=...)``.
    """
    path = request.url.path
    root = request.scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def get_caller(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """Authenticate the bearer token, then charge the caller's rate limit: the one
    place every authenticated route goes through, so a rule here holds on all of them.

    Raises:
        AuthenticationError: no token; an unknown or revoked key; an invalid or expired
            JWT; a token whose user is unknown, deleted or suspended; a caller left with
            no role (an API key whose role its user no longer has) (401).
        RateLimitedError: the caller's budget for the route's group is spent, or
            the client IP's budget of failed authentications is (429).
    """
    limiter: RequestLimiter | None = request.app.state.rate_limiter
    try:
        caller = _authenticate(request, session, credentials)
        if not caller.roles:
            raise AuthenticationError("the credentials carry no role the user still holds")
    except AuthenticationError:
        if limiter is not None:  # throttle guessing: 429 once the IP's failures run out
            limiter.check(RouteGroup.AUTH_FAILURES, f"ip:{client_ip(request.scope)}")
        raise
    if limiter is not None:
        group = route_group(request.method, _app_path(request))
        limiter.check(group, caller.rate_limit_identity)
    return caller


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
