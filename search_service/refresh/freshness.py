"""The embedding refresh job: keep the index within seconds of SQL.

A run serves every indexed entity (profiles and gigs) with one mechanism. It
applies pending removal events (``index.remove``, ``user.deleted``: points
deleted), then repeatedly *claims* a batch of stale rows
(``embedding_updated_at`` NULL or older than ``visible_updated_at``) under a
lease, taking the entities in turn, and indexes them through the write protocol
of :mod:`search_service.refresh.writer` (upsert, then verify in SQL). An edit
that lands while its document is being embedded therefore stays stale and is
embedded again.

Failure handling: a batch that fails is retried one profile at a time, so one
bad profile never blocks the others; a profile that still fails is logged with
its id, counted, and backs off exponentially. A process killed mid-batch loses
nothing: its users are still stale in SQL and their leases expire (or are
released at start-up on the embedded default).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from indexers import Indexer
from models import now_ms
from search_service.db import session_scope
from search_service.index.entity import IndexedEntity
from search_service.index.removals import process_removals
from search_service.index.repository import attempts_of, claim_stale, record_index_failure
from search_service.outbox import has_pending, mark_update_events_done
from search_service.refresh.writer import BatchOutcome, index_leased
from search_service.runtime import Runtime

if TYPE_CHECKING:
    from apscheduler.schedulers.base import BaseScheduler

__all__ = [
    "REFRESH_JOB_ID",
    "FreshnessJob",
    "RefreshReport",
    "backoff_s",
    "refresh_stale",
    "worker_id",
]

log = logging.getLogger(__name__)

REFRESH_JOB_ID = "refresh-embeddings"
"""APScheduler id of the refresh job."""


def worker_id() -> str:
    """A lease owner id unique to this process: ``host:pid:random`` (at most 64 chars)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def backoff_s(attempts: int, *, base_s: float, max_s: float) -> float:
    """Seconds to wait after the ``attempts``-th consecutive failure (1-based):
    ``min(max_s, base_s * 2**(attempts - 1))`` (capped exponential backoff)."""
    return min(max_s, base_s * 2.0 ** max(0, attempts - 1))


@dataclass(slots=True)
class RefreshReport:
    """What one refresh run did; ``seconds`` is wall time.

    Attributes:
        claimed: stale users leased by this run.
        indexed: users written to the index.
        embedded: of those, users whose text was (re-)embedded.
        reused: of those, users whose stored dense vector was reused.
        failed: ids of users whose refresh failed (they back off).
        removed: users removed from the index (removal events, or a write that
            verification found no longer allowed).
        batches: claim rounds.
    """

    claimed: int = 0
    indexed: int = 0
    embedded: int = 0
    reused: int = 0
    failed: list[int] = field(default_factory=list)
    removed: int = 0
    batches: int = 0
    seconds: float = 0.0

    @property
    def per_second(self) -> float:
        """Users indexed per second of wall time (0.0 for an idle run)."""
        return self.indexed / self.seconds if self.seconds > 0 else 0.0

    def add(self, other: RefreshReport) -> None:
        """Accumulate ``other`` into this report."""
        self.claimed += other.claimed
        self.indexed += other.indexed
        self.embedded += other.embedded
        self.reused += other.reused
        self.failed += other.failed
        self.removed += other.removed
        self.batches += other.batches
        self.seconds += other.seconds


def _index_batch(
    rt: Runtime,
    indexer: Indexer,
    ids: list[int],
    owner: str,
    report: RefreshReport,
    entity: IndexedEntity,
) -> BatchOutcome:
    """Index one claimed batch through the write protocol; back off the failures.
    Returns the batch's outcome."""
    cfg = rt.settings.freshness
    with session_scope(rt.engine) as session:
        attempts = attempts_of(session, ids, entity=entity)
    out = index_leased(
        rt, indexer, ids, owner=owner, on_upserted=rt.on_index_written, entity=entity
    )
    report.embedded += out.embedded
    report.reused += out.reused
    ts = now_ms()
    if out.failed:
        with session_scope(rt.engine) as session:
            for uid, error in out.failed.items():
                n = attempts.get(uid, 0) + 1
                wait = backoff_s(n, base_s=cfg.backoff_base_s, max_s=cfg.backoff_max_s)
                record_index_failure(
                    session, uid, owner=owner, retry_at=ts + int(wait * 1000), entity=entity
                )
                log.error(
                    "refresh of %s %d failed (attempt %d, next try in %.0f s): %r",
                    entity.item,
                    uid,
                    n,
                    wait,
                    error,
                )
    written = len(out.fresh) + len(out.retry)
    report.indexed += written
    report.removed += len(out.removed)
    report.failed += list(out.failed)
    indexed, embedded, failures = rt.metrics.refresh_counters(entity.name)
    failures.inc(len(out.failed))
    indexed.inc(written)
    embedded.inc(out.embedded)
    return out


