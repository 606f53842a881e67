"""Background jobs (APScheduler 3.x).

Jobs: the embedding refresh (every ``freshness.interval_s``, woken early by the
outbox), the outbox poll, gig expiry, balance reconciliation, snapshot drift
reconciliation, the GDPR retention purge and saved searches (every
``saved_searches.poll_s``, running the ones whose interval has come). On the
embedded default they run inside ``serve``; ``gigsy-search worker`` runs them
alone. Jobs never overlap themselves (``max_instances=1``) and missed runs are
coalesced into one.
"""

from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from search_service.db import session_scope
from search_service.index.repository import release_leases
from search_service.privacy.service import purge_expired
from search_service.profiles.service import reconcile_snapshots
from search_service.refresh.expiry import expire_gigs
from search_service.refresh.freshness import FreshnessJob
from search_service.runtime import Runtime
from search_service.saved.service import run_due_saved_searches
from search_service.users.ledger import reconcile_balances

__all__ = [
    "build_scheduler",
    "drift_job",
    "expiry_job",
    "purge_job",
    "reconcile_job",
    "saved_searches_job",
]

log = logging.getLogger(__name__)

_JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 60}


def reconcile_job(rt: Runtime) -> None:
    """Scheduled balance reconciliation: logs a summary; drifts are logged as errors."""
    report = reconcile_balances(rt.engine)
    log.info("reconciled %d balances, %d drifted", report.checked, len(report.drifts))


def drift_job(rt: Runtime) -> None:
    """Scheduled snapshot drift reconciliation; repairs are counted in the metrics."""
    reconcile_snapshots(rt.engine, metrics_inc=rt.metrics.snapshot_repairs.inc)


def purge_job(rt: Runtime) -> None:
    """Scheduled GDPR retention purge; purged users are counted in the metrics."""
    purged = purge_expired(rt.engine, retention_days=rt.settings.privacy.retention_days)
    if purged:
        rt.metrics.users_purged.inc(purged)


def expiry_job(rt: Runtime) -> None:
    """Scheduled gig expiry: gigs past their deadline leave the index."""
    expire_gigs(rt)


def saved_searches_job(rt: Runtime) -> None:
    """Scheduled saved searches: run the due ones. A failing search is logged, counted
    and retried at its next interval; the others still run."""
    run_due_saved_searches(rt)


def build_scheduler(rt: Runtime, *, blocking: bool = False) -> BaseScheduler:
    """A scheduler with every periodic job configured from ``rt.settings`` (not started).

    On the embedded default (no ``qdrant.url``) only this process can write the
    index, so leases left by a killed process are released here.
    """
    if rt.settings.qdrant.url is None:
        with session_scope(rt.engine) as session:
            released = sum(release_leases(session, entity=e) for e in rt.entities)
        if released:
            log.info("released %d index leases left by a previous process", released)
    cls = BlockingScheduler if blocking else BackgroundScheduler
    scheduler: BaseScheduler = cls(job_defaults=dict(_JOB_DEFAULTS))
    FreshnessJob(rt).attach(scheduler)
    cfg = rt.settings.scheduler
    scheduler.add_job(
        reconcile_job,
        "interval",
        args=[rt],
        seconds=cfg.reconcile_interval_s,
        id="reconcile-balances",
    )
    scheduler.add_job(
        expiry_job, "interval", args=[rt], seconds=cfg.expiry_interval_s, id="gig-expiry"
    )
    scheduler.add_job(
        drift_job, "interval", args=[rt], seconds=cfg.drift_interval_s, id="snapshot-drift"
    )
    scheduler.add_job(
        purge_job, "interval", args=[rt], seconds=cfg.purge_interval_s, id="retention-purge"
    )
    scheduler.add_job(
        saved_searches_job,
        "interval",
        args=[rt],
        seconds=rt.settings.saved_searches.poll_s,
        id="saved-searches",
    )
    return scheduler
