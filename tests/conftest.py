"""Shared fixtures: a database per test (SQLite, or PostgreSQL when reachable), a
runtime with the deterministic hashing encoder on either store adapter, and HTTP
clients. The collection-time report of which tests will skip and why is the
plugin ``tests/collection.py``, loaded from here.

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
from collections.abc import Iterator
from pathlib import Path

import pytest
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
from tests.prerequisites import POSTGRES_URL, SHARED_DATA, postgres_unavailable

__all__ = ["GENEROUS_RATE_LIMITS", "METRICS_TOKEN", "POSTGRES_URL", "RESUMES_CSV", "SHARED_DATA"]

RESUMES_CSV = SHARED_DATA / "resumes" / "livecareer_resumes_2484.csv"
METRICS_TOKEN = "test-metrics-token-0123456789"


# pytester: tests/test_prerequisites.py runs pytest on sample tests; tests.collection:
# the skip report and the order of collection.
pytest_plugins = ["pytester", "tests.collection"]


loop_guard.install()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give schemathesis's items their own node ids (the skip marks and the order
    of collection are ``tests/collection.py``'s)."""
    for item in items:
        _name_schemathesis_item(item)


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


TMPFS = Path("/dev/shm")
"""Where the tests' temporary directories go when it is a RAM file system with room
(:func:`pytest_configure`); ``GIGSY_TEST_TEMPROOT`` names another directory, or
``default`` for the system's (``tempfile.gettempdir()``)."""
TMPFS_MIN_FREE = 2 * 1024**3
"""Bytes :data:`TMPFS` must have free to be used. A test's SQLite files and Qdrant
shards (a reopened shard takes ~38 MB) stay there only while it runs: a passing
test's ``tmp_path`` is removed at its teardown and a run where every test passed
leaves nothing (``tmp_path_retention_policy = "failed"`` in ``pyproject.toml``);
what a failure keeps is there to look at. Keeping every directory, a run peaked
at 11.7 GB, and the runs pytest keeps filled a 24 GB tmpfs."""


def _temproot() -> str | None:
    """The directory for pytest's ``pytest-of-<user>`` temporary tree, or ``None``
    for the default. A RAM file system makes the fsyncs of SQLite commits and
    Qdrant Edge updates free: on a disk they were most of the time of building a
    test's shard (9 payload indexes, 0.27 s against 0.035 s on tmpfs)."""
    chosen = os.environ.get("GIGSY_TEST_TEMPROOT")
    if chosen:
        return None if chosen == "default" else chosen
    try:
        usage = shutil.disk_usage(TMPFS)
        mounts = Path("/proc/mounts").read_text(encoding="utf-8").split("\n")
    except OSError:
        return None
    ram = any(line.split()[1:3] == [str(TMPFS), "tmpfs"] for line in mounts)
    writable = os.access(TMPFS, os.W_OK)
    return str(TMPFS) if ram and writable and usage.free >= TMPFS_MIN_FREE else None


def pytest_configure(config: pytest.Config) -> None:
    """Put the tests' temporary directories (``tmp_path``) under :func:`_temproot`,
    unless ``--basetemp`` or ``PYTEST_DEBUG_TEMPROOT`` chose already. Under
    pytest-xdist the controller chooses and hands each worker a directory under
    its own."""
    if config.option.basetemp or os.environ.get("PYTEST_DEBUG_TEMPROOT"):
        return
    root = _temproot()
    if root is not None:
        os.environ["PYTEST_DEBUG_TEMPROOT"] = root


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
    touches a database it did not create; dropped by :meth:`drop`. Its sessions
    commit without waiting for the WAL flush (``synchronous_commit = off``: what a
    commit makes visible is the same, only a crash of the server itself could lose
    the last ones), which on a disk took about 3 ms a commit against 0.1 ms.
    """

    lock_timeout_ms = 5000
    """How long :meth:`empty` waits for a table lock before it ends the connections
    holding one (a test that left a transaction open)."""

    def __init__(
        self, server_url: str, name: str, *, template: PostgresTestDatabase | None = None
    ) -> None:
        self.name = name
        self._template = template
        self.url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
        self._admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
        self._engine: Engine | None = None
        self._empty_sql = ""
        self._tables = 0
        self._create()

    def _create(self) -> None:
        copy = f' TEMPLATE "{self._template.name}"' if self._template is not None else ""
        self._admin_sql(f'CREATE DATABASE "{self.name}"{copy}')
        self._admin_sql(f'ALTER DATABASE "{self.name}" SET synchronous_commit = off')

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
        # The one row a migration inserts (models.AuthEpoch), as migrating left it.
        statements.append("INSERT INTO auth_epoch (id, epoch) VALUES (1, 0)")
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
        self._create()
        self.migrate()

    def disconnect(self) -> None:
        """Close this object's own connections (a template must have none)."""
        if self._engine is not None:
            self._engine.dispose()

    def drop(self) -> None:
        """Drop the database, closing any connection still open to it (PostgreSQL 13+)."""
        if self._engine is not None:
            self._engine.dispose()
        with self._admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self._admin.dispose()


