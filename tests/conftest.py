"""Shared fixtures: a database per test (SQLite, or PostgreSQL when reachable), a
runtime with the deterministic hashing encoder on either store adapter, and HTTP
clients; and the collection-time report of which tests will skip and why.

The database schema is built once per session per engine and each test gets it
empty: on SQLite a copy of a migrated template file (a fraction of a
millisecond, where migrating costs hundreds), on PostgreSQL a database the
session creates, migrates once, empties after every test and drops at the end.
Tests that need a database without a schema (the migrations' own tests) take
:func:`empty_database_url`.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _pytest.skipping import evaluate_skip_marks
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import SQLModel

from indexers import HashingEncoder
from search_service.app import create_app
from search_service.db import make_engine, migrate, session_scope
from search_service.entities import ENTITIES
from search_service.runtime import Runtime
from search_service.settings import (
    EmbeddingSettings,
    MetricsSettings,
    QdrantSettings,
    RateLimitSettings,
    Settings,
)
from search_service.users.api_keys import create_api_key
from tests import loop_guard
from tests.prerequisites import POSTGRES_URL, SHARED_DATA, postgres_unavailable, unmet_prerequisite

__all__ = ["GENEROUS_RATE_LIMITS", "METRICS_TOKEN", "POSTGRES_URL", "RESUMES_CSV", "SHARED_DATA"]

RESUMES_CSV = SHARED_DATA / "resumes" / "livecareer_resumes_2484.csv"
METRICS_TOKEN = "test-metrics-token-0123456789"

_UNMET = pytest.StashKey[str]()

pytest_plugins = ["pytester"]  # tests/test_prerequisites.py runs pytest on sample tests


loop_guard.install()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test whose prerequisite is missing (``tests/prerequisites.py``)
    as skipped, with the reason, before any test runs; note the reason of every
    test a ``skip``/``skipif`` mark already skips. Give schemathesis's items their
    own node ids."""
    for item in items:
        reason = unmet_prerequisite(item)
        if reason is not None:
            item.add_marker(pytest.mark.skip(reason=reason))
        else:
            reason = _skip_mark_reason(item)
        if reason is not None:
            item.stash[_UNMET] = reason
        _name_schemathesis_item(item)
    # The long files first (stable: each file keeps its order): pytest-xdist hands
    # out files in collection order, so none of them starts last and leaves one
    # worker running alone at the end.
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


def _name_schemathesis_item(item: pytest.Item) -> None:
    # schemathesis makes one item per API operation, named after it
    # ("test_x[POST /v1/search]"). pytest 9.2 builds a test's node id from the
    # function's name and its parametrize call only, so every one of them gets the
    # function's bare node id, and pytest-xdist's --dist loadfile, whose work queue
    # is keyed by node id, would run one operation of the 44. Give each the
    # operation as its parameter id; before 9.2 the name was the node id already.
    label = getattr(item, "operation_label", None)
    node_id = getattr(item, "_id", None)
    if isinstance(label, str) and hasattr(node_id, "with_params") and "[" not in item.nodeid:
        item._id = node_id.with_params(label)  # type: ignore[union-attr]


def _skip_mark_reason(item: pytest.Item) -> str | None:
    # pytest evaluates these marks again before the test runs (_pytest.skipping);
    # a condition that cannot be evaluated here is left to that evaluation.
    try:
        found = evaluate_skip_marks(item)
    except (Exception, pytest.fail.Exception):
        return None
    return found.reason if found is not None else None


def _skip_lines(items: list[pytest.Item]) -> list[str]:
    """How many of ``items`` will skip, for a missing prerequisite or by a
    ``skip``/``skipif`` mark, and why (one line per reason)."""
    reasons = Counter(item.stash[_UNMET] for item in items if _UNMET in item.stash)
    if not reasons:
        return [f"skips: none of the {len(items)} selected tests will skip (prerequisites met)"]
    total = sum(reasons.values())
    lines = [f"skips: {total} of the {len(items)} selected tests will skip:"]
    lines += [f"  {count:5d} × {reason}" for reason, count in reasons.most_common()]
    return lines


def pytest_report_collectionfinish(
    config: pytest.Config, start_path: Path, items: list[pytest.Item]
) -> list[str]:
    """At session start: :func:`_skip_lines`. Skips decided inside a test are not
    known yet; the summary (``-ra``) lists them."""
    return _skip_lines(items)


