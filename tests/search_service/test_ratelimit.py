"""Rate limits: 429 with ``Retry-After``, budgets per key / per user / per IP and per
group, every ``/v1`` route covered, webhooks and refused bodies per IP, probes exempt,
forwarded headers only from trusted proxies, off switch, Redis.

Limits here are tiny ("2/minute"), so nothing sleeps: the window never has to pass.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import anyio
import jwt
import pytest
import redis
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError
from sqlmodel import select
from starlette.types import Message, Receive, Scope, Send
from svix.webhooks import Webhook
from typer.testing import CliRunner

from models import User
from search_service import cli
from search_service.app import create_app
from search_service.db import session_scope
from search_service.errors import RateLimitedError
from search_service.ratelimit import RequestLimiter, RouteGroup, route_group
from search_service.refresh.writer import reindex
from search_service.runtime import Runtime
from search_service.settings import (
    ClerkSettings,
    HttpSettings,
    RateLimitSettings,
    Settings,
    get_settings,
)
from search_service.users.api_keys import create_api_key
from tests.factories import make_student
from tests.search_service.jwt_helpers import AZP, ISSUER, make_token
from tests.search_service.users.test_webhooks import user_event

REDIS_URL = "redis://127.0.0.1:6379/0"
SEARCH = {"query": "python"}


def _limited(settings: Settings, **limits: Any) -> Settings:
    """``settings`` with the given rate-limit fields (every group "2/minute" unless set)."""
    fields: dict[str, Any] = {
        "search": "2/minute",
        "writes": "2/minute",
        "reads": "2/minute",
        "public": "2/minute",
    }
    fields.update(limits)
    return settings.model_copy(update={"rate_limit": RateLimitSettings(**fields)})


def _key(rt: Runtime, role: str = "employer", user_id: int | None = None) -> dict[str, str]:
    with session_scope(rt.engine) as session:
        _, key = create_api_key(session, role=role, user_id=user_id)
    return {"Authorization": f"Bearer {key}"}


class _Response(Protocol):
    @property
    def status_code(self) -> int: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def text(self) -> str: ...
    def json(self) -> Any: ...


def _assert_rate_limited(r: _Response) -> int:
    """Assert the one error shape and an RFC 9110 delay-seconds ``Retry-After``."""
    assert r.status_code == 429, r.text
    body = r.json()
    assert body["error"] == "rate_limited"
    assert isinstance(body["detail"], str) and body["detail"]
    retry_after = r.headers["Retry-After"]
    assert re.fullmatch(r"\d+", retry_after), retry_after
    return int(retry_after)


@pytest.fixture
def searchable(runtime: Runtime) -> Runtime:
    """The runtime with one indexed student, so ``/v1/search`` answers 200."""
    make_student(runtime, clerk_id="user_indexed", headline="Python developer", skills=("python",))
    reindex(runtime, progress=False)
    return runtime


@pytest.fixture
def limited_client(settings: Settings, searchable: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(_limited(settings), runtime=searchable)) as c:
        yield c


class TestRouteGroup:
    @pytest.mark.parametrize(
        ("method", "path", "group"),
        [
            ("POST", "/v1/search", RouteGroup.SEARCH),
            ("GET", "/v1/recommendations/{user_id}", RouteGroup.SEARCH),
            ("GET", "/v1/me/profile", RouteGroup.READS),
            ("HEAD", "/v1/users/me/data", RouteGroup.READS),
            ("PUT", "/v1/me/profile", RouteGroup.WRITES),
            ("PATCH", "/v1/me/profile", RouteGroup.WRITES),
            ("DELETE", "/v1/users/me/data/{key}", RouteGroup.WRITES),
            ("POST", "/v1/admin/api-keys", RouteGroup.WRITES),
            ("GET", "/v1/searches-saved", RouteGroup.READS),
            ("POST", "/v1/gigs/search", RouteGroup.SEARCH),
            ("GET", "/v1/me/recommended-gigs", RouteGroup.SEARCH),
            ("GET", "/v1/gigs/{gig_id}/candidates", RouteGroup.SEARCH),
            ("GET", "/v1/gigs/{gig_id}/applicants", RouteGroup.SEARCH),
            ("GET", "/v1/profiles/{user_id}/similar", RouteGroup.SEARCH),
            ("POST", "/v1/gigs", RouteGroup.WRITES),
            ("PATCH", "/v1/gigs/{gig_id}", RouteGroup.WRITES),
            ("GET", "/v1/gigs/{gig_id}", RouteGroup.READS),
        ],
    )
    def test_route_group_follows_method_and_path(
        self, method: str, path: str, group: RouteGroup
    ) -> None:
        assert route_group(method, path) is group


def test_request_over_the_limit_gets_429_with_retry_after(
    limited_client: TestClient, runtime: Runtime
) -> None:
    headers = _key(runtime)
    for _ in range(2):
        r = limited_client.post("/v1/search", json=SEARCH, headers=headers)
        assert r.status_code == 200, r.text
    r = limited_client.post("/v1/search", json=SEARCH, headers=headers)
    retry_after = _assert_rate_limited(r)
    assert 1 <= retry_after <= 60
    assert "search" in r.json()["detail"]


def test_each_api_key_has_its_own_budget(limited_client: TestClient, runtime: Runtime) -> None:
    first, second = _key(runtime), _key(runtime)
    for _ in range(2):
        assert limited_client.post("/v1/search", json=SEARCH, headers=first).status_code == 200
    _assert_rate_limited(limited_client.post("/v1/search", json=SEARCH, headers=first))
    r = limited_client.post("/v1/search", json=SEARCH, headers=second)
    assert r.status_code == 200, r.text


def test_groups_have_separate_budgets(limited_client: TestClient, runtime: Runtime) -> None:
    user = make_student(runtime, clerk_id="user_groups")
    headers = _key(runtime, role="student", user_id=user.id)
    for _ in range(2):
        assert limited_client.get("/v1/me/profile", headers=headers).status_code == 200
    _assert_rate_limited(limited_client.get("/v1/me/profile", headers=headers))
    r = limited_client.put("/v1/users/me/data/colour", json={"value": "red"}, headers=headers)
    assert r.status_code == 201, r.text


class TestRequestLimiter:
    def test_retry_after_is_the_time_until_the_oldest_request_leaves_the_window(self) -> None:
        limiter = RequestLimiter(RateLimitSettings(writes="2/minute"))
        limiter.check(RouteGroup.WRITES, "key:1")
        limiter.check(RouteGroup.WRITES, "key:1")
        with pytest.raises(RateLimitedError) as caught:
            limiter.check(RouteGroup.WRITES, "key:1")
        assert 58 <= caught.value.retry_after_s <= 60
        assert caught.value.headers == {"Retry-After": str(caught.value.retry_after_s)}

    def test_identities_and_groups_do_not_share_budgets(self) -> None:
        limiter = RequestLimiter(RateLimitSettings(reads="1/minute", writes="1/minute"))
        limiter.check(RouteGroup.READS, "key:1")
        with pytest.raises(RateLimitedError):
            limiter.check(RouteGroup.READS, "key:1")
        limiter.check(RouteGroup.READS, "key:2")
        limiter.check(RouteGroup.WRITES, "key:1")


@pytest.fixture
def jwt_client(
    settings: Settings,
    runtime: Runtime,
    searchable: Runtime,
    tmp_path: Path,
    rsa_key: rsa.RSAPrivateKey,
) -> Iterator[TestClient]:
    jwk: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    jwk.update({"kid": "ins_test_1", "use": "sig", "alg": "RS256"})
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [jwk]}), encoding="utf-8")
    cfg = _limited(settings).model_copy(
        update={"clerk": ClerkSettings(jwks_file=jwks, issuer=ISSUER, authorized_parties=[AZP])}
    )
    with TestClient(create_app(cfg, runtime=runtime)) as c:
        yield c


def _employer(rt: Runtime, clerk_id: str) -> User:
    make_student(rt, clerk_id=clerk_id)
    with session_scope(rt.engine) as session:
        user = session.exec(select(User).where(User.clerk_id == clerk_id)).one()
        user.roles = ["employer"]
        return user


def test_jwt_callers_are_limited_per_user(
    jwt_client: TestClient, runtime: Runtime, rsa_key: rsa.RSAPrivateKey
) -> None:
    _employer(runtime, "user_a")
    _employer(runtime, "user_b")

    def bearer(sub: str, exp_in: int) -> dict[str, str]:
        # A different expiry makes a different token for the same user.
        return {"Authorization": f"Bearer {make_token(rsa_key, sub, exp_in=exp_in)}"}

    for exp_in in (60, 61):
        r = jwt_client.post("/v1/search", json=SEARCH, headers=bearer("user_a", exp_in))
        assert r.status_code == 200, r.text
    # A third session token of user_a shares the budget; user_b has their own.
    _assert_rate_limited(jwt_client.post("/v1/search", json=SEARCH, headers=bearer("user_a", 62)))
    r = jwt_client.post("/v1/search", json=SEARCH, headers=bearer("user_b", 60))
    assert r.status_code == 200, r.text


def _v1_routes(app: FastAPI) -> list[tuple[str, str]]:
    # The OpenAPI paths, not app.routes: an included router sits there as one
    # object whose routes lack the include prefix.
    paths: dict[str, dict[str, Any]] = app.openapi()["paths"]
    return [
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith("/v1/")
        for method in operations
    ]


def test_every_v1_route_is_limited(settings: Settings, runtime: Runtime) -> None:
    # Enumerated from the app, so a new route is checked without editing this test.
    # A fresh key per route (a user-less one: owner-only and admin routes refuse it
    # with 403, so nothing is deleted or revoked) spends its budget of 2, then must
    # get 429. Unauthenticated routes are limited per client IP instead.
    app = create_app(_limited(settings), runtime=runtime)
    routes = _v1_routes(app)
    assert len(routes) >= 15, routes
    unlimited = []
    with TestClient(app) as client:
        for method, template in routes:
            path = re.sub(r"\{[^}]+\}", "1", template)
            headers = _key(runtime)
            body: dict[str, Any] | None = None if method in ("GET", "HEAD", "DELETE") else {}
            statuses = [
                client.request(method, path, json=body, headers=headers).status_code
                for _ in range(3)
            ]
            if statuses[-1] != 429:
                unlimited.append((method, template, statuses))
    assert unlimited == []


def test_public_profile_is_limited_per_client_ip(settings: Settings, runtime: Runtime) -> None:
    user = make_student(runtime, clerk_id="user_public")
    app = create_app(_limited(settings), runtime=runtime)
    url = f"/v1/profiles/{user.id}/public"
    with (
        TestClient(app, client=("203.0.113.1", 5000)) as one,
        TestClient(app, client=("203.0.113.2", 5000)) as other,
    ):
        for _ in range(2):
            assert one.get(url).status_code in (200, 404)
        _assert_rate_limited(one.get(url))
        assert other.get(url).status_code in (200, 404)


def _hook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _with_webhook(cfg: Settings, secret: str) -> Settings:
    return cfg.model_copy(update={"clerk": ClerkSettings(webhook_secret=SecretStr(secret))})


def _signed_delivery(secret: str, n: int) -> tuple[str, dict[str, str]]:
    """A ``user.created`` body for user ``n`` and its Svix headers, signed now."""
    body = json.dumps(user_event(clerk_id=f"user_hook_{n}", email=f"hook{n}@example.org"))
    msg_id = f"msg_{secrets.token_hex(8)}"
    headers = {
        "svix-id": msg_id,
        "svix-timestamp": str(int(datetime.now(tz=UTC).timestamp())),
        "svix-signature": Webhook(secret).sign(msg_id, datetime.now(tz=UTC), body),
        "content-type": "application/json",
    }
    return body, headers


def test_webhooks_spend_no_api_budget_and_probes_are_never_limited(
    settings: Settings, runtime: Runtime, metrics_headers: dict[str, str]
) -> None:
    secret = _hook_secret()
    cfg = _limited(settings, writes="1/minute", reads="1/minute", public="1/minute")
    with TestClient(create_app(_with_webhook(cfg, secret), runtime=runtime)) as client:
        for i in range(5):
            body, headers = _signed_delivery(secret, i)
            r = client.post("/webhooks/clerk", content=body, headers=headers)
            assert r.status_code == 200, r.text
        for _ in range(5):
            assert client.get("/healthz").status_code == 200
            assert client.get("/metrics", headers=metrics_headers).status_code == 200


def test_webhooks_are_limited_per_ip_before_the_signature_is_checked(
    settings: Settings, runtime: Runtime
) -> None:
    secret = _hook_secret()
    app = create_app(
        _with_webhook(_limited(settings, webhooks="2/minute"), secret), runtime=runtime
    )
    junk = {"content-type": "application/json"}
    with (
        TestClient(app, client=("203.0.113.1", 5000)) as flooder,
        TestClient(app, client=("203.0.113.2", 5000)) as svix,
    ):
        for _ in range(2):
            r = flooder.post("/webhooks/clerk", content=b"{}", headers=junk)
            assert r.status_code == 400, r.text  # unsigned: refused by the signature check
        _assert_rate_limited(flooder.post("/webhooks/clerk", content=b"{}", headers=junk))
        # The budget is spent before the signature is looked at: a signed delivery
        # from that IP waits too, while another IP's is applied.
        body, headers = _signed_delivery(secret, 0)
        _assert_rate_limited(flooder.post("/webhooks/clerk", content=body, headers=headers))
        r = svix.post("/webhooks/clerk", content=body, headers=headers)
        assert r.status_code == 200, r.text


def test_refusals_before_authentication_spend_the_ip_budget(
    settings: Settings, runtime: Runtime
) -> None:
    cfg = _limited(settings, refused="2/minute").model_copy(
        update={"http": HttpSettings(max_body_bytes=1024, max_json_depth=4)}
    )
    app = create_app(cfg, runtime=runtime)
    too_large = {"query": "x" * 2000}
    too_deep = {"filters": {"skills": [[["x"]]]}}  # depth 5
    with (
        TestClient(app, client=("203.0.113.1", 5000)) as one,
        TestClient(app, client=("203.0.113.2", 5000)) as other,
    ):
        assert one.post("/v1/search", json=too_large).status_code == 413
        assert one.post("/v1/search", json=too_deep).status_code == 422
        _assert_rate_limited(one.post("/v1/search", json=too_large))
        _assert_rate_limited(one.post("/v1/search", json=too_deep))
        # Only refusals spend it: the same IP's acceptable requests go on as before,
        # and another IP's refusals are its own.
        assert one.post("/v1/search", json=SEARCH).status_code == 401
        assert one.get("/healthz").status_code == 200
        assert other.post("/v1/search", json=too_large).status_code == 413


def _bad_keys(client: TestClient, forwarded_for: list[str]) -> list[int]:
    """Statuses of failed authentications, each claiming to be from one address."""
    wrong = {"Authorization": "Bearer gsk_not-a-real-key"}
    return [
        client.post("/v1/search", json=SEARCH, headers={**wrong, "X-Forwarded-For": ip}).status_code
        for ip in forwarded_for
    ]


ROTATING = [f"198.51.100.{i}" for i in range(1, 5)]


def test_forwarded_for_is_ignored_by_default(settings: Settings, runtime: Runtime) -> None:
    # Even from loopback, where a proxy usually runs: no proxy is trusted by default,
    # so rotating the header does not reset the failed-login budget.
    cfg = _limited(settings, auth_failures="2/minute")
    assert cfg.http.trusted_proxies == []
    app = create_app(cfg, runtime=runtime)
    with TestClient(app, client=("127.0.0.1", 5000)) as client:
        assert _bad_keys(client, ROTATING) == [401, 401, 429, 429]


def test_forwarded_for_is_honoured_from_a_trusted_proxy_only(
    settings: Settings, runtime: Runtime
) -> None:
    cfg = _limited(settings, auth_failures="2/minute").model_copy(
        update={"http": HttpSettings(trusted_proxies=["127.0.0.1", "10.0.0.0/8"])}
    )
    app = create_app(cfg, runtime=runtime)
    with (
        TestClient(app, client=("127.0.0.1", 5000)) as proxy,
        TestClient(app, client=("10.1.2.3", 5000)) as other_proxy,
        TestClient(app, client=("203.0.113.7", 5000)) as direct,
    ):
        # Behind the proxy each forwarded client has its own budget ...
        assert _bad_keys(proxy, ROTATING) == [401] * 4
        assert _bad_keys(other_proxy, ["192.0.2.1"] * 3) == [401, 401, 429]
        # ... and the header of a peer that is not a trusted proxy is ignored.
        assert _bad_keys(direct, ROTATING) == [401, 401, 429, 429]


def test_serve_never_lets_uvicorn_believe_forwarded_headers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # uvicorn's own default trusts X-Forwarded-For from loopback (and from
    # FORWARDED_ALLOW_IPS); `serve` must switch that off, leaving create_app's
    # GIGSY_HTTP__TRUSTED_PROXIES the one place that decides.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")
    run_kwargs: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda _app, **kwargs: run_kwargs.update(kwargs))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli.app, ["serve", "--port", "8123"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output

    seen: list[Any] = []

    async def probe(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["client"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    config = uvicorn.Config(probe, **run_kwargs)
    config.load()  # wraps the app as `serve` would have it wrapped
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"x-forwarded-for", b"198.51.100.9")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8123),
    }

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        pass

    anyio.run(config.loaded_app, scope, receive, send)
    assert seen == [("127.0.0.1", 5000)]


def test_disabled_rate_limits_never_answer_429(
    settings: Settings, runtime: Runtime, searchable: Runtime
) -> None:
    cfg = settings.model_copy(
        update={"rate_limit": RateLimitSettings(enabled=False, search="1/minute")}
    )
    headers = _key(runtime)
    with TestClient(create_app(cfg, runtime=runtime)) as client:
        for _ in range(5):
            r = client.post("/v1/search", json=SEARCH, headers=headers)
            assert r.status_code == 200, r.text


def test_storage_failure_lets_requests_through(
    settings: Settings, runtime: Runtime, searchable: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    # Nothing listens on port 1: every storage call fails at once.
    cfg = _limited(settings, search="1/minute", storage_uri="redis://127.0.0.1:1/0")
    headers = _key(runtime)
    with TestClient(create_app(cfg, runtime=runtime)) as client:
        for _ in range(3):
            r = client.post("/v1/search", json=SEARCH, headers=headers)
            assert r.status_code == 200, r.text
    assert "rate limit storage failed" in caplog.text


def _redis_unavailable() -> str | None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping()
    except redis.RedisError as exc:
        return f"Redis not reachable at {REDIS_URL}: {type(exc).__name__}"
    return None


@pytest.mark.redis
def test_replicas_share_budgets_through_redis(
    settings: Settings, runtime: Runtime, searchable: Runtime
) -> None:
    reason = _redis_unavailable()
    if reason:
        pytest.skip(reason)
    prefix = f"gigsy-test-{uuid.uuid4().hex}"  # never collides with another run
    cfg = _limited(settings, storage_uri=REDIS_URL, key_prefix=prefix)
    headers = _key(runtime)
    try:
        with (
            TestClient(create_app(cfg, runtime=runtime)) as replica_a,
            TestClient(create_app(cfg, runtime=runtime)) as replica_b,
        ):
            assert replica_a.post("/v1/search", json=SEARCH, headers=headers).status_code == 200
            assert replica_b.post("/v1/search", json=SEARCH, headers=headers).status_code == 200
            _assert_rate_limited(replica_a.post("/v1/search", json=SEARCH, headers=headers))
            _assert_rate_limited(replica_b.post("/v1/search", json=SEARCH, headers=headers))
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=f"*{prefix}*"):
            client.delete(key)


class TestSettings:
    def test_limits_are_read_from_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("GIGSY_RATE_LIMIT__SEARCH", "10/second")
        monkeypatch.setenv("GIGSY_RATE_LIMIT__STORAGE_URI", REDIS_URL)
        monkeypatch.setenv("GIGSY_RATE_LIMIT__ENABLED", "false")
        cfg = Settings().rate_limit
        assert (cfg.search, cfg.storage_uri, cfg.enabled) == ("10/second", REDIS_URL, False)
        assert cfg.writes == "30/minute"

    @pytest.mark.parametrize("value", ["often", "0/minute", "1/second;10/minute"])
    @pytest.mark.parametrize("group", ["reads", "webhooks", "refused"])
    def test_a_bad_limit_is_refused_at_start_up(self, group: str, value: str) -> None:
        with pytest.raises(ValidationError):
            RateLimitSettings(**{group: value})


def test_failed_authentication_is_throttled_per_ip(
    settings: Settings, runtime: Runtime, employer_headers: dict[str, str]
) -> None:
    cfg = _limited(settings, search="100/minute", auth_failures="3/minute")
    with TestClient(create_app(cfg, runtime=runtime)) as client:
        wrong = {"Authorization": "Bearer gsk_not-a-real-key"}
        for _ in range(3):
            assert client.post("/v1/search", json=SEARCH, headers=wrong).status_code == 401
        _assert_rate_limited(client.post("/v1/search", json=SEARCH, headers=wrong))
        # Guessing is throttled; a caller with valid credentials is not (it gets past
        # authentication and the limiter: 503 here only because nothing is indexed).
        ok = client.post("/v1/search", json=SEARCH, headers=employer_headers)
        assert ok.status_code not in (401, 429), ok.text
