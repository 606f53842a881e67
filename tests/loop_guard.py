"""No blocking SQL on the event loop: a rule every test checks.

The service runs on one asyncio event loop; a SQL round trip made on it stalls
every other request for as long as the database takes (on PostgreSQL, a network
round trip each). Handlers and dependencies that touch SQL are therefore plain
``def`` (FastAPI runs them in a worker thread) or hand their work to one
(``run_in_threadpool``); only code that does no I/O runs on the loop.

:func:`install` registers one SQLAlchemy ``before_cursor_execute`` listener on
every engine (the :class:`~sqlalchemy.engine.Engine` class), which records each
statement executed in a thread, other than the tests' main thread, that is
running an event loop. The autouse
fixture in ``tests/conftest.py`` fails the test that caused one, naming the
statement and the stack that ran it, so every API test of the suite checks the
rule on every route it calls.
"""

from __future__ import annotations

import asyncio
import threading
import traceback
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

__all__ = ["LoopViolation", "drain", "install"]


@dataclass(frozen=True, slots=True)
class LoopViolation:
    """One SQL statement executed on an event loop's thread."""

    statement: str
    thread: str
    stack: str


_lock = threading.Lock()
_seen: list[LoopViolation] = []
_installed = False


def _on_event_loop() -> bool:
    # Tests serve the app on a loop in a thread of its own (TestClient's portal,
    # the browser tests' uvicorn thread). The main thread runs the tests
    # themselves, which may sit inside a loop of their own (Playwright's sync
    # API) while they set up rows: that is not the app's loop.
    if threading.current_thread() is threading.main_thread():
        return False
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _record(
    _conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool
) -> None:
    if not _on_event_loop():
        return
    stack = "".join(traceback.format_stack(limit=25)[:-1])
    with _lock:
        _seen.append(LoopViolation(statement[:200], threading.current_thread().name, stack))


def install() -> None:
    """Start recording SQL run on an event loop's thread (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    event.listen(Engine, "before_cursor_execute", _record)


def drain() -> list[LoopViolation]:
    """The violations recorded since the last call (and forget them)."""
    with _lock:
        out = list(_seen)
        _seen.clear()
    return out