# Under pytest-xdist (``make test`` runs two workers) the workers collect and the
# controller, which prints, collects nothing: each worker writes its lines to a file
# the controller named, and the controller prints the first worker's once its
# collection is reported (every worker collects every test).
_SKIP_REPORT = "gigsy_skip_report"
_SKIP_REPORT_DIR = pytest.StashKey[Path]()
_SKIP_REPORT_SHOWN = pytest.StashKey[bool]()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist, on the controller: where worker ``node`` leaves its skip lines."""
    config: pytest.Config = node.config
    if _SKIP_REPORT_DIR not in config.stash:
        config.stash[_SKIP_REPORT_DIR] = Path(tempfile.mkdtemp(prefix="gigsy-skips-"))
    node.workerinput[_SKIP_REPORT] = str(config.stash[_SKIP_REPORT_DIR] / f"{node.gateway.id}")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """On an xdist worker: write :func:`_skip_lines` where the controller looks,
    before the worker reports its collection."""
    target = getattr(session.config, "workerinput", {}).get(_SKIP_REPORT)
    if target:
        Path(target).write_text("\n".join(_skip_lines(session.items)), encoding="utf-8")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """pytest-xdist, on the controller: print the first worker's skip lines."""
    config: pytest.Config = node.config
    if config.stash.get(_SKIP_REPORT_SHOWN, False):
        return
    report = Path(node.workerinput[_SKIP_REPORT])
    if not report.exists():
        return
    config.stash[_SKIP_REPORT_SHOWN] = True
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    if terminal is not None:
        for line in report.read_text(encoding="utf-8").splitlines():
            terminal.write_line(line)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _SKIP_REPORT_DIR in config.stash:
        shutil.rmtree(config.stash[_SKIP_REPORT_DIR], ignore_errors=True)


