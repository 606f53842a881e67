"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from search_service.deps import RuntimeDep, require_metrics_scraper
from search_service.runtime import GIGS, PROFILES

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness and index size")
def read_health(rt: RuntimeDep) -> dict[str, Any]:
    """``{"status": "ok", "indexedProfiles": n, "indexedGigs": m}``."""
    return {
        "status": "ok",
        "indexedProfiles": rt.index(PROFILES).store.count(),
        "indexedGigs": rt.index(GIGS).store.count(),
    }


@router.get(
    "/metrics",
    summary="Prometheus metrics (bearer GIGSY_METRICS__TOKEN)",
    response_class=Response,
    dependencies=[Depends(require_metrics_scraper)],
    responses={
        401: {"description": "missing or wrong metrics token"},
        404: {"description": "no GIGSY_METRICS__TOKEN set: metrics are off on this port"},
    },
)
def read_metrics(rt: RuntimeDep) -> Response:
    """Refresh throughput and duration, failures, stale profile count and oldest
    staleness (read from SQL, cached for ``GIGSY_METRICS__CACHE_S``), pending
    outbox events, repairs."""
    return Response(generate_latest(rt.metrics.registry), media_type=CONTENT_TYPE_LATEST)
