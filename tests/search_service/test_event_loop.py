"""Nothing blocks the event loop: every route with an ``async`` handler, run under
asyncio's debug mode with its slow-callback warning at 20 ms, made fatal.

SQL is slowed to 60 ms a statement here, so a statement run on the loop makes a
callback of at least 60 ms and trips the warning every time. A step of the loop
can also pass 20 ms when this shared machine takes the CPU away, so a request
fails only when it trips the warning on three runs in a row. The property that
no SQL statement runs on the loop's thread at all is checked in every test
(``tests/loop_guard.py``); this test checks the wall-clock symptom too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from search_service.app import create_app
from search_service.refresh.freshness import refresh_stale
from search_service.runtime import Runtime
from tests import loop_guard
from tests.search_service.profile_helpers import new_user_with_key, student_with_key

pytestmark = pytest.mark.long

SLOW_CALLBACK_S = 0.02
SQL_DELAY_S = 0.06
TRIES = 3


class _SlowCallbacks(logging.Handler):
    """Collects asyncio's "Executing <handle> took N seconds" warnings."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Executing"):
            self.seen.append(message)


@pytest.fixture
def loops() -> list[asyncio.AbstractEventLoop]:
    """The event loops the test client starts (in debug mode)."""
    return []


@pytest.fixture
def slow_client(runtime: Runtime, loops: list[asyncio.AbstractEventLoop]) -> Iterator[TestClient]:
    """A client whose app runs on a debug-mode asyncio loop."""

    def debug_loop() -> asyncio.AbstractEventLoop:
        loop = asyncio.new_event_loop()
        loop.set_debug(True)
        loop.slow_callback_duration = 60.0  # start-up imports and builds; lowered below
        loops.append(loop)
        return loop

    app = create_app(runtime.settings, runtime=runtime)
    with TestClient(app, backend_options={"loop_factory": debug_loop}) as client:
        yield client


@pytest.fixture
def slow_sql(runtime: Runtime) -> Iterator[None]:
    """Every SQL statement of the runtime's engine takes at least ``SQL_DELAY_S``."""

    def delay(*_args: Any) -> None:
        time.sleep(SQL_DELAY_S)

    event.listen(runtime.engine, "before_cursor_execute", delay)
    yield
    event.remove(runtime.engine, "before_cursor_execute", delay)


def _requests(client: TestClient, runtime: Runtime) -> list[tuple[str, Callable[[], Any]]]:
    """One request of every route whose handler is ``async``, with data to work on."""
    employer = new_user_with_key(runtime, "loop_emp", role="employer")
    student = student_with_key(runtime, "loop_stu", headline="Barista", skills=("coffee",))
    gig = client.post(
        "/v1/gigs", json={"title": "Barista", "status": "open"}, headers=employer.headers
    ).json()["id"]
    assert client.put(f"/v1/gigs/{gig}/application", headers=student.headers).status_code == 200
    refresh_stale(runtime)
    merge = {"Content-Type": "application/merge-patch+json"}
    e, s = employer.headers, student.headers
    return [
        ("search", lambda: client.post("/v1/search", json={"query": "barista"}, headers=e)),
        ("gig search", lambda: client.post("/v1/gigs/search", json={"query": "x"}, headers=s)),
        ("recommended gigs", lambda: client.get("/v1/me/recommended-gigs", headers=s)),
        ("candidates", lambda: client.get(f"/v1/gigs/{gig}/candidates", headers=e)),
        ("applicants", lambda: client.get(f"/v1/gigs/{gig}/applicants", headers=e)),
        ("similar gigs", lambda: client.get(f"/v1/gigs/{gig}/similar", headers=s)),
        ("similar students", lambda: client.get(f"/v1/profiles/{student.id}/similar", headers=e)),
        (
            "patch gig",
            lambda: client.patch(f"/v1/gigs/{gig}", json={"title": "B"}, headers={**e, **merge}),
        ),
        (
            "patch profile",
            lambda: client.patch("/v1/me/profile", json={"bio": "hi"}, headers={**s, **merge}),
        ),
    ]


def test_no_route_blocks_the_event_loop(
    slow_client: TestClient,
    runtime: Runtime,
    loops: list[asyncio.AbstractEventLoop],
    slow_sql: None,
) -> None:
    requests = _requests(slow_client, runtime)
    for _, send in requests:  # warm up: first calls import and build schemas
        r: httpx.Response = send()
        assert r.status_code < 400, r.text
    (loop,) = loops
    handler = _SlowCallbacks()
    logger = logging.getLogger("asyncio")
    logger.addHandler(handler)
    loop.slow_callback_duration = SLOW_CALLBACK_S
    blocked: dict[str, list[str]] = {}
    try:
        for name, send in requests:
            for _ in range(TRIES):
                handler.seen.clear()
                r = send()
                assert r.status_code < 400, (name, r.text)
                if not handler.seen:
                    break
            else:
                blocked[name] = list(handler.seen)
    finally:
        logger.removeHandler(handler)
        loop.slow_callback_duration = 60.0
        loop_guard.drain()  # this test's own finding is the assertion below
    assert not blocked, f"requests that blocked the event loop on {TRIES} runs: {blocked}"
