"""What some tests need from the machine, and why they skip without it.

Each check returns ``None`` when the prerequisite is there, else the reason a
test needing it skips. ``tests/conftest.py`` maps markers to these checks
(:data:`MARKER_CHECKS`) and, at collection, marks every test whose
prerequisite is missing as skipped and reports how many will skip and why,
before any test runs. Checks run at most once per session (cached) and only
when a collected test needs them.

- ``postgres``: the PostgreSQL server of ``GIGSY_TEST_POSTGRES_URL``, with a role
  that may create databases;
- ``redis``: a Redis server at ``redis://127.0.0.1:6379/0``;
- ``browser``: Playwright (the Python package) and a system Chromium (Debian's
  ``chromium``, or the path in ``GIGSY_TEST_CHROMIUM``);
- ``realdata``: the shared data sets in ``../shared/data``;
- ``needs_tool("jq")``: the named executable on ``PATH``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest

__all__ = [
    "MARKER_CHECKS",
    "POSTGRES_URL",
    "REDIS_URL",
    "SHARED_DATA",
    "chromium_path",
    "chromium_unavailable",
    "postgres_unavailable",
    "redis_unavailable",
    "shared_data_unavailable",
    "tool_unavailable",
    "unmet_prerequisite",
]

POSTGRES_URL = os.environ.get(
    "GIGSY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
"""The PostgreSQL server the ``postgres`` tests use. Its database is only the one
connected to for ``CREATE DATABASE``/``DROP DATABASE`` (the server's maintenance
database ``postgres`` by default); the tests run in a database of their own."""
REDIS_URL = "redis://127.0.0.1:6379/0"
"""The Redis server of the ``redis`` tests (shared rate-limit budgets,
``tests/search_service/test_ratelimit.py``)."""
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
"""``../shared/data`` beside the repository: the real resumes and job postings."""

_CONNECT_TIMEOUT_S = 3
"""Seconds to wait for a server before calling it unreachable (a local server
answers in milliseconds; this only bounds the wait when nothing listens)."""


@cache
def postgres_unavailable() -> str | None:
    """Why the ``postgres`` tests cannot run, or ``None`` when they can.

    They can when :data:`POSTGRES_URL` accepts a connection and its role may
    create databases (each test session creates and drops one of its own).
    """
    # Imported here: the collection plugin (tests/collection.py) imports this module
    # and runs in sample pytest sessions that never check PostgreSQL.
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": _CONNECT_TIMEOUT_S})
        try:
            with engine.connect() as conn:
                may_create = conn.execute(
                    text(
                        "SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user"
                    )
                ).scalar()
        finally:
            engine.dispose()
    except Exception as exc:  # any driver or connection failure means "skip"
        return f"PostgreSQL not reachable at {_safe(POSTGRES_URL)}: {type(exc).__name__}"
    if not may_create:
        return f"the role of {_safe(POSTGRES_URL)} may not create databases (CREATEDB)"
    return None


@cache
def redis_unavailable() -> str | None:
    """Why the ``redis`` tests cannot run (no answer to PING), or ``None``."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=_CONNECT_TIMEOUT_S).ping()
    except redis.RedisError as exc:
        return f"Redis not reachable at {REDIS_URL}: {type(exc).__name__}"
    return None


def chromium_path() -> str | None:
    """The system Chromium the browser tests drive: ``GIGSY_TEST_CHROMIUM`` if it
    names an existing file, else ``chromium`` or ``chromium-browser`` on ``PATH``."""
    configured = os.environ.get("GIGSY_TEST_CHROMIUM")
    if configured:
        return configured if Path(configured).exists() else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@cache
def chromium_unavailable() -> str | None:
    """Why the ``browser`` tests cannot run (no Playwright, no Chromium), or ``None``."""
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed"
    if chromium_path() is None:
        return "no Chromium: install Debian's `chromium` package or set GIGSY_TEST_CHROMIUM"
    return None


@cache
def shared_data_unavailable() -> str | None:
    """Why the ``realdata`` tests cannot run (no ``../shared/data``), or ``None``."""
    if not SHARED_DATA.is_dir():
        return f"real data not found at {SHARED_DATA} (needs ../shared/data)"
    return None


@cache
def tool_unavailable(name: str) -> str | None:
    """Why a ``needs_tool(name)`` test cannot run (``name`` not on ``PATH``), or ``None``."""
    if shutil.which(name) is None:
        return f"`{name}` is not installed (not found on PATH)"
    return None


MARKER_CHECKS: dict[str, Callable[[pytest.Mark], str | None]] = {
    "postgres": lambda _mark: postgres_unavailable(),
    "redis": lambda _mark: redis_unavailable(),
    "browser": lambda _mark: chromium_unavailable(),
    "realdata": lambda _mark: shared_data_unavailable(),
    "needs_tool": lambda mark: tool_unavailable(str(mark.args[0])),
}
"""Marker name → the check deciding whether a test carrying it can run."""


def unmet_prerequisite(item: pytest.Item) -> str | None:
    """The reason the first missing prerequisite of ``item`` gives, or ``None``."""
    for mark in item.iter_markers():
        check = MARKER_CHECKS.get(mark.name)
        if check is not None:
            reason = check(mark)
            if reason is not None:
                return reason
    return None


def _safe(url: str) -> str:
    """``url`` without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
