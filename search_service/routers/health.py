"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from search_service.deps import RuntimeDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness and index size")
def read_health(rt: RuntimeDep) -> dict[str, Any]:
    """``{"status": "ok", "indexedProfiles": n}``."""
    return {"status": "ok", "indexedProfiles": rt.store.count()}


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def read_metrics(rt: RuntimeDep) -> Response:
    """Refresh throughput and duration, failures, stale profile count and oldest
    staleness (read from SQL at scrape time), pending outbox events, repairs."""
    return Response(generate_latest(rt.metrics.registry), media_type=CONTENT_TYPE_LATEST)
