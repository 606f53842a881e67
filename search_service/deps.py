"""FastAPI dependencies: the runtime, a per-request session, the authenticated caller."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from models import Role
from search_service.db import session_scope
from search_service.errors import AuthenticationError, PermissionDeniedError
from search_service.repositories.api_keys import find_active_key
from search_service.runtime import Runtime

__all__ = ["Caller", "CurrentEmployer", "RuntimeDep", "SessionDep", "get_runtime", "get_session"]


def get_runtime(request: Request) -> Runtime:
    """The runtime built in the lifespan."""
    rt: Runtime = request.app.state.runtime
    return rt


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(rt: RuntimeDep) -> Iterator[Session]:
    """A session per request: commit on success, roll back on error."""
    with session_scope(rt.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]

_bearer = HTTPBearer(auto_error=False, description="API key: `Authorization: Bearer gsk_...`")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the API key's id, role and owning user (if any)."""

    key_id: int
    role: str
    user_id: int | None


def get_caller(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """Authenticate the bearer API key.

    Raises:
        AuthenticationError: no key, or an unknown or revoked key (401).
    """
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthenticationError("missing API key: send `Authorization: Bearer <key>`")
    key = find_active_key(session, credentials.credentials)
    if key is None or key.id is None:
        raise AuthenticationError("invalid or revoked API key")
    return Caller(key_id=key.id, role=key.role, user_id=key.user_id)


def require_employer(caller: Annotated[Caller, Depends(get_caller)]) -> Caller:
    """Allow employers and admins.

    Raises:
        PermissionDeniedError: any other role (403).
    """
    if caller.role not in (Role.EMPLOYER.value, Role.ADMIN.value):
        raise PermissionDeniedError("search is for employers")
    return caller


CurrentEmployer = Annotated[Caller, Depends(require_employer)]
