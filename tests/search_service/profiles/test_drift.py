"""Drift reconciliation: the users.portfolio snapshot against the normalized tables."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import col, select

from models import Profile, Skill, User
from search_service.db import session_scope
from search_service.index.entity import PROFILE_ROWS
from search_service.index.repository import staleness
from search_service.profiles.repository import content_hash, load_profile_rows, snapshot_of
from search_service.profiles.service import reconcile_snapshots
from search_service.refresh.freshness import refresh_stale
from search_service.runtime import Runtime
from search_service.scheduler import drift_job
from tests.factories import make_student


def _consistent(rt: Runtime, uid: int) -> bool:
    with session_scope(rt.engine) as session:
        rows = load_profile_rows(session, [uid])[uid]
        snap = snapshot_of(rows)
        assert rows.profile is not None
        return rows.user.portfolio == snap and rows.profile.content_hash == content_hash(snap)


def test_no_drift_after_normal_writes(runtime: Runtime) -> None:
    for i in range(3):
        make_student(runtime, clerk_id=f"d{i}", headline="x", skills=("python",))
    report = reconcile_snapshots(runtime.engine)
    assert (report.checked, report.repaired, report.backfilled) == (3, 0, 0)


def test_a_corrupted_snapshot_is_repaired_from_the_tables(runtime: Runtime) -> None:
    a = make_student(runtime, clerk_id="d_snap", headline="real headline", skills=("sql",))
    with session_scope(runtime.engine) as session:
        session.execute(
            update(User).where(col(User.id) == a.id).values(portfolio={"headline": "forged"})
        )
    refresh_stale(runtime)
    report = reconcile_snapshots(runtime.engine)
    assert (report.repaired, report.reindexed, report.repaired_ids) == (1, 0, [a.id])
    assert _consistent(runtime, a.id or 0)
    with session_scope(runtime.engine) as session:
        assert (
            staleness(session, entity=PROFILE_ROWS).stale == 0
        )  # the tables did not change: no re-embed


def test_tables_changed_outside_the_write_path_are_repaired_and_reindexed(
    runtime: Runtime,
) -> None:
    a = make_student(runtime, clerk_id="d_rows", headline="x", skills=("sql",))
    refresh_stale(runtime)
    with session_scope(runtime.engine) as session:
        session.execute(update(Skill).where(col(Skill.user_id) == a.id).values(name="cobol"))
        version = session.exec(select(Profile.version).where(Profile.user_id == a.id)).one()
    report = reconcile_snapshots(runtime.engine)
    assert (report.repaired, report.reindexed) == (1, 1)
    assert _consistent(runtime, a.id or 0)
    with session_scope(runtime.engine) as session:
        user = session.get(User, a.id)
        assert user is not None and user.portfolio is not None
        assert user.portfolio["skills"]["items"][0]["name"] == "cobol"
        assert session.exec(select(Profile.version).where(Profile.user_id == a.id)).one() == (
            version + 1
        )
        assert (
            staleness(session, entity=PROFILE_ROWS).stale == 1
        )  # the index catches up on the next refresh


def test_profiles_without_snapshots_are_backfilled_not_counted_as_drift(
    runtime: Runtime,
) -> None:
    a = make_student(runtime, clerk_id="d_old", headline="x")
    with session_scope(runtime.engine) as session:
        session.execute(update(User).where(col(User.id) == a.id).values(portfolio=None))
        session.execute(
            update(Profile).where(col(Profile.user_id) == a.id).values(content_hash=None)
        )
    report = reconcile_snapshots(runtime.engine)
    assert (report.backfilled, report.repaired) == (1, 0)
    assert _consistent(runtime, a.id or 0)


def test_the_scheduled_job_counts_repairs_in_metrics(
    client: TestClient, runtime: Runtime, metrics_headers: dict[str, str]
) -> None:
    a = make_student(runtime, clerk_id="d_metric", headline="x")
    with session_scope(runtime.engine) as session:
        session.execute(update(User).where(col(User.id) == a.id).values(portfolio={}))
    drift_job(runtime)
    scrape = client.get("/metrics", headers=metrics_headers)
    assert "gigsy_snapshot_repairs_total 1.0" in scrape.text
