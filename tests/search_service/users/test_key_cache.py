"""API keys remembered in memory (search_service/key_cache.py): every change that
could alter a key's authentication moves the auth epoch, whatever wrote it, and a
remembered key stops working on the next request after such a change."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, text, update
from sqlmodel import col, select

from models import ApiKey, User, now_ms
from search_service.app import create_app
from search_service.db import session_scope
from search_service.deps import (
    CurrentCaller,
    CurrentEmployer,
    SessionDep,
    in_worker,
    key_checked_in_worker,
)
from search_service.errors import AuthenticationError
from search_service.key_cache import KeyCache, KeyDecision
from search_service.runtime import Runtime
from search_service.settings import HttpSettings, Settings
from search_service.users.api_keys import create_api_key, revoke_api_key
from tests.factories import make_student


def _epoch(engine: Engine) -> int:
    with engine.connect() as conn:
        value = conn.execute(text("SELECT epoch FROM auth_epoch WHERE id = 1")).scalar_one()
    return int(value)


def _user(rt: Runtime, clerk_id: str, roles: list[str]) -> int:
    make_student(rt, clerk_id=clerk_id, headline="Someone")
    with session_scope(rt.engine) as session:
        user = session.exec(select(User).where(col(User.clerk_id) == clerk_id)).one()
        user.roles = roles
        assert user.id is not None
        return user.id


def _key(rt: Runtime, user_id: int | None, role: str) -> tuple[int, str]:
    with session_scope(rt.engine) as session:
        row, key = create_api_key(session, role=role, user_id=user_id)
        assert row.id is not None
        return row.id, key


def _sql(rt: Runtime, statement: Any) -> None:
    """``statement`` in its own transaction, as another process would write it."""
    with rt.engine.begin() as conn:
        conn.execute(statement)


class TestEpoch:
    def test_each_change_that_can_alter_an_authentication_moves_it(self, runtime: Runtime) -> None:
        uid = _user(runtime, "user_a", ["employer"])
        other = _user(runtime, "user_b", ["student"])
        key_id, _ = _key(runtime, uid, "employer")
        _key(runtime, other, "student")  # deleted with its user (foreign key cascade)
        users, keys = User.__table__, ApiKey.__table__  # type: ignore[attr-defined]
        changes: list[tuple[str, Callable[[], None]]] = [
            ("key revoked", lambda: _sql(runtime, update(keys).values(revoked_at=now_ms()))),
            ("key role", lambda: _sql(runtime, update(keys).values(role="student"))),
            ("roles", lambda: _sql(runtime, update(users).values(roles=["student"]))),
            ("suspended", lambda: _sql(runtime, update(users).values(status="suspended"))),
            ("soft-deleted", lambda: _sql(runtime, update(users).values(deleted_at=1))),
            ("key moved", lambda: _sql(runtime, update(keys).values(user_id=other))),
            (
                "key deleted",
                lambda: _sql(runtime, text(f"DELETE FROM api_keys WHERE id = {key_id}")),
            ),
            ("user deleted", lambda: _sql(runtime, text(f"DELETE FROM users WHERE id = {other}"))),
        ]
        for what, change in changes:
            before = _epoch(runtime.engine)
            change()
            assert _epoch(runtime.engine) > before, what
        key_id, _ = _key(runtime, uid, "employer")
        with session_scope(runtime.engine) as session:  # through the ORM too
            before = _epoch(runtime.engine)
            assert revoke_api_key(session, key_id)
        assert _epoch(runtime.engine) > before
        with session_scope(runtime.engine) as session:
            before = _epoch(runtime.engine)
            user = session.get(User, uid)
            assert user is not None
            user.roles = ["admin"]
        assert _epoch(runtime.engine) > before

    def test_changes_outside_the_decision_leave_it(self, runtime: Runtime) -> None:
        uid = _user(runtime, "user_a", ["employer"])
        _key(runtime, uid, "employer")
        before = _epoch(runtime.engine)
        users = User.__table__  # type: ignore[attr-defined]
        _sql(runtime, update(users).values(name="Renamed", balance_amount=5))
        _key(runtime, uid, "employer")  # a new key: no remembered outcome can change
        assert _epoch(runtime.engine) == before


@contextmanager
def _statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


@pytest.fixture
def client(settings: Settings, runtime: Runtime) -> Iterator[TestClient]:
    """The app with test routes marked :func:`key_checked_in_worker` (as every ranked
    list is): one that runs no SQL, one that reads the user in :func:`in_worker`,
    one that writes, and one that swallows a refusal and writes anyway."""
    app = create_app(settings, runtime=runtime)

    @key_checked_in_worker
    async def who(caller: CurrentCaller) -> dict[str, Any]:  # no SQL at all
        return {"userId": caller.user_id, "roles": sorted(caller.roles)}

    @key_checked_in_worker
    async def profile(caller: CurrentEmployer, session: SessionDep) -> dict[str, Any]:
        user = caller.user
        assert user is not None
        return await in_worker(session, lambda: {"name": user.name, "roles": user.roles})

    @key_checked_in_worker
    async def rename(caller: CurrentEmployer, session: SessionDep) -> dict[str, Any]:
        user = caller.user
        assert user is not None

        def work() -> dict[str, Any]:
            user.name = "Written"
            session.flush()
            return {}

        return await in_worker(session, work)

    @key_checked_in_worker
    async def swallow(caller: CurrentEmployer, session: SessionDep) -> dict[str, Any]:
        user = caller.user
        assert user is not None

        def work() -> dict[str, Any]:
            with contextlib.suppress(AuthenticationError):
                session.execute(text("SELECT 1"))
            user.name = "Written"
            session.flush()
            return {}

        return await in_worker(session, work)

    for path, route in (("who", who), ("profile", profile)):
        app.add_api_route(f"/v1/test/{path}", route, methods=["GET"])
    for path, route in (("rename", rename), ("swallow", swallow)):
        app.add_api_route(f"/v1/test/{path}", route, methods=["POST"])
    with TestClient(app) as c:
        yield c


def _remembered(client: TestClient) -> KeyCache:
    cache = client.app.state.key_cache  # type: ignore[attr-defined]
    assert isinstance(cache, KeyCache)
    return cache


def _name(rt: Runtime, uid: int) -> str:
    with session_scope(rt.engine) as session:
        user = session.get(User, uid)
        assert user is not None
        return user.name


def _from_memory(client: TestClient, rt: Runtime, path: str, headers: dict[str, str]) -> None:
    """Two requests on ``path``: the first may read the key from SQL; the second is
    answered from memory (its first statement reads the auth epoch, not the key)."""
    assert client.get(path, headers=headers).status_code == 200
    with _statements(rt.engine) as seen:
        r = client.get(path, headers=headers)
    assert r.status_code == 200, r.text
    assert seen and "auth_epoch" in seen[0] and "api_keys" not in seen[0], seen


class TestRememberedKeys:
    @pytest.mark.parametrize("path", ["/v1/test/who", "/v1/test/profile"])
    @pytest.mark.parametrize(
        "change",
        ["revoke", "suspend", "soft-delete", "drop the role", "delete the user", "move the key"],
    )
    def test_a_change_made_elsewhere_stops_the_next_request(
        self, client: TestClient, runtime: Runtime, path: str, change: str
    ) -> None:
        uid = _user(runtime, "user_a", ["employer"])
        other = _user(runtime, "user_b", ["employer"])
        key_id, key = _key(runtime, uid, "employer")
        headers = {"Authorization": f"Bearer {key}"}
        _from_memory(client, runtime, path, headers)
        users, keys = User.__table__, ApiKey.__table__  # type: ignore[attr-defined]
        statement = {
            "revoke": update(keys).where(keys.c.id == key_id).values(revoked_at=now_ms()),
            "suspend": update(users).where(users.c.id == uid).values(status="suspended"),
            "soft-delete": update(users).where(users.c.id == uid).values(deleted_at=now_ms()),
            "drop the role": update(users).where(users.c.id == uid).values(roles=["student"]),
            "delete the user": text(f"DELETE FROM users WHERE id = {uid}"),
            "move the key": update(keys).where(keys.c.id == key_id).values(user_id=other),
        }[change]
        _sql(runtime, statement)
        r = client.get(path, headers=headers)
        assert r.status_code == 401, r.text
        assert len(_remembered(client)) == 0

    def test_a_write_with_a_key_revoked_meanwhile_is_refused_before_it_runs(
        self, client: TestClient, runtime: Runtime
    ) -> None:
        uid = _user(runtime, "user_a", ["employer"])
        key_id, key = _key(runtime, uid, "employer")
        headers = {"Authorization": f"Bearer {key}"}
        _from_memory(client, runtime, "/v1/test/who", headers)  # remembered by now
        with session_scope(runtime.engine) as session:
            assert revoke_api_key(session, key_id)
        for path in ("/v1/test/rename", "/v1/test/swallow"):
            assert client.post(path, headers=headers).status_code == 401
        assert _name(runtime, uid) == "Test Student"

    def test_a_refusal_swallowed_by_the_route_still_commits_nothing(
        self, client: TestClient, runtime: Runtime
    ) -> None:
        uid = _user(runtime, "user_a", ["employer"])
        key_id, key = _key(runtime, uid, "employer")
        headers = {"Authorization": f"Bearer {key}"}
        _from_memory(client, runtime, "/v1/test/who", headers)
        assert client.post("/v1/test/swallow", headers=headers).status_code == 200
        assert _name(runtime, uid) == "Written"  # the route works with a good key
        _sql(runtime, text(f"UPDATE users SET name = 'Before' WHERE id = {uid}"))
        _sql(runtime, update(ApiKey.__table__).values(revoked_at=now_ms()))  # type: ignore[attr-defined]
        assert client.post("/v1/test/swallow", headers=headers).status_code == 401
        assert _name(runtime, uid) == "Before"

    def test_a_route_that_refuses_first_answers_401_for_a_revoked_key(
        self, client: TestClient, runtime: Runtime
    ) -> None:
        uid = _user(runtime, "user_a", ["student"])
        key_id, key = _key(runtime, uid, "student")
        headers = {"Authorization": f"Bearer {key}"}
        _from_memory(client, runtime, "/v1/test/who", headers)
        assert client.get("/v1/test/profile", headers=headers).status_code == 403  # employers
        with session_scope(runtime.engine) as session:
            assert revoke_api_key(session, key_id)
        assert client.get("/v1/test/profile", headers=headers).status_code == 401

    def test_routes_not_marked_read_the_key_every_time(
        self, client: TestClient, runtime: Runtime
    ) -> None:
        uid = _user(runtime, "user_a", ["employer"])
        _, key = _key(runtime, uid, "employer")
        headers = {"Authorization": f"Bearer {key}"}
        _from_memory(client, runtime, "/v1/test/who", headers)
        with _statements(runtime.engine) as seen:
            assert client.get("/v1/users/me", headers=headers).status_code == 200
        assert len(seen) == 1 and "api_keys" in seen[0], seen  # the whole user, at once

    def test_a_role_given_back_works_again(self, client: TestClient, runtime: Runtime) -> None:
        uid = _user(runtime, "user_a", ["employer"])
        _, key = _key(runtime, uid, "employer")
        headers = {"Authorization": f"Bearer {key}"}
        users = User.__table__  # type: ignore[attr-defined]
        _from_memory(client, runtime, "/v1/test/who", headers)
        _sql(runtime, update(users).where(users.c.id == uid).values(roles=["student"]))
        for _ in range(2):
            assert client.get("/v1/test/who", headers=headers).status_code == 401
        _sql(runtime, update(users).where(users.c.id == uid).values(roles=["employer"]))
        assert client.get("/v1/test/who", headers=headers).status_code == 200

    def test_an_unrelated_epoch_move_keeps_the_key_and_refreshes_the_user(
        self, client: TestClient, runtime: Runtime
    ) -> None:
        uid = _user(runtime, "user_a", ["employer", "admin"])
        _, key = _key(runtime, uid, "employer")
        other_id, _ = _key(runtime, uid, "admin")
        headers = {"Authorization": f"Bearer {key}"}
        _from_memory(client, runtime, "/v1/test/profile", headers)
        users = User.__table__  # type: ignore[attr-defined]
        roles = ["employer", "admin", "mentor"]  # remembered, and the key keeps its role
        _sql(runtime, update(users).where(users.c.id == uid).values(roles=roles, name="New"))
        with session_scope(runtime.engine) as session:  # moves the epoch again
            assert revoke_api_key(session, other_id)
        r = client.get("/v1/test/profile", headers=headers)
        assert r.status_code == 200, r.text
        assert r.json() == {"name": "New", "roles": roles}
        _from_memory(client, runtime, "/v1/test/profile", headers)  # remembered again

    def test_no_epoch_row_remembers_nothing(self, client: TestClient, runtime: Runtime) -> None:
        uid = _user(runtime, "user_a", ["employer"])
        key_id, key = _key(runtime, uid, "employer")
        headers = {"Authorization": f"Bearer {key}"}
        _from_memory(client, runtime, "/v1/test/who", headers)
        _sql(runtime, text("DELETE FROM auth_epoch"))
        assert client.get("/v1/test/who", headers=headers).status_code == 200
        assert len(_remembered(client)) == 0
        with session_scope(runtime.engine) as session:  # counted by no epoch now
            assert revoke_api_key(session, key_id)
        assert client.get("/v1/test/who", headers=headers).status_code == 401

    def test_a_key_without_a_user_is_remembered_too(
        self, client: TestClient, runtime: Runtime
    ) -> None:
        key_id, key = _key(runtime, None, "employer")
        headers = {"Authorization": f"Bearer {key}"}
        assert client.get("/v1/test/who", headers=headers).json() == {
            "userId": None,
            "roles": ["employer"],
        }
        _from_memory(client, runtime, "/v1/test/who", headers)
        with session_scope(runtime.engine) as session:
            assert revoke_api_key(session, key_id)
        assert client.get("/v1/test/who", headers=headers).status_code == 401

    def test_off_every_request_reads_the_key(self, settings: Settings, runtime: Runtime) -> None:
        cfg = settings.model_copy(update={"http": HttpSettings(key_cache_size=0)})
        uid = _user(runtime, "user_a", ["employer"])
        _, key = _key(runtime, uid, "employer")
        body = {"query": "", "limit": 1}
        with TestClient(create_app(cfg, runtime=runtime)) as c:
            assert c.app.state.key_cache is None  # type: ignore[attr-defined]
            for _ in range(2):
                with _statements(runtime.engine) as seen:
                    r = c.post("/v1/search", json=body, headers={"Authorization": f"Bearer {key}"})
                assert r.status_code in (200, 503), r.text
                assert "api_keys" in seen[0], seen


class TestKeyCache:
    def test_the_oldest_entry_goes_first_when_full(self) -> None:
        cache = KeyCache(max_keys=2)
        decision = KeyDecision(1, frozenset({"employer"}), None)
        for k in ("a", "b", "c"):
            cache.put(k, 1, decision)
        assert cache.get("a") is None and cache.get("b") and cache.get("c")
        cache.drop("b")
        cache.drop("nothing")
        assert len(cache) == 1

    def test_capacity_below_one_is_refused(self) -> None:
        with pytest.raises(ValueError, match="max_keys"):
            KeyCache(max_keys=0)
