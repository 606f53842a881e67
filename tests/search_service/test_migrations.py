"""The Alembic head matches the SQLModel tables (no model change without a migration)."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import models  # noqa: F401  (registers the tables)
from search_service.db import make_engine, migrate


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    """A database with no schema (overrides conftest's, which is already migrated):
    these tests run every migration from the first."""
    return empty_database_url


def test_migrations_match_models(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    engine.dispose()
    assert diff == []


def test_migrate_is_idempotent(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate(engine)
    migrate(engine)
    engine.dispose()


def test_migrate_at_the_latest_revision_runs_no_migration(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(database_url)
    try:
        migrate(engine)

        def refuse(*_args: object, **_kwargs: object) -> None:
            raise AssertionError("Alembic ran on a schema already at the latest revision")

        monkeypatch.setattr(command, "upgrade", refuse)
        migrate(engine)
    finally:
        engine.dispose()