def _new_postgres_database(
    label: str, *, template: PostgresTestDatabase | None = None
) -> PostgresTestDatabase:
    reason = postgres_unavailable()
    if reason:
        pytest.skip(reason)
    return PostgresTestDatabase(
        POSTGRES_URL, f"gigsy_test_{os.getpid()}_{secrets.token_hex(4)}{label}", template=template
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


@pytest.fixture(scope="session")
def _postgres_template() -> Iterator[PostgresTestDatabase]:
    """A PostgreSQL database migrated once, to which nothing stays connected: the
    databases of :func:`module_database_url` are copies of it (``CREATE DATABASE
    ... TEMPLATE``, a fifth of a second where migrating takes one and a half)."""
    db = _new_postgres_database("_template")
    try:
        db.migrate()
        db.disconnect()
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


@pytest.fixture(scope="module", params=_BACKENDS)
def module_database_url(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    module_qdrant_url: str | None,
) -> Iterator[str]:
    """Like :func:`database_url` (same parameter ids), but one database for all the
    tests of a module that take it, for data they build once and only read: a
    copy of the SQLite template, or a PostgreSQL database of its own copied from
    :func:`_postgres_template` and dropped after the module. The per-test
    database is not this one, so emptying that never touches it. A new one for
    each store adapter (``module_qdrant_url``): rows and index are built together."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("module-db") / "test.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        yield _sqlite_url(path)
        return
    db = _new_postgres_database("_module", template=request.getfixturevalue("_postgres_template"))
    try:
        yield db.url
    finally:
        db.drop()


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


_ADAPTERS = ["edge", "memory"]


@pytest.fixture(params=_ADAPTERS)
def qdrant_url(request: pytest.FixtureRequest) -> str | None:
    """``None`` = embedded Qdrant Edge; ``":memory:"`` = qdrant-client local mode."""
    return None if request.param == "edge" else ":memory:"


@pytest.fixture(scope="module", params=_ADAPTERS)
def module_qdrant_url(request: pytest.FixtureRequest) -> str | None:
    """:func:`qdrant_url` (same parameter ids) for :func:`module_rt`."""
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


def _settings(data_dir: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        embedding=EmbeddingSettings(model="hashing"),
        qdrant=QdrantSettings(url=None),
        metrics=MetricsSettings(token=SecretStr(METRICS_TOKEN), cache_s=0),
        rate_limit=GENEROUS_RATE_LIMITS,
    )


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings isolated from the environment, on the hashing encoder; ``/metrics``
    on (see ``metrics_headers``) and uncached, so a scrape sees the latest writes."""
    return _settings(tmp_path / "var", database_url)


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


@pytest.fixture(scope="module")
def module_rt(
    tmp_path_factory: pytest.TempPathFactory,
    module_database_url: str,
    module_qdrant_url: str | None,
) -> Iterator[Runtime]:
    """:func:`rt` once for a module, on :func:`module_database_url`, for data that
    the module's tests build once and then only read (searches, pages); a test
    that writes takes :func:`rt`."""
    s = _settings(tmp_path_factory.mktemp("module-rt") / "var", module_database_url)
    runtime = Runtime.open(
        s.model_copy(update={"qdrant": s.qdrant.model_copy(update={"url": module_qdrant_url})}),
        entities=ENTITIES,
        encoder=HashingEncoder(64),
    )
    yield runtime
    runtime.close()


@pytest.fixture(scope="module")
def module_api(module_rt: Runtime) -> Iterator[TestClient]:
    """HTTP client against the app on :func:`module_rt`, for the module."""
    with TestClient(create_app(module_rt.settings, runtime=module_rt)) as c:
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
