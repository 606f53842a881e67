"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from search_service.deps import RuntimeDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness and index size")
def read_health(rt: RuntimeDep) -> dict[str, Any]:
    """``{"status": "ok", "indexedProfiles": n}``."""
    return {"status": "ok", "indexedProfiles": rt.store.count()}
