"""Prometheus metrics of one process (``GET /metrics``, ``worker --metrics-port``).

Each :class:`Metrics` owns its registry, so several apps in one process (tests)
never collide. Backlog gauges are computed from SQL at scrape time, so they are
right even in a process that does not run the refresh job; the result is kept
for ``cache_s`` seconds, so however often (and from however many scrapers)
``/metrics`` is hit, the aggregate queries run at most once per window.

Where a request's time goes: search code wraps each stage in :func:`stage`
(query embedding, vector-store query, SQL hydration, explanation, JSON
serialisation); :class:`StageTimingMiddleware` collects the stages of one
request, observes them and the request's total time in the
``gigsy_request_stage_seconds`` histogram (labels ``route`` and ``stage``) and
reports them in the ``Server-Timing`` response header (W3C Server Timing), so a
load generator can read each request's breakdown. The query-embedding cache's
hits and misses are read from the encoder at scrape time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from indexers.encoders import QueryCache
from search_service.db import session_scope
from search_service.index.entity import GIG_ROWS, PROFILE_ROWS
from search_service.index.repository import staleness
from search_service.outbox import count_pending

__all__ = [
    "SEARCH_KINDS",
    "STAGES",
    "TOTAL_STAGE",
    "CachedQueryEncoder",
    "Metrics",
    "StageTimingMiddleware",
    "parse_server_timing",
    "stage",
]

SEARCH_KINDS = ("profiles", "gigs")
"""The ``kind`` label of the search counters: ``POST /v1/search`` (employers
searching profiles) and ``POST /v1/gigs/search`` (students searching gigs)."""

STAGES = ("embed", "vector_query", "hydrate", "explain", "serialise")
"""The stages :func:`stage` times: query embedding (a cache hit included), the
vector-store query(ies), SQL hydration of the hits, building the explained hit
models, and rendering the JSON body."""

TOTAL_STAGE = "app"
"""The ``stage`` label of a request's whole time inside the application (from the
outermost timing middleware in to the response's last byte out)."""

_STAGE_BUCKETS = (
    0.0005,
    0.001,
    0.002,
    0.003,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.02,
    0.03,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)

_REFRESH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


_timings: ContextVar[dict[str, float] | None] = ContextVar("stage_timings", default=None)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Time the enclosed block as stage ``name`` of the request being served.

    Repeated stages (two vector-store queries) add up. Outside a request timed
    by :class:`StageTimingMiddleware` (CLI, scheduler jobs) it records nothing.
    The timings live in a :class:`~contextvars.ContextVar`; Starlette's thread
    pool copies the context, so service code run there is timed too.

    Args:
        name: one of :data:`STAGES`.
    """
    timings = _timings.get()
    if timings is None:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - started


def _server_timing(timings: Iterable[tuple[str, float]]) -> str:
    return ", ".join(f"{name};dur={seconds * 1000:.3f}" for name, seconds in timings)


def parse_server_timing(value: str) -> dict[str, float]:
    """``{name: dur}`` (ms) of a ``Server-Timing`` header value
    (``"embed;dur=8.1, app;dur=12.5"``, W3C Server Timing); entries without a
    ``dur`` are left out."""
    out: dict[str, float] = {}
    for entry in value.split(","):
        name, *params = (p.strip() for p in entry.split(";"))
        for param in params:
            key, _, dur = param.partition("=")
            if key == "dur" and name:
                try:
                    out[name] = float(dur)
                except ValueError:
                    continue
    return out


class StageTimingMiddleware:
    """Pure ASGI middleware: times each HTTP request and the :func:`stage` blocks
    run for it.

    The ``Server-Timing`` response header lists each stage and ``app`` (the time
    in the application until the response started), in ms. Once the response is
    sent, every stage and the total (:data:`TOTAL_STAGE`) are observed in
    ``gigsy_request_stage_seconds`` of the app's runtime metrics, labelled with
    the matched route's path template (requests that matched no route are not
    observed, so a scan of random paths adds no series).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one connection scope; only ``http`` scopes are timed."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        timings: dict[str, float] = {}
        started = time.perf_counter()

        async def send_with_timing(message: Message) -> None:
            if message["type"] == "http.response.start":
                elapsed = time.perf_counter() - started
                MutableHeaders(scope=message)["Server-Timing"] = _server_timing(
                    [*timings.items(), (TOTAL_STAGE, elapsed)]
                )
            await send(message)

        token = _timings.set(timings)
        try:
            await self.app(scope, receive, send_with_timing)
        finally:
            _timings.reset(token)
            total = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None)
            runtime = getattr(getattr(scope.get("app"), "state", None), "runtime", None)
            metrics = getattr(runtime, "metrics", None)
            if route is not None and isinstance(metrics, Metrics):
                metrics.observe_request(route, timings, total)


@runtime_checkable
class CachedQueryEncoder(Protocol):
    """An encoder that keeps query embeddings in a :class:`QueryCache`."""

    cache: QueryCache


