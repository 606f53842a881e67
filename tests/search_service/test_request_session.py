"""The request's unit of work (``deps.get_session``): it commits when the handler
returns, and the commit and its post-commit hooks finish before the response
starts; an error rolls it back and drops the hooks."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from models import User
from search_service.db import after_commit, session_scope
from search_service.deps import SessionDep
from search_service.errors import ServiceError, install_error_handlers
from search_service.runtime import Runtime
from search_service.users.api_keys import create_service_user

RESPONSE_STARTED = "response started"


class _RecordResponseStart:
    """Appends :data:`RESPONSE_STARTED` to ``events`` when the response starts."""

    def __init__(self, app: ASGIApp, events: list[str]) -> None:
        self.app = app
        self.events = events

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def recording(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.events.append(RESPONSE_STARTED)
            await send(message)

        await self.app(scope, receive, recording)


def _client(runtime: Runtime, events: list[str], created: list[str]) -> TestClient:
    app = FastAPI()
    app.state.runtime = runtime
    install_error_handlers(app)

    def write(session: SessionDep) -> None:
        user = create_service_user(session, role="employer")
        created.append(user.clerk_id)
        after_commit(session, lambda: events.append(f"hook sees {_stored(runtime, created)}"))

    # Plain def handlers: FastAPI runs them in a worker thread, as SQL must
    # (tests/loop_guard.py).
    @app.post("/ok")
    def ok(session: SessionDep) -> dict[str, str]:
        write(session)
        return {}

    @app.post("/fails")
    def fails(session: SessionDep) -> dict[str, str]:
        write(session)
        raise ServiceError("refused", 409)

    app.add_middleware(_RecordResponseStart, events=events)
    return TestClient(app)


def _stored(runtime: Runtime, clerk_ids: list[str]) -> int:
    """How many of ``clerk_ids`` another unit of work can read."""
    with session_scope(runtime.engine) as session:
        stmt = select(User.clerk_id).where(User.clerk_id.in_(clerk_ids))  # type: ignore[attr-defined]
        return len(session.exec(stmt).all())


def test_commit_and_hooks_finish_before_the_response_starts(runtime: Runtime) -> None:
    events: list[str] = []
    created: list[str] = []
    with _client(runtime, events, created) as client:
        r = client.post("/ok")
    assert r.status_code == 200, r.text
    # The hook ran after the commit (it reads the row from another session) and
    # before the first byte of the response.
    assert events == ["hook sees 1", RESPONSE_STARTED]
    assert _stored(runtime, created) == 1


def test_an_error_rolls_back_and_drops_the_hooks(runtime: Runtime) -> None:
    events: list[str] = []
    created: list[str] = []
    with _client(runtime, events, created) as client:
        r = client.post("/fails")
    assert r.status_code == 409, r.text
    assert created
    assert _stored(runtime, created) == 0
    assert events == [RESPONSE_STARTED]
