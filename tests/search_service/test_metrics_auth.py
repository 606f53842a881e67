"""``GET /metrics`` on the API port: off without a token, bearer-token protected,
and the SQL-backed gauges cached so scrapes do not each run the aggregates."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import generate_latest
from pydantic import SecretStr, ValidationError
from sqlmodel import Session

import search_service.index.repository as index_repo
import search_service.outbox as outbox_repo
from search_service.app import create_app
from search_service.index.entity import PROFILE_ROWS
from search_service.index.repository import Staleness
from search_service.metrics import Metrics
from search_service.runtime import Runtime
from search_service.settings import MetricsSettings, Settings
from tests.conftest import METRICS_TOKEN
from tests.factories import make_student


def _client(settings: Settings, runtime: Runtime, metrics: MetricsSettings) -> TestClient:
    cfg = settings.model_copy(update={"metrics": metrics})
    return TestClient(create_app(cfg, runtime=runtime))


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count the backlog queries a scrape runs (the real ones still run)."""
    calls = {"staleness": 0, "count_pending": 0}

    def staleness(session: Session, **kw: Any) -> Staleness:
        if kw["entity"].name == PROFILE_ROWS.name:  # one reading = profiles and gigs
            calls["staleness"] += 1
        return index_repo.staleness(session, **kw)

    def count_pending(session: Session) -> int:
        calls["count_pending"] += 1
        return outbox_repo.count_pending(session)

    monkeypatch.setattr("search_service.metrics.staleness", staleness)
    monkeypatch.setattr("search_service.metrics.count_pending", count_pending)
    return calls


class TestAccess:
    def test_without_a_token_metrics_are_off_with_404(
        self, settings: Settings, runtime: Runtime
    ) -> None:
        with _client(settings, runtime, MetricsSettings()) as c:
            for headers in ({}, {"Authorization": f"Bearer {METRICS_TOKEN}"}):
                r = c.get("/metrics", headers=headers)
                assert r.status_code == 404, r.text
                assert r.json()["error"] == "not_found"
                assert "--metrics-port" in r.json()["detail"]
                assert "gigsy_" not in r.text

    def test_an_empty_token_counts_as_none(self, settings: Settings, runtime: Runtime) -> None:
        with _client(settings, runtime, MetricsSettings(token=SecretStr(""))) as c:
            assert c.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404

    @pytest.mark.parametrize(
        "headers",
        [
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": f"Bearer {METRICS_TOKEN}x"},
            {"Authorization": f"Basic {METRICS_TOKEN}"},
            {"Authorization": f"Bearer {METRICS_TOKEN[:-1]}"},
        ],
        ids=["none", "wrong", "longer", "not-bearer", "prefix"],
    )
    def test_a_missing_or_wrong_token_is_401(
        self, client: TestClient, headers: dict[str, str]
    ) -> None:
        r = client.get("/metrics", headers=headers)
        assert r.status_code == 401, r.text
        assert set(r.json()) == {"error", "detail"} and r.json()["error"] == "unauthorized"
        assert "gigsy_" not in r.text

    def test_the_token_gets_the_metrics(
        self, client: TestClient, metrics_headers: dict[str, str]
    ) -> None:
        r = client.get("/metrics", headers=metrics_headers)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/plain")
        assert "gigsy_profiles_stale " in r.text and "gigsy_outbox_pending " in r.text

    def test_an_api_key_is_not_a_metrics_token(
        self, client: TestClient, employer_headers: dict[str, str]
    ) -> None:
        assert client.get("/metrics", headers=employer_headers).status_code == 401


class TestSettings:
    def test_token_and_cache_from_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("GIGSY_METRICS__TOKEN", "s3cr3t-s3cr3t-s3cr3t")
        monkeypatch.setenv("GIGSY_METRICS__CACHE_S", "2.5")
        s = Settings()
        assert s.metrics.token is not None
        assert s.metrics.token.get_secret_value() == "s3cr3t-s3cr3t-s3cr3t"
        assert "s3cr3t" not in repr(s)
        assert s.metrics.cache_s == 2.5

    def test_defaults_are_off_and_five_seconds(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("GIGSY_METRICS__TOKEN", raising=False)
        monkeypatch.delenv("GIGSY_METRICS__CACHE_S", raising=False)
        s = Settings()
        assert s.metrics.token is None and s.metrics.cache_s == 5.0

    @pytest.mark.parametrize("token", ["changeme", "short"])
    def test_placeholder_token_refused_outside_development(self, token: str) -> None:
        with pytest.raises(ValidationError, match="GIGSY_METRICS__TOKEN"):
            Settings(environment="production", metrics={"token": token})
        assert Settings(environment="development", metrics={"token": token}).metrics.token


class TestCache:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        """The test settings with the default 5 s cache (the runtime is built from them)."""
        return settings.model_copy(
            update={"metrics": MetricsSettings(token=SecretStr(METRICS_TOKEN), cache_s=5.0)}
        )

    def test_scrapes_within_the_window_run_the_sql_once(
        self,
        client: TestClient,
        runtime: Runtime,
        metrics_headers: dict[str, str],
        counted: dict[str, int],
    ) -> None:
        first = client.get("/metrics", headers=metrics_headers)
        make_student(runtime, clerk_id="m_new", headline="x")  # not seen until the window ends
        second = client.get("/metrics", headers=metrics_headers)
        assert first.status_code == second.status_code == 200
        assert counted == {"staleness": 1, "count_pending": 1}
        assert "gigsy_profiles_stale 0.0" in second.text


def test_cache_zero_reads_every_scrape(
    client: TestClient, metrics_headers: dict[str, str], counted: dict[str, int]
) -> None:
    client.get("/metrics", headers=metrics_headers)  # the test settings: cache_s=0
    client.get("/metrics", headers=metrics_headers)
    assert counted == {"staleness": 2, "count_pending": 2}


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_reading_is_reused_until_the_window_ends(
    runtime: Runtime, counted: dict[str, int]
) -> None:
    clock = _Clock()
    metrics = Metrics(runtime.engine, cache_s=5.0, clock=clock)
    assert counted["staleness"] == 0  # registering reads nothing
    assert b"gigsy_profiles_stale 0.0" in generate_latest(metrics.registry)
    make_student(runtime, clerk_id="m_clock", headline="x")
    clock.now += 4.9
    assert b"gigsy_profiles_stale 0.0" in generate_latest(metrics.registry)
    assert counted["staleness"] == 1
    clock.now += 0.2
    assert b"gigsy_profiles_stale 1.0" in generate_latest(metrics.registry)
    assert counted == {"staleness": 2, "count_pending": 2}
