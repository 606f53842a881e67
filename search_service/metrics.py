"""Prometheus metrics of one process (``GET /metrics``, ``worker --metrics-port``).

Each :class:`Metrics` owns its registry, so several apps in one process (tests)
never collide. Backlog gauges are computed from SQL at scrape time, so they are
right even in a process that does not run the refresh job.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from search_service.db import session_scope
from search_service.repositories.outbox import count_pending
from search_service.repositories.users import staleness

__all__ = ["Metrics"]

_REFRESH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


class _BacklogCollector(Collector):
    """Stale profile count, oldest staleness and pending outbox events, read at scrape."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with session_scope(self.engine) as session:
            s = staleness(session)
            pending = count_pending(session)
        yield GaugeMetricFamily(
            "gigsy_profiles_stale",
            "Indexable users whose index entry is missing or older than their row.",
            value=s.stale,
        )
        yield GaugeMetricFamily(
            "gigsy_profiles_oldest_staleness_seconds",
            "Seconds since the updated_at of the oldest stale user (0 when none).",
            value=s.oldest_s,
        )
        yield GaugeMetricFamily(
            "gigsy_profiles_failing",
            "Stale users with at least one failed refresh attempt (in backoff).",
            value=s.failing,
        )
        yield GaugeMetricFamily(
            "gigsy_outbox_pending", "Outbox events not yet processed.", value=pending
        )


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
    """

    def __init__(self, engine: Engine | None = None) -> None:
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
        if engine is not None:
            self.registry.register(_BacklogCollector(engine))
