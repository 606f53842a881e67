"""Where a request's time goes: per-stage histograms and the query-embedding cache
in ``/metrics``, and the ``Server-Timing`` header of each response."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt
import pytest
from fastapi.testclient import TestClient
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from indexers import HashingEncoder
from indexers.encoders import QueryCache
from models import Availability
from search_service.entities import ENTITIES
from search_service.metrics import (
    STAGES,
    TOTAL_STAGE,
    Metrics,
    parse_server_timing,
    stage,
)
from search_service.refresh.writer import reindex
from search_service.runtime import Runtime
from search_service.settings import Settings
from tests.factories import make_student

SEARCH_ROUTE = "/v1/search"


class CachingEncoder:
    """The hashing encoder behind a :class:`QueryCache`, as the model encoders keep one."""

    def __init__(self) -> None:
        self.inner = HashingEncoder(64)
        self.cache = QueryCache(16)

    @property
    def dim(self) -> int:
        return self.inner.dim

    @property
    def name(self) -> str:
        return "hashing+cache"

    def encode_documents(
        self, texts: Sequence[str], *, progress: bool = False
    ) -> npt.NDArray[np.float32]:
        return self.inner.encode_documents(texts)

    def encode_query(self, text: str) -> npt.NDArray[np.float32]:
        found = self.cache.get(text)
        if found is None:
            found = self.inner.encode_query(text)
            self.cache.put(text, found)
        return found


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    """Two indexed students, on an encoder with a query cache (overrides conftest's)."""
    rt = Runtime.open(settings, entities=ENTITIES, encoder=CachingEncoder())
    make_student(
        rt,
        clerk_id="ana",
        headline="Frontend developer",
        bio="I build React apps with Figma designs.",
        skills=("react", "figma"),
        languages=("English",),
        availability=Availability.WEEKENDS,
    )
    make_student(
        rt,
        clerk_id="ben",
        headline="Backend developer",
        bio="Python and Django APIs.",
        skills=("python", "django"),
        languages=("English",),
        availability=Availability.PART_TIME,
    )
    reindex(rt, progress=False)
    yield rt
    rt.close()


def _samples(
    client: TestClient, headers: dict[str, str]
) -> dict[tuple[str, tuple[str, ...]], float]:
    """``(sample name, sorted label items)`` -> value of one scrape."""
    r = client.get("/metrics", headers=headers)
    assert r.status_code == 200, r.text
    out: dict[tuple[str, tuple[str, ...]], float] = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            labels = tuple(f"{k}={v}" for k, v in sorted(s.labels.items()) if k != "le")
            if "le" not in s.labels:
                out[(s.name, labels)] = s.value
    return out


def _stage_count(samples: dict[tuple[str, tuple[str, ...]], float], name: str) -> float:
    key = ("gigsy_request_stage_seconds_count", (f"route={SEARCH_ROUTE}", f"stage={name}"))
    return samples.get(key, 0.0)


def _search(client: TestClient, headers: dict[str, str], query: str) -> dict[str, float]:
    r = client.post(SEARCH_ROUTE, json={"query": query, "limit": 5}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["results"], "the fixture corpus should match"
    return parse_server_timing(r.headers["Server-Timing"])


class TestStageHistograms:
    def test_a_hybrid_search_observes_every_stage_once(
        self,
        client: TestClient,
        employer_headers: dict[str, str],
        metrics_headers: dict[str, str],
    ) -> None:
        before = _samples(client, metrics_headers)
        _search(client, employer_headers, "react developer")
        after = _samples(client, metrics_headers)
        for name in (*STAGES, TOTAL_STAGE):
            moved = _stage_count(after, name) - _stage_count(before, name)
            assert moved == 1, name

    def test_stage_times_are_within_the_request_total(
        self, client: TestClient, employer_headers: dict[str, str]
    ) -> None:
        timing = _search(client, employer_headers, "python django")
        assert set(timing) == {*STAGES, TOTAL_STAGE}
        assert all(v >= 0 for v in timing.values())
        assert sum(timing[s] for s in STAGES) <= timing[TOTAL_STAGE] + 1e-3

    def test_unmatched_paths_add_no_series(
        self, client: TestClient, metrics_headers: dict[str, str]
    ) -> None:
        assert client.get("/no/such/path").status_code == 404
        samples = _samples(client, metrics_headers)
        routes = {
            lab
            for name, labels in samples
            if name.startswith("gigsy_request_stage_seconds")
            for lab in labels
            if lab.startswith("route=")
        }
        assert "route=/no/such/path" not in routes


class TestQueryCacheMetrics:
    def test_a_repeated_query_is_a_hit(
        self,
        client: TestClient,
        employer_headers: dict[str, str],
        metrics_headers: dict[str, str],
    ) -> None:
        _search(client, employer_headers, "frontend figma")
        first = _samples(client, metrics_headers)
        _search(client, employer_headers, "frontend figma")
        second = _samples(client, metrics_headers)
        hits, misses = (
            "gigsy_query_embedding_cache_hits_total",
            "gigsy_query_embedding_cache_misses_total",
        )
        assert second[(hits, ())] - first[(hits, ())] == 1
        assert second[(misses, ())] == first[(misses, ())]
        ratio = second[("gigsy_query_embedding_cache_hit_ratio", ())]
        assert ratio == pytest.approx(
            second[(hits, ())] / (second[(hits, ())] + second[(misses, ())])
        )

    def test_an_encoder_without_a_cache_exports_no_samples(self) -> None:
        text = generate_latest(Metrics(encoder=lambda: HashingEncoder(8)).registry).decode()
        assert "gigsy_query_embedding_cache_hits" in text  # described ...
        assert "\ngigsy_query_embedding_cache_hits_total " not in text  # ... with no sample


class TestStageOutsideRequests:
    def test_stage_outside_a_request_records_nothing(self) -> None:
        metrics = Metrics()
        with stage("embed"):
            pass
        assert [s for m in metrics.request_stages.collect() for s in m.samples] == []


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("embed;dur=8.125, app;dur=12.5", {"embed": 8.125, "app": 12.5}),
        ("cache;desc=hit, db;dur=3", {"db": 3.0}),
        ("", {}),
    ],
)
def test_parse_server_timing(header: str, expected: dict[str, float]) -> None:
    assert parse_server_timing(header) == expected