class _QueryCacheCollector(Collector):
    """Hits and misses of the query-embedding cache, read at scrape time from the
    encoder ``encoder()`` returns (``None`` while none is loaded, or when it keeps
    no cache: no samples then)."""

    def __init__(self, encoder: Callable[[], object | None]) -> None:
        self.encoder = encoder

    def _families(self, cache: QueryCache | None) -> Iterator[Metric]:
        hits = CounterMetricFamily(
            "gigsy_query_embedding_cache_hits",
            "Query embeddings served from the encoder's LRU cache.",
        )
        misses = CounterMetricFamily(
            "gigsy_query_embedding_cache_misses",
            "Query embeddings computed by the model (not in the cache).",
        )
        ratio = GaugeMetricFamily(
            "gigsy_query_embedding_cache_hit_ratio",
            "hits / (hits + misses) since start (0 before the first query).",
        )
        if cache is not None:
            h, m = cache.hits, cache.misses
            hits.add_metric([], h)
            misses.add_metric([], m)
            ratio.add_metric([], h / (h + m) if h + m else 0.0)
        yield from (hits, misses, ratio)

    def describe(self) -> Iterator[Metric]:
        return self._families(None)

    def collect(self) -> Iterator[Metric]:
        enc = self.encoder()
        return self._families(enc.cache if isinstance(enc, CachedQueryEncoder) else None)


@dataclass(frozen=True, slots=True)
class _Backlog:
    stale: int
    oldest_s: float
    failing: int
    pending: int
    gigs_stale: int = 0


def _families(backlog: _Backlog | None) -> Iterator[GaugeMetricFamily]:
    def gauge(name: str, doc: str, value: float | None) -> GaugeMetricFamily:
        family = GaugeMetricFamily(name, doc)
        if value is not None:
            family.add_metric([], value)
        return family

    b = backlog
    yield gauge(
        "gigsy_profiles_stale",
        "Indexable users whose index entry is missing or older than their row.",
        b.stale if b else None,
    )
    yield gauge(
        "gigsy_profiles_oldest_staleness_seconds",
        "Seconds since the updated_at of the oldest stale user (0 when none).",
        b.oldest_s if b else None,
    )
    yield gauge(
        "gigsy_profiles_failing",
        "Stale users with at least one failed refresh attempt (in backoff).",
        b.failing if b else None,
    )
    yield gauge(
        "gigsy_outbox_pending", "Outbox events not yet processed.", b.pending if b else None
    )
    yield gauge(
        "gigsy_gigs_stale",
        "Servable gigs whose index entry is missing or older than their document.",
        b.gigs_stale if b else None,
    )


class _BacklogCollector(Collector):
    """Stale profile count, oldest staleness and pending outbox events, read from SQL
    at scrape time and cached for ``cache_s`` seconds (``clock`` in seconds)."""

    def __init__(
        self, engine: Engine, cache_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.engine = engine
        self.cache_s = cache_s
        self.clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, _Backlog] | None = None

    def _read(self) -> _Backlog:
        # The lock makes concurrent scrapes wait for one read instead of each
        # running the aggregates.
        with self._lock:
            now = self.clock()
            if self._cached is not None and now - self._cached[0] < self.cache_s:
                return self._cached[1]
            with session_scope(self.engine) as session:
                s = staleness(session, entity=PROFILE_ROWS)
                pending = count_pending(session)
                gigs = staleness(session, entity=GIG_ROWS)
            backlog = _Backlog(s.stale, s.oldest_s, s.failing, pending, gigs.stale)
            self._cached = (now, backlog)
            return backlog

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Names only: without describe() the registry would collect (run the SQL)
        # when the collector is registered.
        return _families(None)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        return _families(self._read())