def refresh_stale(
    rt: Runtime,
    *,
    owner: str | None = None,
    limit: int | None = None,
    entities: Sequence[IndexedEntity] | None = None,
) -> RefreshReport:
    """One refresh run: apply deletions, then index stale rows of every entity (in
    turn, a batch each) until none is left or ``limit`` rows (default
    ``freshness.max_per_run``) have been claimed.

    An entity is done after a claim that finds nothing, or after a short claim
    (fewer rows than asked) whose batch left none of them stale or removed: each claim
    scans the stale rows, so a run that refreshes one profile scans once per
    entity.

    Args:
        rt: the runtime (its store, encoders and settings are used).
        owner: lease owner id (default: a fresh :func:`worker_id`).
        limit: most users to claim in this run.
        entities: the entities to refresh (default: every entity of ``rt``).

    Returns:
        The run's report. Per-profile failures are in ``failed``, never raised.

    Raises:
        SQLAlchemyError: the database failed (the job logs it; nothing is lost).
    """
    cfg = rt.settings.freshness
    entities = rt.entities if entities is None else entities
    owner = owner or worker_id()
    budget = limit if limit is not None else cfg.max_per_run
    report = RefreshReport()
    started = time.perf_counter()
    report.removed = sum(process_removals(rt, entity=e) for e in entities)
    indexers: dict[str, Indexer] = {}
    waiting = list(entities)
    while waiting and report.claimed < budget:
        for entity in list(waiting):
            if report.claimed >= budget:
                break
            want = min(cfg.batch_size, budget - report.claimed)
            with session_scope(rt.engine) as session:
                ids = claim_stale(
                    session, owner=owner, limit=want, lease_ms=cfg.lease_s * 1000, entity=entity
                )
            if not ids:
                waiting.remove(entity)
                continue
            indexer = indexers.get(entity.name)
            if indexer is None:
                index = rt.index(entity)
                index.store.ensure_collection(rt.encoder.dim)
                indexer = indexers[entity.name] = Indexer(
                    index.store, rt.encoder, index.bm25, batch_size=cfg.batch_size
                )
            report.claimed += len(ids)
            report.batches += 1
            out = _index_batch(rt, indexer, ids, owner, report, entity)
            if len(ids) < want and not out.retry and not out.removed:
                # A short claim took every claimable row and none of them is left
                # stale by this batch (a removal below the privacy floor leaves
                # its row stale): no second scan just to find nothing. An
                # edit committed meanwhile wakes the job again (``FreshnessJob.run``
                # loops while woken; the outbox poll covers other processes).
                waiting.remove(entity)
    # Removals that met one of this run's leases were left pending; the leases
    # are released now, so close them (ARCHITECTURE.md, "The write protocol").
    report.removed += sum(process_removals(rt, entity=e) for e in entities)
    # No flush here: an upsert is in the store's write-ahead log once it returns
    # (Qdrant Edge docs, "Updating Data"), so a run is durable without one.
    # FreshnessJob flushes every ``freshness.flush_interval_s``, close() at exit.
    with session_scope(rt.engine) as session:
        for entity in entities:
            mark_update_events_done(session, entity=entity)
    report.seconds = time.perf_counter() - started
    if report.indexed:
        rt.metrics.refresh_duration.observe(report.seconds)
        rt.metrics.profiles_per_second.set(report.per_second)
        log.info(
            "refreshed %d documents (%d embedded, %d reused, %d failed) in %.2f s",
            report.indexed,
            report.embedded,
            report.reused,
            len(report.failed),
            report.seconds,
        )
    return report


class FreshnessJob:
    """The refresh job as scheduled: one run at a time, woken early by edits.

    ``run`` loops while it was woken during a run, so an edit committed while a
    run is in progress is never left for the next interval. ``nudge`` is safe
    to call from any thread.
    """

    def __init__(self, rt: Runtime, *, owner: str | None = None) -> None:
        self.rt = rt
        self.owner = owner or worker_id()
        self._wake = threading.Event()
        self._busy = threading.Lock()
        self._scheduler: BaseScheduler | None = None
        self._flushed_at = time.monotonic()

    def attach(self, scheduler: BaseScheduler) -> None:
        """Add the refresh and outbox-poll jobs to ``scheduler`` and route the
        runtime's profile-change notifications to :meth:`nudge`."""
        cfg = self.rt.settings.freshness
        self._scheduler = scheduler
        scheduler.add_job(
            self.run,
            "interval",
            seconds=cfg.interval_s,
            id=REFRESH_JOB_ID,
            next_run_time=datetime.now(UTC),
        )
        scheduler.add_job(self.poll_outbox, "interval", seconds=cfg.outbox_poll_s, id="outbox-poll")
        self.rt.on_profile_change = self.nudge

    def run(self) -> RefreshReport:
        """The job body; returns the accumulated report (empty if a run was in progress)."""
        if not self._busy.acquire(blocking=False):
            self._wake.set()
            return RefreshReport()
        total = RefreshReport()
        try:
            while True:
                self._wake.clear()
                total.add(refresh_stale(self.rt, owner=self.owner))
                if not self._wake.is_set():
                    break
            self._flush_if_due()
        except Exception:
            log.exception("refresh run failed; the next run catches up")
        finally:
            self._busy.release()
        return total

    def _flush_if_due(self) -> None:
        """Flush every vector store when ``freshness.flush_interval_s`` has passed
        since the last flush: it persists the segments and so bounds the
        write-ahead log a restart replays. Edits are durable without it, so it
        stays off the edit-to-searchable path.

        Raises:
            VectorStoreError: a store failed to flush (the next run tries again).
        """
        now = time.monotonic()
        if now - self._flushed_at < self.rt.settings.freshness.flush_interval_s:
            return
        for entity in self.rt.entities:
            self.rt.index(entity).store.flush()
        self._flushed_at = now

    def nudge(self) -> None:
        """Ask for a run now (or another pass of the run in progress)."""
        self._wake.set()
        scheduler = self._scheduler
        if scheduler is not None and not self._busy.locked() and scheduler.running:
            scheduler.modify_job(REFRESH_JOB_ID, next_run_time=datetime.now(UTC))

    def poll_outbox(self) -> None:
        """Nudge when the outbox holds pending events (edits made by other processes)."""
        try:
            with session_scope(self.rt.engine) as session:
                pending = has_pending(session)
        except Exception:
            log.exception("outbox poll failed")
            return
        if pending:
            self.nudge()
