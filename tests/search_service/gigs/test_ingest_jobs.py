"""Importing job postings as gigs (``gigsy-search ingest-jobs``): one employer per
company, idempotent re-runs, gigs closed or deleted by their owner left alone,
employers that are gone skipped; on SQLite and PostgreSQL.

The fixture ``tests/fixtures/jobs_small.csv`` has 10 data rows: 7 postings (one
``job_id`` repeated, two rows without a title or description) of 6 companies,
``"Acme Widgets, Inc."`` and ``"ACME widgets"`` being one.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, func, select
from typer.testing import CliRunner

from models import Gig, GigStatus, User, UserStatus, UserTombstone
from search_service.cli import app
from search_service.db import session_scope
from search_service.entities import ENTITIES
from search_service.gigs.ingest import LINKEDIN_PREFIX, GigImportReport, ingest_jobs, posting_gig
from search_service.gigs.jobs_csv import JobPosting, employer_clerk_id
from search_service.gigs.service import delete_gig, gig_view, patched_gig, update_gig
from search_service.index.entity import GIG_ROWS
from search_service.refresh.writer import reindex
from search_service.runtime import GIGS, Runtime
from search_service.settings import EmbeddingSettings, QdrantSettings, Settings
from search_service.users.repository import soft_delete_user
from tests.conftest import SHARED_DATA

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "jobs_small.csv"
JOBS_CSV = SHARED_DATA / "jobs" / "linkedin_jobs_2023_sample.csv"
ACME = employer_clerk_id("Acme Widgets, Inc.")
BEAN = employer_clerk_id("Bean There Coffee LLC")


def _ingest(rt: Runtime, path: Path = FIXTURE) -> GigImportReport:
    return ingest_jobs(rt, path, progress=False)


def _counts(rt: Runtime) -> tuple[int, int]:
    """(gigs, users) rows, deleted ones included."""
    with session_scope(rt.engine) as session:
        gigs = session.exec(select(func.count()).select_from(Gig)).one()
        users = session.exec(select(func.count()).select_from(User)).one()
    return int(gigs), int(users)


def _gig(rt: Runtime, job_id: str) -> Gig:
    with session_scope(rt.engine) as session:
        return session.exec(select(Gig).where(Gig.external_id == f"linkedin:{job_id}")).one()


def _versions(rt: Runtime) -> dict[str | None, int]:
    with session_scope(rt.engine) as session:
        return {g.external_id: g.version for g in session.exec(select(Gig))}


def test_import_creates_open_gigs_with_one_employer_per_company(runtime: Runtime) -> None:
    report = _ingest(runtime)
    assert (report.rows, report.postings, report.duplicate_rows, report.empty_rows) == (10, 7, 1, 2)
    assert (report.created, report.updated, report.unchanged, report.skipped) == (7, 0, 0, 0)
    assert report.employers_created == 6
    assert _counts(runtime) == (7, 6)
    with session_scope(runtime.engine) as session:
        employers = session.exec(select(User).order_by(col(User.id))).all()
        assert all(u.roles == ["employer"] and u.created_by == "import" for u in employers)
        acme = session.exec(select(User).where(User.clerk_id == ACME)).one()
        assert acme.name == "Acme Widgets, Inc."  # the first spelling met
        acme_jobs = session.exec(select(Gig.external_id).where(Gig.owner_id == acme.id)).all()
        assert set(acme_jobs) == {"linkedin:1002", "linkedin:1003"}
        gigs = session.exec(select(Gig)).all()
        assert {g.status for g in gigs} == {GigStatus.OPEN.value}
        assert all(g.external_id and g.external_id.startswith(LINKEDIN_PREFIX) for g in gigs)
        assert all(g.visible_updated_at is not None for g in gigs)  # stale: to be indexed
    barista = _gig(runtime, "1001")
    assert (barista.pay_amount, barista.pay_currency, barista.pay_unit) == (1650, "USD", "hour")
    assert barista.title == "Barista ($16.50/hour)"
    clerk = _gig(runtime, "1002")
    assert clerk.remote is True
    assert "excel" in clerk.required_skills and "sql" in clerk.nice_skills
    web = _gig(runtime, "1003")
    assert web.pay_amount is None  # a yearly salary is not gig pay
    assert {"react", "typescript"} <= set(web.required_skills)


def test_rerun_changes_nothing_and_adds_no_rows(runtime: Runtime) -> None:
    _ingest(runtime)
    before = _versions(runtime)
    again = _ingest(runtime)
    assert (again.created, again.updated, again.unchanged, again.skipped) == (0, 0, 7, 0)
    assert again.employers_created == 0
    assert _counts(runtime) == (7, 6)
    assert _versions(runtime) == before


def test_rerun_updates_a_changed_posting_in_place(runtime: Runtime, tmp_path: Path) -> None:
    _ingest(runtime)
    tutor = _gig(runtime, "1004")
    edited = tmp_path / "jobs.csv"
    text = FIXTURE.read_text(encoding="utf-8")
    assert text.count("Tutor algebra and geometry online.") == 1  # the last row of job 1004
    edited.write_text(
        text.replace("Tutor algebra and geometry online.", "Tutor algebra and Python online."),
        encoding="utf-8",
    )
    again = _ingest(runtime, edited)
    assert (again.created, again.updated, again.unchanged) == (0, 1, 6)
    after = _gig(runtime, "1004")
    assert after.id == tutor.id and after.version == tutor.version + 1
    assert "python" in after.required_skills
    assert after.visible_updated_at is not None and tutor.visible_updated_at is not None
    assert after.visible_updated_at > tutor.visible_updated_at
    assert _counts(runtime) == (7, 6)


def test_a_gig_closed_or_deleted_by_its_owner_is_not_reopened(
    runtime: Runtime, tmp_path: Path
) -> None:
    _ingest(runtime)
    closed_id, deleted_id = _gig(runtime, "1001").id, _gig(runtime, "1007").id
    assert closed_id is not None and deleted_id is not None
    with session_scope(runtime.engine) as session:
        gig = session.get(Gig, closed_id)
        assert gig is not None
        body = patched_gig(gig_view(gig, ""), {"status": "closed"})
        update_gig(session, None, closed_id, body, expected_version=None)
        deleted = session.get(Gig, deleted_id)
        assert deleted is not None
        delete_gig(session, deleted)
    before = _versions(runtime)
    # Even when the posting changed meanwhile, the import leaves these two alone.
    edited = tmp_path / "jobs.csv"
    edited.write_text(
        FIXTURE.read_text(encoding="utf-8").replace("Make espresso drinks", "Pour espresso"),
        encoding="utf-8",
    )
    again = _ingest(runtime, edited)
    assert (again.kept_closed, again.created, again.unchanged) == (2, 0, 5)
    assert _versions(runtime) == before
    assert _counts(runtime) == (7, 6)
    closed, gone = _gig(runtime, "1001"), _gig(runtime, "1007")
    assert closed.status == GigStatus.CLOSED.value and "Make espresso" in closed.description
    assert gone.deleted_at is not None and gone.status == GigStatus.OPEN.value


def test_a_draft_stays_a_draft_when_its_posting_changes(runtime: Runtime, tmp_path: Path) -> None:
    _ingest(runtime)
    gig_id = _gig(runtime, "1001").id
    assert gig_id is not None
    with session_scope(runtime.engine) as session:
        gig = session.get(Gig, gig_id)
        assert gig is not None
        body = patched_gig(gig_view(gig, ""), {"status": "draft"})
        update_gig(session, None, gig_id, body, expected_version=None)
    edited = tmp_path / "jobs.csv"
    edited.write_text(
        FIXTURE.read_text(encoding="utf-8").replace("Make espresso drinks", "Pour espresso"),
        encoding="utf-8",
    )
    assert _ingest(runtime, edited).updated == 1
    after = _gig(runtime, "1001")
    assert after.status == GigStatus.DRAFT.value and "Pour espresso" in after.description


def test_postings_of_suspended_or_deleted_employers_are_skipped(runtime: Runtime) -> None:
    tombstoned = employer_clerk_id("Numbers & Co.")
    with session_scope(runtime.engine) as session:
        session.add(UserTombstone(clerk_id=tombstoned))
    first = _ingest(runtime)
    assert (first.created, first.employer_gone, first.employers_created) == (6, 1, 5)
    with session_scope(runtime.engine) as session:
        acme = session.exec(select(User).where(User.clerk_id == ACME)).one()
        acme.status = UserStatus.SUSPENDED.value
        session.add(acme)
        bean = session.exec(select(User).where(User.clerk_id == BEAN)).one()
        soft_delete_user(session, bean)
        assert session.exec(select(User).where(User.clerk_id == tombstoned)).first() is None
    before = _versions(runtime)
    again = _ingest(runtime)
    # Acme's two postings, Bean There's one, Numbers & Co.'s one.
    assert (again.employer_gone, again.unchanged, again.created) == (4, 3, 0)
    assert again.employers_created == 0
    assert _versions(runtime) == before
    assert _counts(runtime) == (6, 5)


def test_posting_pay_needs_amount_currency_and_unit() -> None:
    base = JobPosting(
        job_id="1",
        title="  Barista  ",
        company="Bean There",
        posted_at=None,
        industry="",
        job_function="",
        description="Coffee.",
        url=None,
        required_skills=["coffee"],
        nice_skills=[],
        remote=False,
        pay_minor=1650,
        pay_currency="USD",
        pay_unit="hour",
    )
    item = posting_gig(base)
    assert item.external_id == "linkedin:1"
    assert item.employer.clerk_id == employer_clerk_id("Bean There")
    assert item.body.title == "Barista" and item.body.status is GigStatus.OPEN
    assert item.body.pay is not None and item.body.pay.amount_minor == 1650
    assert posting_gig(replace(base, pay_currency=None)).body.pay is None
    assert posting_gig(replace(base, pay_unit=None)).body.pay is None
    assert posting_gig(replace(base, pay_minor=None)).body.pay is None
    with pytest.raises(ValueError, match="no letters or digits"):
        posting_gig(replace(base, company="?"))


def test_imported_gigs_are_found_by_gig_search(
    runtime: Runtime, client: TestClient, student_headers: dict[str, str]
) -> None:
    _ingest(runtime)
    report = reindex(runtime, entities=[GIG_ROWS], progress=False)
    assert report.indexed == 7
    assert runtime.index(GIGS).store.count() == 7
    r = client.post("/v1/gigs/search", json={"query": "espresso barista"}, headers=student_headers)
    assert r.status_code == 200, r.text
    top = r.json()["results"][0]
    assert top["gigId"] == _gig(runtime, "1001").id
    assert top["company"] == "Bean There Coffee LLC"
    remote = client.post(
        "/v1/gigs/search",
        json={"query": "", "filters": {"remote": True}},
        headers=student_headers,
    )
    assert remote.status_code == 200, remote.text
    with session_scope(runtime.engine) as session:
        remote_ids = set(session.exec(select(Gig.id).where(col(Gig.remote).is_(True))).all())
    assert _gig(runtime, "1002").id in remote_ids and len(remote_ids) < 7
    assert {h["gigId"] for h in remote.json()["results"]} == remote_ids


# --- the command --------------------------------------------------------------------


def test_command_imports_indexes_and_reruns(cli_env: CliRunner) -> None:
    result = cli_env.invoke(app, ["ingest-jobs", str(FIXTURE), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "7 postings" in result.output and "7 created" in result.output
    assert "6 employers created" in result.output
    assert "indexed 7 gigs" in result.output
    again = cli_env.invoke(app, ["ingest-jobs", str(FIXTURE), "--no-progress", "--no-index"])
    assert again.exit_code == 0, again.output
    assert "0 created, 0 updated, 7 unchanged, 0 skipped" in again.output
    assert "indexed" not in again.output


def test_command_refuses_a_missing_file_with_exit_code_2(cli_env: CliRunner) -> None:
    result = cli_env.invoke(app, ["ingest-jobs", "nope.csv"])
    assert result.exit_code == 2
    assert "error: no such file: nope.csv" in result.output
    assert not Path("var").exists()  # refused before opening anything


def test_command_refuses_a_csv_of_another_format_with_exit_code_2(
    cli_env: CliRunner, tmp_path: Path
) -> None:
    resumes = Path(__file__).resolve().parents[2] / "fixtures" / "resumes_small.csv"
    result = cli_env.invoke(app, ["ingest-jobs", str(resumes)])
    assert result.exit_code == 2
    assert "not a job-postings CSV" in result.output and "job_id" in result.output
    binary = tmp_path / "jobs.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81 not text")
    result = cli_env.invoke(app, ["ingest-jobs", str(binary)])
    assert result.exit_code == 2
    assert "not UTF-8" in result.output


# --- the real sample ------------------------------------------------------------------


@pytest.mark.realdata
def test_the_real_sample_imports_984_gigs_from_fewer_employers(tmp_path: Path) -> None:
    """SQLite, no indexing (the PostgreSQL path is the fixture tests')."""
    if not JOBS_CSV.is_file():
        pytest.skip(f"real data not found at {JOBS_CSV} (needs ../shared/data)")
    settings = Settings(
        data_dir=tmp_path / "var",
        embedding=EmbeddingSettings(model="hashing"),
        qdrant=QdrantSettings(url=None),
    )
    rt = Runtime.open(settings, entities=ENTITIES)
    try:
        report = ingest_jobs(rt, JOBS_CSV, progress=False)
        assert (report.postings, report.created, report.skipped) == (984, 984, 0)
        assert 0 < report.employers_created < report.postings
        assert _counts(rt) == (984, report.employers_created)
    finally:
        rt.close()
