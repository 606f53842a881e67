"""Request limits before routing and authentication: body size (413) and JSON depth (422),
and the per-IP budget their refusals spend."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from starlette.types import Message, Receive, Scope, Send

from search_service.app import create_app
from search_service.limits import RequestLimitsMiddleware, json_depth
from search_service.ratelimit import RequestLimiter
from search_service.runtime import Runtime
from search_service.settings import ClerkSettings, HttpSettings, RateLimitSettings, Settings
from tests.search_service.profile_helpers import new_user_with_key

LIMIT = 4096
MERGE = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture
def small_client(settings: Settings, runtime: Runtime) -> Iterator[TestClient]:
    """The app with a 4 KiB body limit and the default depth limit (32)."""
    cfg = settings.model_copy(update={"http": HttpSettings(max_body_bytes=LIMIT)})
    with TestClient(create_app(cfg, runtime=runtime)) as c:
        yield c


def _search_body(size: int) -> bytes:
    """A valid search body of exactly ``size`` bytes."""
    head = b'{"query": "'
    tail = b'"}'
    return head + b" " * (size - len(head) - len(tail)) + tail


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _chunks(body: bytes, size: int = 1000) -> Iterator[bytes]:
    for i in range(0, len(body), size):
        yield body[i : i + size]


class TestBodySize:
    def test_content_length_over_the_limit_is_413_before_auth(
        self, small_client: TestClient
    ) -> None:
        r = small_client.post(
            "/v1/search",
            content=_search_body(LIMIT + 1),
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 413, r.text
        body = r.json()
        assert body["error"] == "payload_too_large"
        assert str(LIMIT) in body["detail"]

    def test_body_at_the_limit_reaches_the_app(self, small_client: TestClient) -> None:
        r = small_client.post(
            "/v1/search",
            content=_search_body(LIMIT),
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 401, r.text  # authentication is next: the body passed

    def test_chunked_body_over_the_limit_is_413(self, small_client: TestClient) -> None:
        r = small_client.post(
            "/v1/search",
            content=_chunks(_search_body(3 * LIMIT)),
            headers={"Content-Type": "application/json"},
        )
        assert "content-length" not in {k.lower() for k in r.request.headers}
        assert r.status_code == 413, r.text
        assert r.json()["error"] == "payload_too_large"

    def test_chunked_body_within_the_limit_is_delivered_whole(
        self, small_client: TestClient, runtime: Runtime
    ) -> None:
        u = new_user_with_key(runtime, "u_chunked")
        body = json.dumps({"value": "v" * 2500}).encode()
        r = small_client.put(
            "/v1/users/me/data/k",
            content=_chunks(body, 100),
            headers={**u.headers, "Content-Type": "application/json"},
        )
        assert r.status_code == 201, r.text
        assert r.json()["value"] == "v" * 2500

    def test_default_limit_is_one_mebibyte(self, client: TestClient) -> None:
        r = client.post(
            "/v1/search",
            content=_search_body(1_048_577),
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 413, r.text

    def test_webhook_body_over_the_limit_is_413_before_the_signature_check(
        self, settings: Settings, runtime: Runtime
    ) -> None:
        cfg = settings.model_copy(
            update={
                "http": HttpSettings(max_body_bytes=LIMIT),
                "clerk": ClerkSettings(webhook_secret=SecretStr("whsec_dGVzdHNlY3JldA==")),
            }
        )
        with TestClient(create_app(cfg, runtime=runtime)) as c:
            r = c.post(
                "/webhooks/clerk",
                content=b'{"data": {"x": "' + b"a" * LIMIT + b'"}}',
                headers={"Content-Type": "application/json"},
            )
        assert r.status_code == 413, r.text
        assert r.json()["error"] == "payload_too_large"

    def test_unparseable_content_length_is_400(self, small_client: TestClient) -> None:
        # httpx refuses to send a malformed header, so call the ASGI app directly.
        sent: list[Message] = []
        scope: dict[str, Any] = {
            "type": "http",
            "method": "POST",
            "path": "/v1/search",
            "headers": [(b"content-length", b"12abc")],
        }
        app = RequestLimitsMiddleware(_never_called, max_body_bytes=LIMIT, max_json_depth=32)
        anyio.run(app, scope, _receive_chunks([b"{}"]), _collect(sent))
        assert sent[0]["status"] == 400
        assert json.loads(sent[1]["body"])["error"] == "bad_request"


async def _never_called(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError("the app must not run")


def _receive_chunks(chunks: list[bytes], pulled: list[int] | None = None) -> Receive:
    queue = list(chunks)

    async def receive() -> Message:
        if pulled is not None:
            pulled.append(1)
        if not queue:
            return {"type": "http.disconnect"}
        chunk = queue.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(queue)}

    return receive


def _collect(sent: list[Message]) -> Send:
    async def send(message: Message) -> None:
        sent.append(message)

    return send


class TestStreamingCount:
    """The middleware on its own, fed chunk by chunk as a server would."""

    def test_stops_reading_once_over_the_limit(self) -> None:
        pulled: list[int] = []
        sent: list[Message] = []
        scope = {"type": "http", "method": "POST", "path": "/", "headers": []}
        app = RequestLimitsMiddleware(_never_called, max_body_bytes=2500, max_json_depth=32)
        chunks = [b"x" * 1000] * 100  # 100 kB offered, chunked (no Content-Length)
        anyio.run(app, scope, _receive_chunks(chunks, pulled), _collect(sent))
        assert sent[0]["status"] == 413
        assert json.loads(sent[1]["body"])["error"] == "payload_too_large"
        assert len(pulled) == 3  # 3000 bytes read, the other 97 chunks never

    def test_accepted_body_is_replayed_to_the_app(self) -> None:
        seen: list[Message] = []

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            seen.append(await receive())
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})

        sent: list[Message] = []
        scope = {"type": "http", "method": "POST", "path": "/", "headers": []}
        limited = RequestLimitsMiddleware(app, max_body_bytes=2500, max_json_depth=32)
        anyio.run(limited, scope, _receive_chunks([b'{"a": ', b"[1, 2]", b"}"]), _collect(sent))
        assert sent[0]["status"] == 204
        assert seen == [{"type": "http.request", "body": b'{"a": [1, 2]}', "more_body": False}]


class TestJsonDepth:
    def test_depth_counts_arrays_and_objects_not_strings(self) -> None:
        assert json_depth(b"1") == 0
        assert json_depth(b'"[[["') == 0
        assert json_depth(b"[]") == 1
        assert json_depth(b'{"a": [1, {"b": {}}]}') == 4
        assert json_depth(b'{"a": "x\\"[[[[", "b": [["]]]"]]}') == 3
        assert json_depth(_nested(40).encode("utf-16")) == 40
        assert json_depth(_nested(1000).encode(), stop_after=32) == 33

    def test_too_deep_search_body_is_422_before_auth(self, client: TestClient) -> None:
        body = '{"query": "x", "filters": {"skills": ' + _nested(31) + "}}"  # depth 33
        r = client.post("/v1/search", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 422, r.text
        assert r.json()["error"] == "validation_error"
        assert "deeper than 32" in r.json()["detail"]

    def test_depth_at_the_limit_passes_to_validation(
        self, client: TestClient, employer_headers: dict[str, str]
    ) -> None:
        body = '{"query": "x", "filters": {"skills": ' + _nested(30) + "}}"  # depth 32
        r = client.post(
            "/v1/search",
            content=body,
            headers={**employer_headers, "Content-Type": "application/json"},
        )
        assert r.status_code == 422, r.text
        assert "deeper" not in r.json()["detail"]

    def test_brackets_inside_strings_are_not_depth(
        self, client: TestClient, runtime: Runtime
    ) -> None:
        u = new_user_with_key(runtime, "u_brackets")
        value = "[" * 100 + '{"' * 100
        r = client.put("/v1/users/me/data/k", json={"value": value}, headers=u.headers)
        assert r.status_code == 201, r.text
        assert r.json()["value"] == value

    def test_deep_merge_patch_is_422_not_500(self, client: TestClient, runtime: Runtime) -> None:
        s = new_user_with_key(runtime, "u_deep")
        body = '{"headline": ' + _nested(5000) + "}"
        r = client.patch("/v1/me/profile", content=body, headers={**s.headers, **MERGE})
        assert r.status_code == 422, r.text
        assert r.json()["error"] == "validation_error"

    def test_body_without_content_type_is_checked_too(self, client: TestClient) -> None:
        r = client.post("/v1/search", content=_nested(100))
        assert r.status_code == 422, r.text
        assert "deeper than 32" in r.json()["detail"]

    def test_depth_limit_is_a_setting(self, settings: Settings, runtime: Runtime) -> None:
        cfg = settings.model_copy(update={"http": HttpSettings(max_json_depth=4)})
        with TestClient(create_app(cfg, runtime=runtime)) as c:
            r = c.post("/v1/search", json={"filters": {"skills": [[["x"]]]}})  # depth 5
        assert r.status_code == 422, r.text
        assert "deeper than 4" in r.json()["detail"]


class TestRefusalBudget:
    """The middleware with a limiter: refusals spend the client IP's ``refused`` budget."""

    @staticmethod
    def _send(app: RequestLimitsMiddleware, body: bytes, client: str) -> int:
        sent: list[Message] = []
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/",
            "headers": [],
            "client": (client, 1),
        }
        anyio.run(app, scope, _receive_chunks([body]), _collect(sent))
        status: int = sent[0]["status"]
        return status

    def test_refusals_turn_into_429_once_the_budget_is_spent(self) -> None:
        limiter = RequestLimiter(RateLimitSettings(refused="2/minute"))
        app = RequestLimitsMiddleware(
            _never_called, max_body_bytes=2500, max_json_depth=4, limiter=limiter
        )
        deep = _nested(10).encode()
        assert [self._send(app, deep, "203.0.113.1") for _ in range(3)] == [422, 422, 429]
        assert self._send(app, b"x" * 3000, "203.0.113.1") == 429
        assert self._send(app, deep, "203.0.113.2") == 422

    def test_accepted_bodies_spend_nothing(self) -> None:
        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})

        limiter = RequestLimiter(RateLimitSettings(refused="1/minute"))
        limited = RequestLimitsMiddleware(
            app, max_body_bytes=2500, max_json_depth=4, limiter=limiter
        )
        assert [self._send(limited, b"[[1]]", "203.0.113.1") for _ in range(3)] == [204] * 3
        assert self._send(limited, _nested(10).encode(), "203.0.113.1") == 422
