"""The database fixtures of ``tests/conftest.py``: every test starts from a schema at
the latest migration with no rows, the session's PostgreSQL database is its own,
and emptying it between tests restores the state right after migrating."""

from __future__ import annotations

import os
import re

import pytest
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

import models  # noqa: F401  (registers the tables)
from search_service.db import alembic_config, make_engine, session_scope
from search_service.users.api_keys import create_api_key
from tests.conftest import PostgresTestDatabase
from tests.prerequisites import POSTGRES_URL


def _model_tables() -> set[str]:
    return {table.name for table in SQLModel.metadata.sorted_tables}


def test_database_url_is_at_the_latest_migration_with_no_rows(database_url: str) -> None:
    """No rows but the one a migration inserts (``auth_epoch``, at 0), also after a
    PostgreSQL database was emptied for the next test."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
            tables = set(inspect(conn).get_table_names())
            rows = {
                name: conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one()
                for name in _model_tables()
            }
            epoch = conn.execute(text("SELECT id, epoch FROM auth_epoch")).all()
    finally:
        engine.dispose()
    assert current == set(ScriptDirectory.from_config(alembic_config(engine)).get_heads())
    assert _model_tables() <= tables
    assert {name: n for name, n in rows.items() if n} == {"auth_epoch": 1}
    assert [tuple(row) for row in epoch] == [(1, 0)]


def test_empty_database_url_has_no_tables(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    try:
        with engine.connect() as conn:
            assert inspect(conn).get_table_names() == []
    finally:
        engine.dispose()


@pytest.mark.postgres
class TestPostgresSessionDatabase:
    def test_is_a_database_of_its_own_on_the_configured_server(
        self, _postgres_database: PostgresTestDatabase
    ) -> None:
        url, server = make_url(_postgres_database.url), make_url(POSTGRES_URL)
        assert re.fullmatch(rf"gigsy_test_{os.getpid()}_[0-9a-f]{{8}}", url.database or "")
        assert (url.host, url.port, url.username) == (server.host, server.port, server.username)
        assert url.database != server.database

    def test_empty_deletes_every_row_and_restarts_the_ids(
        self, _postgres_database: PostgresTestDatabase
    ) -> None:
        engine = make_engine(_postgres_database.url)

        def new_key_id() -> int | None:
            with session_scope(engine) as session:
                row, _ = create_api_key(session, role="employer")
                return row.id

        def count() -> int:
            with engine.connect() as conn:
                return int(conn.execute(text("SELECT count(*) FROM api_keys")).scalar_one())

        try:
            first = new_key_id()
            second = new_key_id()
            assert (count(), second) == (2, (first or 0) + 1)
            engine.dispose()  # no connection of this test may hold a lock during empty()
            _postgres_database.empty()
            assert count() == 0
            assert new_key_id() == first
        finally:
            engine.dispose()
            _postgres_database.empty()

    def test_empty_ends_a_connection_left_holding_a_lock(
        self, _postgres_database: PostgresTestDatabase, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(_postgres_database, "lock_timeout_ms", 200)
        engine = make_engine(_postgres_database.url)
        leaked = engine.connect()
        try:
            with session_scope(engine) as session:
                create_api_key(session, role="employer")
            leaked.execute(text("LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE"))
            _postgres_database.empty()  # times out on the lock, ends `leaked`, empties
            with engine.connect() as conn:
                assert conn.execute(text("SELECT count(*) FROM api_keys")).scalar_one() == 0
        finally:
            leaked.invalidate()
            engine.dispose()

    def test_empty_rebuilds_a_schema_a_test_changed(
        self, _postgres_database: PostgresTestDatabase
    ) -> None:
        engine = make_engine(_postgres_database.url)
        try:
            with engine.begin() as conn:
                conn.execute(text("DROP TABLE webhook_audit"))
            engine.dispose()
            _postgres_database.empty()
            with engine.connect() as conn:
                tables = set(inspect(conn).get_table_names())
                rows = conn.execute(text("SELECT count(*) FROM webhook_audit")).scalar_one()
            assert _model_tables() <= tables
            assert rows == 0
        finally:
            engine.dispose()
