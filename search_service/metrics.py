"""Prometheus metrics of one process (``GET /metrics``, ``worker --metrics-port``).

Each :class:`Metrics` owns its registry, so several apps in one process (tests)
never collide. Backlog gauges are computed from SQL at scrape time, so they are
right even in a process that does not run the refresh job; the result is kept
for ``cache_s`` seconds, so however often (and from however many scrapers)
``/metrics`` is hit, the aggregate queries run at most once per window.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from search_service.db import session_scope
from search_service.index.entity import GIG_ROWS
from search_service.index.repository import staleness
from search_service.outbox import count_pending

__all__ = ["SEARCH_KINDS", "Metrics"]

SEARCH_KINDS = ("profiles", "gigs")
"""The ``kind`` label of the search counters: ``POST /v1/search`` (employers
searching profiles) and ``POST /v1/gigs/search`` (students searching gigs)."""

_REFRESH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


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
                s = staleness(session)
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

    Args:
        engine: the database the backlog gauges are read from; ``None``: no such gauges.
        cache_s: seconds a backlog reading is reused across scrapes (0: every scrape).
        clock: monotonic time in seconds (tests pass a fake one).
    """

    def __init__(
        self,
        engine: Engine | None = None,
        *,
        cache_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
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
