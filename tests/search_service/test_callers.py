"""Who may call at all: a property over every route that authenticates its caller.

The routes are found by walking each route's dependency tree for ``get_caller``,
so a route added later is covered without touching this file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import select

from models import User, UserStatus, now_ms
from search_service.app import create_app
from search_service.db import session_scope
from search_service.deps import get_caller
from search_service.runtime import Runtime
from search_service.settings import ClerkSettings, Settings
from search_service.users.api_keys import create_api_key
from tests.factories import make_student
from tests.search_service.jwt_helpers import (
    AZP,
    ISSUER,
    bearer,
    make_token,
    write_jwks,
)

_PARAM = re.compile(r"\{[^}]+\}")


def _depends_on_caller(dependant: Dependant) -> bool:
    return any(d.call is get_caller or _depends_on_caller(d) for d in dependant.dependencies)


def caller_routes(app: FastAPI) -> list[tuple[str, str]]:
    """``(method, path)`` of every route that authenticates through ``get_caller``,
    path parameters filled with ``1`` (valid for every id and key parameter).

    FastAPI keeps included routers nested; ``iter_route_contexts`` (what its
    OpenAPI generator walks) yields each effective route with the dependencies
    of its router includes merged in.
    """
    out = []
    for context in iter_route_contexts(app.routes):
        dependant = getattr(context, "dependant", None)
        if isinstance(dependant, Dependant) and _depends_on_caller(dependant):
            path = _PARAM.sub("1", str(context.path))
            out += [(method, path) for method in sorted(context.methods or ())]
    return out


@pytest.fixture
def full_app(
    settings: Settings, runtime: Runtime, tmp_path: Path, rsa_key: rsa.RSAPrivateKey
) -> FastAPI:
    """The app with every optional router mounted (JWTs and the Clerk webhook on)."""
    clerk = ClerkSettings(
        jwks_file=write_jwks(tmp_path / "jwks.json", rsa_key),
        issuer=ISSUER,
        authorized_parties=[AZP],
        webhook_secret=SecretStr("whsec_dGVzdHRlc3R0ZXN0dGVzdHRlc3Q="),
    )
    return create_app(settings.model_copy(update={"clerk": clerk}), runtime=runtime)


@pytest.fixture
def api(full_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(full_app) as c:
        yield c


def _student(rt: Runtime, clerk_id: str) -> User:
    make_student(rt, clerk_id=clerk_id, headline="x")
    with session_scope(rt.engine) as session:
        return session.exec(select(User).where(User.clerk_id == clerk_id)).one()


def _key(rt: Runtime, user: User, role: str) -> dict[str, str]:
    with session_scope(rt.engine) as session:
        _, key = create_api_key(session, role=role, user_id=user.id)
    return bearer(key)


def _update(rt: Runtime, user: User, **values: object) -> None:
    with session_scope(rt.engine) as session:
        row = session.get(User, user.id)
        assert row is not None
        for name, value in values.items():
            setattr(row, name, value)


BadCaller = Callable[[Runtime, rsa.RSAPrivateKey], dict[str, str]]


def _key_whose_role_was_removed(rt: Runtime, key: rsa.RSAPrivateKey) -> dict[str, str]:
    user = _student(rt, "c_role_removed")
    headers = _key(rt, user, "student")
    _update(rt, user, roles=["employer"])  # the key's role is no longer the user's
    return headers


def _jwt_of_user_without_roles(rt: Runtime, key: rsa.RSAPrivateKey) -> dict[str, str]:
    user = _student(rt, "c_no_roles")
    _update(rt, user, roles=[])
    return bearer(make_token(key, "c_no_roles"))


def _key_of_suspended_user(rt: Runtime, key: rsa.RSAPrivateKey) -> dict[str, str]:
    user = _student(rt, "c_suspended_key")
    headers = _key(rt, user, "student")
    _update(rt, user, status=UserStatus.SUSPENDED.value)
    return headers


def _jwt_of_suspended_user(rt: Runtime, key: rsa.RSAPrivateKey) -> dict[str, str]:
    user = _student(rt, "c_suspended_jwt")
    _update(rt, user, status=UserStatus.SUSPENDED.value)
    return bearer(make_token(key, "c_suspended_jwt"))


def _key_of_deleted_user(rt: Runtime, key: rsa.RSAPrivateKey) -> dict[str, str]:
    user = _student(rt, "c_deleted")
    headers = _key(rt, user, "student")
    _update(rt, user, deleted_at=now_ms())
    return headers


BAD_CALLERS: dict[str, BadCaller] = {
    "key-whose-role-was-removed": _key_whose_role_was_removed,
    "jwt-of-user-without-roles": _jwt_of_user_without_roles,
    "key-of-suspended-user": _key_of_suspended_user,
    "jwt-of-suspended-user": _jwt_of_suspended_user,
    "key-of-deleted-user": _key_of_deleted_user,
}


def test_route_discovery_finds_the_authenticated_routes_only(full_app: FastAPI) -> None:
    found = {path for _, path in caller_routes(full_app)}
    for path in ("/v1/search", "/v1/me/profile", "/v1/me", "/v1/users/me/balance"):
        assert path in found
    assert "/v1/admin/api-keys" in found and "/v1/users/by-clerk-id/1" in found
    for public in ("/healthz", "/metrics", "/webhooks/clerk", "/v1/profiles/1/public"):
        assert public not in found


@pytest.mark.parametrize("make_caller", BAD_CALLERS.values(), ids=BAD_CALLERS.keys())
def test_every_authenticated_route_refuses_the_caller_with_401(
    api: TestClient,
    full_app: FastAPI,
    runtime: Runtime,
    rsa_key: rsa.RSAPrivateKey,
    make_caller: BadCaller,
) -> None:
    headers = make_caller(runtime, rsa_key)
    routes = caller_routes(full_app)
    assert len(routes) >= 10
    wrong = {}
    for method, path in routes:
        r = api.request(method, path, headers=headers)
        is_json = r.headers.get("content-type", "").startswith("application/json")
        body = r.json() if is_json else None
        if (
            r.status_code != 401
            or not isinstance(body, dict)
            or set(body) != {"error", "detail"}
            or body["error"] != "unauthorized"
            or r.headers.get("www-authenticate") != "Bearer"
        ):
            wrong[f"{method} {path}"] = (r.status_code, r.text[:80])
    assert wrong == {}


def test_the_same_key_works_while_its_user_holds_the_role(
    api: TestClient, runtime: Runtime
) -> None:
    user = _student(runtime, "c_control")
    headers = _key(runtime, user, "student")
    assert api.get("/v1/users/me/balance", headers=headers).status_code == 200
    assert api.get("/v1/me/profile", headers=headers).status_code == 200
    _update(runtime, user, roles=["student", "employer"])  # a role added: still fine
    assert api.get("/v1/users/me/balance", headers=headers).status_code == 200
    _update(runtime, user, roles=["employer"])
    r = api.get("/v1/users/me/balance", headers=headers)
    assert r.status_code == 401, r.text
    _update(runtime, user, roles=["student"])  # given back: the key works again
    assert api.get("/v1/users/me/balance", headers=headers).status_code == 200


def test_a_suspended_user_is_refused_and_works_again_when_active(
    api: TestClient, runtime: Runtime, rsa_key: rsa.RSAPrivateKey
) -> None:
    user = _student(runtime, "c_suspend_cycle")
    key = _key(runtime, user, "student")
    jwt_headers = bearer(make_token(rsa_key, "c_suspend_cycle"))
    for headers in (key, jwt_headers):
        assert api.get("/v1/me/profile", headers=headers).status_code == 200
    _update(runtime, user, status=UserStatus.SUSPENDED.value)
    for headers in (key, jwt_headers):
        assert api.get("/v1/me/profile", headers=headers).status_code == 401
    _update(runtime, user, status=UserStatus.ACTIVE.value)
    for headers in (key, jwt_headers):
        assert api.get("/v1/me/profile", headers=headers).status_code == 200
