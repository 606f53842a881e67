"""Shared fixtures: a fresh database per test (SQLite file, or PostgreSQL when reachable),
a runtime with the deterministic hashing encoder, and an HTTP client."""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import create_engine, text

from indexers import HashingEncoder
from search_service.app import create_app
from search_service.db import session_scope
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

POSTGRES_URL = os.environ.get(
    "GIGSY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
RESUMES_CSV = SHARED_DATA / "resumes" / "livecareer_resumes_2484.csv"
METRICS_TOKEN = "test-metrics-token-0123456789"


loop_guard.install()


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


@lru_cache(maxsize=1)
def _postgres_unavailable() -> str | None:
    try:
        engine = create_engine(POSTGRES_URL)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:  # any driver or connection failure means "skip"
        return f"PostgreSQL not reachable at {POSTGRES_URL}: {type(exc).__name__}"
    return None


def _reset_postgres() -> None:
    engine = create_engine(POSTGRES_URL)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL to an empty database: SQLite in tmp_path, or a wiped PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    reason = _postgres_unavailable()
    if reason:
        pytest.skip(reason)
    _reset_postgres()
    return POSTGRES_URL


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
    rt = Runtime.open(settings, encoder=HashingEncoder(64))
    yield rt
    rt.close()


@pytest.fixture
def client(settings: Settings, runtime: Runtime) -> Iterator[TestClient]:
    """HTTP client (httpx under the hood) against the app on ``runtime``."""
    with TestClient(create_app(settings, runtime=runtime)) as c:
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
