"""Logs: request ids on responses and log lines, text and JSON formats, quiet
APScheduler, uvicorn's access log through the same handler, no emails."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
import uvicorn
from apscheduler.schedulers.background import BackgroundScheduler
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from models import User
from search_service import cli
from search_service.app import create_app
from search_service.db import session_scope
from search_service.logs import RequestIdFilter, configure_logging
from search_service.request_id import accept_request_id
from search_service.runtime import Runtime
from search_service.settings import LogSettings, Settings, get_settings

HEADER = "X-Request-ID"
probe_log = logging.getLogger("tests.probe")


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the root logger and the loggers configure_logging touches back as they were."""
    names = ["", "apscheduler", "alembic", "httpx", "uvicorn", "uvicorn.error", "uvicorn.access"]
    saved = {}
    for name in names:
        logger = logging.getLogger(name)
        saved[name] = (logger.level, list(logger.handlers), logger.propagate)
    yield
    for name, (level, handlers, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.handlers[:] = handlers
        logger.propagate = propagate


def _probe_app(settings: Settings, runtime: Runtime) -> FastAPI:
    """The real app plus routes that log (async, sync in the thread pool) and fail."""
    app = create_app(settings, runtime=runtime)

    @app.get("/_probe/async")
    async def probe_async() -> dict[str, str]:
        probe_log.warning("async handler")
        return {}

    @app.get("/_probe/sync")
    def probe_sync() -> dict[str, str]:
        probe_log.warning("sync handler")
        return {}

    @app.get("/_probe/boom")
    def probe_boom() -> dict[str, str]:
        raise RuntimeError("boom")

    return app


@pytest.fixture
def probe_client(settings: Settings, runtime: Runtime) -> Iterator[TestClient]:
    app = _probe_app(settings, runtime)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


class TestRequestId:
    def test_generated_when_absent(self, probe_client: TestClient) -> None:
        a = probe_client.get("/healthz")
        b = probe_client.get("/healthz")
        assert a.status_code == 200, a.text
        ids = [a.headers[HEADER], b.headers[HEADER]]
        assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
        assert ids[0] != ids[1]

    @pytest.mark.parametrize("incoming", ["abc-123", "req.2026_11-21", "x" * 128])
    def test_valid_incoming_id_is_kept(self, probe_client: TestClient, incoming: str) -> None:
        r = probe_client.get("/healthz", headers={HEADER: incoming})
        assert r.headers[HEADER] == incoming

    @pytest.mark.parametrize("incoming", ["x" * 129, "has space", "semi;colon", "a/b", "<b>", ""])
    def test_invalid_incoming_id_is_replaced(self, probe_client: TestClient, incoming: str) -> None:
        r = probe_client.get("/healthz", headers={HEADER: incoming})
        assert r.headers[HEADER] != incoming and len(r.headers[HEADER]) == 32

    def test_accept_request_id_rules(self) -> None:
        assert accept_request_id("A.b_c-1") == "A.b_c-1"
        assert accept_request_id(None) != accept_request_id(None)
        assert accept_request_id("a\nb") != "a\nb"  # no forged log lines

    @pytest.mark.parametrize(
        ("path", "status"),
        [("/v1/me/profile", 401), ("/nowhere", 404), ("/_probe/boom", 500)],
    )
    def test_error_responses_carry_it(
        self, probe_client: TestClient, path: str, status: int
    ) -> None:
        r = probe_client.get(path, headers={HEADER: "err-1"})
        assert r.status_code == status, r.text
        assert r.headers[HEADER] == "err-1"
        assert set(r.json()) == {"error", "detail"}

    def test_every_log_line_of_a_request_carries_its_id(
        self, probe_client: TestClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.handler.addFilter(RequestIdFilter())
        caplog.set_level(logging.INFO)
        seen: dict[str, str] = {}
        for path in ("/_probe/async", "/_probe/sync", "/_probe/boom"):
            r = probe_client.get(path)
            seen[path] = r.headers[HEADER]
        probe_log.warning("outside any request")
        by_message = {r.getMessage(): getattr(r, "request_id", None) for r in caplog.records}
        assert by_message["async handler"] == seen["/_probe/async"]
        assert by_message["sync handler"] == seen["/_probe/sync"]  # thread pool
        assert by_message["unhandled error"] == seen["/_probe/boom"]
        assert by_message["outside any request"] is None


def _lines(stream: io.StringIO) -> list[str]:
    return [line for line in stream.getvalue().splitlines() if line]


class TestFormats:
    def test_json_is_one_valid_object_per_line(self, restore_logging: None) -> None:
        stream = io.StringIO()
        configure_logging(LogSettings(format="json"), stream=stream)
        probe_log.info("first line\nsecond line of the same message")
        try:
            raise ValueError("bad value")
        except ValueError:
            probe_log.exception("it failed")
        lines = _lines(stream)
        assert len(lines) == 2
        records = [json.loads(line) for line in lines]
        first, failed = records
        assert set(first) == {"ts", "level", "logger", "message"}
        assert first["level"] == "INFO" and first["logger"] == "tests.probe"
        assert first["message"] == "first line\nsecond line of the same message"
        assert first["ts"].endswith("Z")
        stamp = datetime.fromisoformat(first["ts"].replace("Z", "+00:00"))
        assert stamp.utcoffset() is not None and stamp.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
        assert failed["level"] == "ERROR"
        assert "Traceback" in failed["exc_info"] and "ValueError: bad value" in failed["exc_info"]

    def test_json_lines_of_a_request_carry_its_id(
        self, restore_logging: None, probe_client: TestClient
    ) -> None:
        stream = io.StringIO()
        configure_logging(LogSettings(format="json"), stream=stream)
        r = probe_client.get("/_probe/sync", headers={HEADER: "json-req-7"})
        assert r.status_code == 200
        probe_log.warning("after")
        records = [json.loads(line) for line in _lines(stream)]
        probe = [rec for rec in records if rec["logger"] == "tests.probe"]
        assert probe[0] == {**probe[0], "message": "sync handler", "request_id": "json-req-7"}
        assert probe[-1]["message"] == "after" and "request_id" not in probe[-1]

    def test_text_format(self, restore_logging: None) -> None:
        stream = io.StringIO()
        configure_logging(LogSettings(), stream=stream)
        probe_log.info("hello %d", 7)
        probe_log.debug("not at INFO")
        (line,) = _lines(stream)
        stamp, level, rest = line.split(" ", 2)
        assert stamp.endswith("Z") and level == "INFO" and rest == "tests.probe: hello 7"

    def test_level_setting_applies(self, restore_logging: None) -> None:
        stream = io.StringIO()
        configure_logging(LogSettings(level="warning"), stream=stream)
        probe_log.info("quiet")
        probe_log.warning("loud")
        assert [line.split(": ", 1)[1] for line in _lines(stream)] == ["loud"]

    def test_reconfiguring_replaces_its_own_handler_only(
        self, restore_logging: None, caplog: pytest.LogCaptureFixture
    ) -> None:
        first, second = io.StringIO(), io.StringIO()
        configure_logging(LogSettings(), stream=first)
        configure_logging(LogSettings(format="json"), stream=second)
        probe_log.warning("once")
        assert first.getvalue() == "" and len(_lines(second)) == 1
        assert [r.getMessage() for r in caplog.records] == ["once"]  # pytest's still there

    @pytest.mark.parametrize("fmt", ["text", "json"])
    def test_emails_are_redacted(self, restore_logging: None, fmt: str) -> None:
        stream = io.StringIO()
        configure_logging(LogSettings(format=fmt), stream=stream)
        probe_log.warning("user %s signed up", "ada.lovelace+x@example.co.uk")
        try:
            raise KeyError("Key (email)=(ada@example.org) already exists")
        except KeyError:
            probe_log.exception("insert failed")
        out = stream.getvalue()
        assert "ada" not in out and out.count("<email>") >= 2  # message, exception


class TestQuietScheduler:
    def test_apscheduler_routine_runs_are_not_logged(self, restore_logging: None) -> None:
        stream = io.StringIO()
        configure_logging(LogSettings(), stream=stream)
        for name in ("apscheduler.executors.default", "apscheduler.scheduler"):
            assert logging.getLogger(name).getEffectiveLevel() == logging.WARNING
        ran = threading.Event()
        scheduler = BackgroundScheduler()
        scheduler.add_job(ran.set, "interval", seconds=0.05, id="tick")
        scheduler.start()
        try:
            assert ran.wait(5)
            time.sleep(0.2)  # a few more runs
        finally:
            scheduler.shutdown(wait=True)
        assert "apscheduler" not in stream.getvalue()


def test_sql_errors_do_not_carry_bound_values(runtime: Runtime) -> None:
    """The engine hides parameters: a failing INSERT's values (names, profile text)
    never reach an exception message, hence never a log line."""
    with session_scope(runtime.engine) as session:
        session.add(User(clerk_id="dup", first_name="Rosalind"))
    with pytest.raises(IntegrityError) as failure:
        with session_scope(runtime.engine) as session:
            session.add(User(clerk_id="dup", first_name="Franklinia"))
    assert "Franklinia" not in str(failure.value)
    assert "parameters hidden" in str(failure.value)


class TestUvicorn:
    def test_serve_leaves_logging_to_configure_logging(
        self, restore_logging: None, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        calls: list[dict[str, Any]] = []
        monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
        monkeypatch.setenv("GIGSY_EMBEDDING__MODEL", "hashing")
        get_settings.cache_clear()
        try:
            result = CliRunner().invoke(
                cli.app, ["serve", "--port", "8123", "--log-level", "DEBUG"]
            )
            bad = CliRunner().invoke(cli.app, ["serve", "--log-level", "chatty"])
        finally:
            get_settings.cache_clear()
        assert result.exit_code == 0, result.output
        assert calls[0]["log_config"] is None and calls[0]["port"] == 8123
        assert "log_level" not in calls[0]  # uvicorn's loggers inherit the root level
        assert logging.getLogger().level == logging.DEBUG
        assert bad.exit_code == 2 and "not a log level" in bad.output  # a usage error

    def test_access_log_goes_through_the_formatter_with_the_request_id(
        self, restore_logging: None, settings: Settings, runtime: Runtime
    ) -> None:
        stream = io.StringIO()
        configure_logging(LogSettings(format="json"), stream=stream)
        config = uvicorn.Config(
            create_app(settings, runtime=runtime),
            host="127.0.0.1",
            port=0,
            log_config=None,
            ws="none",
            lifespan="on",
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 20
            while not server.started:
                assert thread.is_alive() and time.monotonic() < deadline, stream.getvalue()
                time.sleep(0.05)
            port = server.servers[0].sockets[0].getsockname()[1]
            r = httpx.get(f"http://127.0.0.1:{port}/healthz", headers={HEADER: "access-1"})
            assert r.headers[HEADER] == "access-1"
        finally:
            server.should_exit = True
            thread.join(timeout=20)
        records = [json.loads(line) for line in _lines(stream)]
        access = [rec for rec in records if rec["logger"] == "uvicorn.access"]
        assert len(access) == 1, records
        assert access[0]["request_id"] == "access-1"
        assert '"GET /healthz HTTP/1.1" 200' in access[0]["message"]
        assert any(rec["logger"] == "uvicorn.error" for rec in records)  # startup lines too
