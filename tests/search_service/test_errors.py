"""Database errors: only an unavailable database is a 503; any other database error
is a bug, answered 500 in the one error shape with the request id, its stack and
message in the log only.

Runs on SQLite and PostgreSQL: the integrity error is the driver's own (a duplicate
``clerk_id``), the others are built as SQLAlchemy wraps a driver's exception.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlmodel import select

from models import User
from search_service.app import create_app
from search_service.db import session_scope
from search_service.deps import SessionDep
from search_service.errors import database_unavailable
from search_service.logs import RequestIdFilter
from search_service.runtime import Runtime
from search_service.settings import Settings

HEADER = "X-Request-ID"
SECRET = "Franklinia"  # in the database's message: must never reach a client


def _wrapped(cls: type[DBAPIError], message: str) -> DBAPIError:
    """``cls`` as SQLAlchemy raises it around a driver error saying ``message``."""
    return cls("UPDATE users SET name = ?", {"name": SECRET}, sqlite3.Error(message))


RAISED: dict[str, SQLAlchemyError] = {
    "integrity": _wrapped(IntegrityError, f"UNIQUE constraint failed: users.clerk_id {SECRET}"),
    "data": _wrapped(DataError, f"value {SECRET} out of range for type integer"),
    "programming": _wrapped(ProgrammingError, f'relation "{SECRET}" does not exist'),
    "locked": _wrapped(OperationalError, "database is locked"),
    "gone": _wrapped(InterfaceError, "the connection is closed"),
    "pool": PoolTimeoutError("QueuePool limit of size 5 overflow 10 reached"),
    "disconnect": DisconnectionError("connection invalidated"),
}


def _probe_app(settings: Settings, runtime: Runtime) -> FastAPI:
    """The real app plus routes that fail in the database."""
    app = create_app(settings, runtime=runtime)

    @app.post("/_probe/duplicate")
    def probe_duplicate(session: SessionDep) -> dict[str, str]:
        session.add(User(clerk_id="dup", first_name=SECRET))
        session.flush()  # the driver's unique violation
        return {}

    @app.get("/_probe/raise/{kind}")
    def probe_raise(kind: str) -> dict[str, str]:
        raise RAISED[kind]

    return app


@pytest.fixture
def probe_client(settings: Settings, runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(_probe_app(settings, runtime), raise_server_exceptions=False) as c:
        yield c


def _assert_internal_error(r: Any, request_id: str) -> None:
    assert r.status_code == 500, r.text
    assert r.json() == {"error": "internal_error", "detail": "internal server error"}
    assert r.headers[HEADER] == request_id
    assert SECRET not in r.text and "clerk_id" not in r.text


class TestUnexpectedDatabaseErrors:
    def test_a_real_integrity_error_is_500_with_the_request_id(
        self, probe_client: TestClient, runtime: Runtime, caplog: pytest.LogCaptureFixture
    ) -> None:
        with session_scope(runtime.engine) as session:
            session.add(User(clerk_id="dup"))
        caplog.handler.addFilter(RequestIdFilter())
        r = probe_client.post("/_probe/duplicate", headers={HEADER: "dup-1"})
        _assert_internal_error(r, "dup-1")
        logged = [rec for rec in caplog.records if rec.getMessage() == "database error"]
        assert len(logged) == 1
        assert logged[0].exc_info is not None
        assert isinstance(logged[0].exc_info[1], IntegrityError)  # the stack is logged
        assert getattr(logged[0], "request_id", None) == "dup-1"

    def test_nothing_of_it_was_written(self, probe_client: TestClient, runtime: Runtime) -> None:
        with session_scope(runtime.engine) as session:
            session.add(User(clerk_id="dup"))
        assert probe_client.post("/_probe/duplicate").status_code == 500
        with session_scope(runtime.engine) as session:
            assert [u.first_name for u in session.exec(select(User)).all()] == [None]

    def test_the_log_gets_the_database_message(
        self, probe_client: TestClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.ERROR)
        probe_client.get("/_probe/raise/data")
        (logged,) = [rec for rec in caplog.records if rec.getMessage() == "database error"]
        assert logged.exc_info is not None and SECRET in str(logged.exc_info[1])

    @pytest.mark.parametrize("kind", ["integrity", "data", "programming"])
    def test_integrity_data_and_programming_errors_are_500(
        self, probe_client: TestClient, kind: str
    ) -> None:
        r = probe_client.get(f"/_probe/raise/{kind}", headers={HEADER: f"req-{kind}"})
        _assert_internal_error(r, f"req-{kind}")


class TestUnavailableDatabase:
    @pytest.mark.parametrize("kind", ["locked", "gone", "pool", "disconnect"])
    def test_connection_and_timeout_errors_are_503(
        self, probe_client: TestClient, kind: str
    ) -> None:
        r = probe_client.get(f"/_probe/raise/{kind}", headers={HEADER: f"req-{kind}"})
        assert r.status_code == 503, r.text
        assert r.json() == {"error": "engine_unavailable", "detail": "the database is unavailable"}
        assert r.headers[HEADER] == f"req-{kind}"


class TestDatabaseUnavailable:
    @pytest.mark.parametrize("kind", ["locked", "gone", "pool", "disconnect"])
    def test_unavailable(self, kind: str) -> None:
        assert database_unavailable(RAISED[kind])

    @pytest.mark.parametrize("kind", ["integrity", "data", "programming"])
    def test_not_unavailable(self, kind: str) -> None:
        assert not database_unavailable(RAISED[kind])

    def test_any_error_that_invalidated_its_connection_is_unavailable(self) -> None:
        exc = DBAPIError("SELECT 1", {}, sqlite3.Error("server closed the connection"))
        assert not database_unavailable(exc)
        exc.connection_invalidated = True
        assert database_unavailable(exc)

    def test_sqlalchemy_wraps_the_driver_error_as_expected(self, runtime: Runtime) -> None:
        """The mapping above holds for the real driver: a duplicate key is an
        ``IntegrityError`` on this engine, so it is not taken for an outage."""
        with session_scope(runtime.engine) as session:
            session.add(User(clerk_id="twice"))
        with pytest.raises(IntegrityError) as failure:
            with session_scope(runtime.engine) as session:
                session.add(User(clerk_id="twice"))
        assert not database_unavailable(failure.value)


def test_a_405_names_the_allowed_methods(client: TestClient) -> None:
    r = client.delete("/v1/search")
    assert r.status_code == 405
    assert r.json()["error"] == "method_not_allowed"
    assert r.headers["allow"] == "POST"
