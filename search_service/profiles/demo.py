"""Loading generated demo profiles (see :mod:`search_service.profiles.demo_data`)."""

from __future__ import annotations

from search_service.profiles.demo_data import generate_demo_profiles
from search_service.profiles.ingest import IngestReport, upsert_drafts
from search_service.runtime import Runtime

__all__ = ["load_demo"]


def load_demo(
    rt: Runtime, *, count: int = 2000, seed: int = 42, progress: bool = True
) -> IngestReport:
    """Upsert ``count`` seeded demo students into SQL (idempotent for the same seed).

    Raises:
        ValueError: ``count`` is negative.
    """
    drafts = generate_demo_profiles(count, seed=seed)
    return upsert_drafts(
        rt, drafts, report=IngestReport(rows=len(drafts)), desc="demo", progress=progress
    )
