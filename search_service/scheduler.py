"""Background jobs (APScheduler 3.x): balance reconciliation for now.

On the embedded default the scheduler runs inside ``serve``. Jobs never overlap
themselves (``max_instances=1``) and a missed run is coalesced into one.
"""

from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler

from search_service.runtime import Runtime
from search_service.services.ledger import reconcile_balances

__all__ = ["build_scheduler", "reconcile_job"]

log = logging.getLogger(__name__)


def reconcile_job(rt: Runtime) -> None:
    """Scheduled reconciliation: logs a summary; drifts are logged as errors."""
    report = reconcile_balances(rt.engine)
    log.info("reconciled %d balances, %d drifted", report.checked, len(report.drifts))


def build_scheduler(rt: Runtime) -> BackgroundScheduler:
    """A scheduler with every periodic job configured from ``rt.settings`` (not started)."""
    cfg = rt.settings.scheduler
    scheduler = BackgroundScheduler(
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60}
    )
    scheduler.add_job(
        reconcile_job,
        "interval",
        args=[rt],
        seconds=cfg.reconcile_interval_s,
        id="reconcile-balances",
    )
    return scheduler
