"""Loading generated demo profiles (see :mod:`search_service.demo_data`)."""

from __future__ import annotations

from tqdm import tqdm

from search_service.db import session_scope
from search_service.demo_data import generate_demo_profiles
from search_service.repositories.users import upsert_user_profile
from search_service.runtime import Runtime
from search_service.services.ingest import IngestReport

__all__ = ["load_demo"]


def load_demo(
    rt: Runtime, *, count: int = 2000, seed: int = 42, progress: bool = True, batch: int = 250
) -> IngestReport:
    """Upsert ``count`` seeded demo students into SQL (idempotent for the same seed).

    Raises:
        ValueError: ``count`` is negative.
    """
    drafts = generate_demo_profiles(count, seed=seed)
    report = IngestReport()
    with tqdm(total=len(drafts), desc="demo", unit="profile", disable=not progress) as bar:
        for start in range(0, len(drafts), batch):
            with session_scope(rt.engine) as session:
                for user_in, profile_in in drafts[start : start + batch]:
                    report.rows += 1
                    _, outcome = upsert_user_profile(session, user_in, profile_in)
                    setattr(report, outcome, getattr(report, outcome) + 1)
            bar.update(min(batch, len(drafts) - start))
    return report