@pytest.fixture(autouse=True)
def _no_sql_on_the_event_loop() -> Iterator[None]:
    """Fail any test during which SQL ran on an event loop's thread
    (``tests/loop_guard.py``): blocking I/O there stalls every request."""
    loop_guard.drain()
    yield
    found = loop_guard.drain()
    if found:
        first = found[0]
        pytest.fail(
            f"{len(found)} SQL statement(s) ran on the event loop, first: "
            f"{first.statement!r} in thread {first.thread}\n{first.stack}",
            pytrace=False,
        )


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to the latest revision, once per session, in rollback-
    journal mode so that the file alone is the whole database (no ``-wal`` beside it)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = make_engine(_sqlite_url(path))
    migrate(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA journal_mode=DELETE")
    engine.dispose()
    return path


class PostgresTestDatabase:
    """A database of this test session on the server of ``POSTGRES_URL``.

    Created under a fresh name (``gigsy_test_<pid>_<random>``), so a session never
    touches a database it did not create; dropped by :meth:`drop`.
    """

    lock_timeout_ms = 5000
    """How long :meth:`empty` waits for a table lock before it ends the connections
    holding one (a test that left a transaction open)."""

    def __init__(self, server_url: str, name: str) -> None:
        self.name = name
        self.url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
        self._admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
        self._engine: Engine | None = None
        self._empty_sql = ""
        self._tables = 0
        self._admin_sql(f'CREATE DATABASE "{name}"')

    def _admin_sql(self, statement: str) -> None:
        with self._admin.connect() as conn:
            conn.exec_driver_sql(statement)

    def migrate(self) -> None:
        """Bring the schema to the latest revision and prepare :meth:`empty`."""
        engine = make_engine(self.url)
        try:
            migrate(engine)
        finally:
            engine.dispose()
        self._engine = create_engine(self.url, pool_size=1, max_overflow=0)
        with self._engine.connect() as conn:
            present = {
                row[0]
                for row in conn.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
                )
            }
            sequences = [
                row[0]
                for row in conn.execute(
                    text(
                        "SELECT sequence_name FROM information_schema.sequences"
                        " WHERE sequence_schema = current_schema()"
                    )
                )
            ]
        # Children before parents, so no DELETE trips a foreign key; every table
        # the migrations made is a model table (test_migrations checks it).
        ordered = [t.name for t in reversed(SQLModel.metadata.sorted_tables) if t.name in present]
        missing = present - set(ordered) - {"alembic_version"}
        if missing:
            raise RuntimeError(f"tables with no model, not emptied between tests: {missing}")
        statements = [f'DELETE FROM "{name}"' for name in ordered]
        statements += [f'ALTER SEQUENCE "{name}" RESTART' for name in sequences]
        self._empty_sql = "; ".join(statements)
        self._tables = len(present)

    def empty(self) -> None:
        """Delete every row and restart every sequence: the state right after
        migrating, without migrating again.

        A connection a test left open with a lock on a table would block this:
        after ``lock_timeout_ms`` such connections are ended and it runs again. A
        test that changed the schema (dropped a table) leaves a database that
        emptying cannot restore: it is dropped, created and migrated again.
        """
        assert self._engine is not None, "migrate() first"
        try:
            intact = self._run_empty()
        except OperationalError:
            self._end_other_connections()
            try:
                intact = self._run_empty()
            except DBAPIError:
                intact = False
        except DBAPIError:
            intact = False
        if not intact:
            self._recreate()

    def _run_empty(self) -> bool:
        assert self._engine is not None
        with self._engine.begin() as conn:
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = {int(self.lock_timeout_ms)}")
            tables = conn.execute(
                text("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()")
            ).scalar_one()
            if tables != self._tables:
                return False
            conn.exec_driver_sql(self._empty_sql)
        return True

    def _end_other_connections(self) -> None:
        assert self._engine is not None
        self._engine.dispose()
        with self._admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": self.name},
            )

    def _recreate(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        self._admin_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self._admin_sql(f'CREATE DATABASE "{self.name}"')
        self.migrate()

    def drop(self) -> None:
        """Drop the database, closing any connection still open to it (PostgreSQL 13+)."""
        if self._engine is not None:
            self._engine.dispose()
        with self._admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self._admin.dispose()


def _new_postgres_database(label: str) -> PostgresTestDatabase:
    reason = postgres_unavailable()
    if reason:
        pytest.skip(reason)
    return PostgresTestDatabase(
        POSTGRES_URL, f"gigsy_test_{os.getpid()}_{secrets.token_hex(4)}{label}"
    )


@pytest.fixture(scope="session")
def _postgres_database() -> Iterator[PostgresTestDatabase]:
    """This session's PostgreSQL database, migrated once; dropped at the end."""
    db = _new_postgres_database("")
    try:
        db.migrate()
        yield db
    finally:
        db.drop()


_BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=_BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to a database at the latest migration with no rows: a copy of the
    session's SQLite template in ``tmp_path``, or the session's PostgreSQL
    database, emptied again after the test."""
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        yield _sqlite_url(path)
        return
    db: PostgresTestDatabase = request.getfixturevalue("_postgres_database")
    yield db.url
    db.empty()


@pytest.fixture(params=_BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to a database with no schema at all: a new SQLite file in ``tmp_path``,
    or a new PostgreSQL database dropped after the test."""
    if request.param == "sqlite":
        yield _sqlite_url(tmp_path / "empty.db")
        return
    db = _new_postgres_database("_empty")
    try:
        yield db.url
    finally:
        db.drop()


@pytest.fixture(params=["edge", "memory"])
def qdrant_url(request: pytest.FixtureRequest) -> str | None:
    """``None`` = embedded Qdrant Edge; ``":memory:"`` = qdrant-client local mode."""
    return None if request.param == "edge" else ":memory:"


GENEROUS_RATE_LIMITS = RateLimitSettings(
    search="100000/minute",
    writes="100000/minute",
    reads="100000/minute",
    public="100000/minute",
    auth_failures="100000/minute",
    webhooks="100000/minute",
    refused="100000/minute",
)
"""On, so every API test goes through the limiter, but far above what a test sends with
one key; tests of the limits themselves set small ones (tests/search_service/test_ratelimit.py)."""


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings isolated from the environment, on the hashing encoder; ``/metrics``
    on (see ``metrics_headers``) and uncached, so a scrape sees the latest writes."""
    return Settings(
        data_dir=tmp_path / "var",
        database_url=database_url,
        embedding=EmbeddingSettings(model="hashing"),
        qdrant=QdrantSettings(url=None),
        metrics=MetricsSettings(token=SecretStr(METRICS_TOKEN), cache_s=0),
        rate_limit=GENEROUS_RATE_LIMITS,
    )


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    """An open runtime on the Edge store with a 64-d hashing encoder."""
    rt = Runtime.open(settings, entities=ENTITIES, encoder=HashingEncoder(64))
    yield rt
    rt.close()


@pytest.fixture
def client(settings: Settings, runtime: Runtime) -> Iterator[TestClient]:
    """HTTP client (httpx under the hood) against the app on ``runtime``."""
    with TestClient(create_app(settings, runtime=runtime)) as c:
        yield c


@pytest.fixture
def rt(settings: Settings, qdrant_url: str | None) -> Iterator[Runtime]:
    """An open runtime with a 64-d hashing encoder on either store adapter
    (``qdrant_url``: Qdrant Edge, or qdrant-client's local mode)."""
    s = settings.model_copy(
        update={"qdrant": settings.qdrant.model_copy(update={"url": qdrant_url})}
    )
    runtime = Runtime.open(s, entities=ENTITIES, encoder=HashingEncoder(64))
    yield runtime
    runtime.close()


@pytest.fixture
def api(rt: Runtime) -> Iterator[TestClient]:
    """HTTP client against the app on ``rt``."""
    with TestClient(create_app(rt.settings, runtime=rt)) as c:
        yield c


def _key(runtime: Runtime, role: str) -> str:
    with session_scope(runtime.engine) as session:
        _, key = create_api_key(session, role=role)
    return key


@pytest.fixture
def metrics_headers() -> dict[str, str]:
    """``Authorization`` header of a Prometheus scraper (the test settings' token)."""
    return {"Authorization": f"Bearer {METRICS_TOKEN}"}


@pytest.fixture
def employer_headers(runtime: Runtime) -> dict[str, str]:
    """``Authorization`` header of a fresh employer key."""
    return {"Authorization": f"Bearer {_key(runtime, 'employer')}"}


@pytest.fixture
def student_headers(runtime: Runtime) -> dict[str, str]:
    """``Authorization`` header of a fresh student key."""
    return {"Authorization": f"Bearer {_key(runtime, 'student')}"}