class Metrics:
    """The metrics of one runtime.

    Attributes:
        registry: what ``/metrics`` serves.
        refresh_duration: seconds per refresh run that did work (histogram).
        profiles_per_second: profiles indexed per second in the last run that did work.
        profiles_indexed: profiles written to the index by the refresh job.
        profiles_embedded: of those, profiles whose text was (re-)embedded (not reused).
        refresh_failures: profiles whose refresh failed (each attempt counts).
        snapshot_repairs: ``users.portfolio`` snapshots repaired by drift reconciliation.
        users_purged: soft-deleted users whose personal fields were erased.
        gigs_indexed, gigs_embedded, gig_refresh_failures: the same three counters
            for gigs.
        searches: searches served, by ``kind`` (:data:`SEARCH_KINDS`); a search
            is a request for a first page (offset 0), so paging does not count.
        zero_result_searches: of those, the ones whose first page was empty.
        saved_search_runs: saved-search runs started (failed ones included).
        saved_search_failures: saved-search runs that failed (retried next interval).
        saved_search_alerts: alerts created by saved-search runs.
        request_stages: seconds per request and stage (:data:`STAGES` and
            :data:`TOTAL_STAGE`), by route template (histogram; buckets 0.5 ms
            to 2.5 s).

    Args:
        engine: the database the backlog gauges are read from; ``None``: no such gauges.
        cache_s: seconds a backlog reading is reused across scrapes (0: every scrape).
        clock: monotonic time in seconds (tests pass a fake one).
        encoder: returns the dense encoder when one is loaded (else ``None``); its
            query cache's hits and misses are exported at scrape time.
    """

    def __init__(
        self,
        engine: Engine | None = None,
        *,
        cache_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        encoder: Callable[[], object | None] | None = None,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.request_stages = Histogram(
            "gigsy_request_stage_seconds",
            "Seconds per HTTP request in each stage (embed, vector_query, hydrate, "
            "explain, serialise) and in total (app), by route template.",
            ["route", "stage"],
            buckets=_STAGE_BUCKETS,
            registry=self.registry,
        )
        self.refresh_duration = Histogram(
            "gigsy_refresh_duration_seconds",
            "Wall time of a refresh run that indexed at least one profile.",
            buckets=_REFRESH_BUCKETS,
            registry=self.registry,
        )
        self.profiles_per_second = Gauge(
            "gigsy_refresh_profiles_per_second",
            "Profiles indexed per second by the last refresh run that did work.",
            registry=self.registry,
        )
        self.profiles_indexed = Counter(
            "gigsy_profiles_indexed",
            "Profiles written to the index by the refresh job.",
            registry=self.registry,
        )
        self.profiles_embedded = Counter(
            "gigsy_profiles_embedded",
            "Profiles the refresh job (re-)embedded; the rest reused a stored vector.",
            registry=self.registry,
        )
        self.refresh_failures = Counter(
            "gigsy_refresh_failures",
            "Profile refresh attempts that failed.",
            registry=self.registry,
        )
        self.snapshot_repairs = Counter(
            "gigsy_snapshot_repairs",
            "users.portfolio snapshots repaired from the normalized tables.",
            registry=self.registry,
        )
        self.users_purged = Counter(
            "gigsy_users_purged",
            "Soft-deleted users whose personal fields were erased after retention.",
            registry=self.registry,
        )
        self.gigs_indexed = Counter(
            "gigsy_gigs_indexed",
            "Gigs written to the index by the refresh job.",
            registry=self.registry,
        )
        self.gigs_embedded = Counter(
            "gigsy_gigs_embedded",
            "Gigs the refresh job (re-)embedded; the rest reused a stored vector.",
            registry=self.registry,
        )
        self.gig_refresh_failures = Counter(
            "gigsy_gig_refresh_failures",
            "Gig refresh attempts that failed.",
            registry=self.registry,
        )
        self.searches = Counter(
            "gigsy_searches",
            "Searches served (first pages only), by kind: profiles or gigs.",
            ["kind"],
            registry=self.registry,
        )
        self.zero_result_searches = Counter(
            "gigsy_zero_result_searches",
            "Searches whose first page was empty, by kind: profiles or gigs.",
            ["kind"],
            registry=self.registry,
        )
        for kind in SEARCH_KINDS:
            # Both series exist from the start, so the zero-result rate is 0, not absent.
            self.searches.labels(kind=kind)
            self.zero_result_searches.labels(kind=kind)
        self.saved_search_runs = Counter(
            "gigsy_saved_search_runs",
            "Saved-search runs started, failed ones included.",
            registry=self.registry,
        )
        self.saved_search_failures = Counter(
            "gigsy_saved_search_failures",
            "Saved-search runs that failed; each is retried at its next interval.",
            registry=self.registry,
        )
        self.saved_search_alerts = Counter(
            "gigsy_saved_search_alerts",
            "Alerts (candidates new to a saved search) created by saved-search runs.",
            registry=self.registry,
        )
        if engine is not None:
            self.registry.register(_BacklogCollector(engine, cache_s, clock))
        if encoder is not None:
            self.registry.register(_QueryCacheCollector(encoder))

    def observe_request(self, route: str, timings: dict[str, float], total_s: float) -> None:
        """Observe one request's stage times and its total (seconds) under ``route``."""
        for name, seconds in timings.items():
            self.request_stages.labels(route=route, stage=name).observe(seconds)
        self.request_stages.labels(route=route, stage=TOTAL_STAGE).observe(total_s)

    def record_search(self, kind: str, *, results: int) -> None:
        """Count one search (a first page) of ``kind`` that returned ``results`` hits.

        Raises:
            ValueError: ``kind`` is not one of :data:`SEARCH_KINDS`.
        """
        if kind not in SEARCH_KINDS:
            raise ValueError(f"unknown search kind {kind!r}")
        self.searches.labels(kind=kind).inc()
        if results == 0:
            self.zero_result_searches.labels(kind=kind).inc()

    def refresh_counters(self, entity: str) -> tuple[Counter, Counter, Counter]:
        """``(indexed, embedded, failures)`` counters of an entity (``profiles``, ``gigs``)."""
        if entity == GIG_ROWS.name:
            return self.gigs_indexed, self.gigs_embedded, self.gig_refresh_failures
        return self.profiles_indexed, self.profiles_embedded, self.refresh_failures
