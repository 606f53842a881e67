"""Importing the resume CSV: parsing, normalisation, idempotent re-runs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlmodel import col, func, select

from models import Profile, Skill, User, UserTombstone
from search_service.db import session_scope
from search_service.privacy.service import purge_expired
from search_service.profiles.ingest import clean_text, ingest_resumes, parse_resume
from search_service.refresh.writer import reindex
from search_service.runtime import PROFILES, Runtime
from search_service.users.repository import soft_delete_user

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "resumes_small.csv"


def test_clean_text_removes_nbsp_artefact() -> None:
    assert clean_text("close.\u00c2\u00a0Detail \u00c2 end\u200b") == "close. Detail end"


def test_parse_resume_maps_fields() -> None:
    drafts = parse_resume("7", "CHEF", "HEAD CHEF\nSkills\nMenu planning, Food safety\n")
    assert drafts is not None
    user, profile = drafts
    assert user.clerk_id == "resume_7"
    assert user.external_id == "7"
    assert user.tags == ["category:CHEF"]
    assert profile.headline == "Head Chef"
    assert [s.name for s in profile.skills] == ["menu planning", "food safety"]


def test_parse_resume_skips_empty() -> None:
    assert parse_resume("8", "CHEF", "  \n ") is None


def test_ingest_creates_then_rerun_updates_not_duplicates(runtime: Runtime) -> None:
    first = ingest_resumes(runtime, FIXTURE, progress=False)
    assert (first.rows, first.created, first.skipped) == (4, 3, 1)
    again = ingest_resumes(runtime, FIXTURE, progress=False)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    with session_scope(runtime.engine) as session:
        assert session.exec(select(func.count()).select_from(User)).one() == 3
        user = session.exec(select(User).where(User.external_id == "101")).one()
        profile = session.get(Profile, user.id)
        assert profile is not None
        assert "\u00c2" not in profile.bio
        skills = session.exec(
            select(Skill.name).where(Skill.user_id == user.id).order_by(col(Skill.position))
        ).all()
        assert list(skills) == ["excel", "quickbooks", "gaap", "account reconciliations"]


def test_ingested_resumes_are_searchable_and_category_is_not_indexed(runtime: Runtime) -> None:
    ingest_resumes(runtime, FIXTURE, progress=False)
    report = reindex(runtime, progress=False)
    assert report.indexed == 3
    payloads = runtime.index(PROFILES).store.payloads([1, 2, 3])
    assert all("category:" not in str(p) for p in payloads.values())


def test_missing_column_is_a_clear_error(runtime: Runtime, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("ID,Text\n1,hello\n", encoding="utf-8")
    with pytest.raises(ValueError, match="Category"):
        ingest_resumes(runtime, bad, progress=False)


def _count_users(rt: Runtime) -> int:
    with session_scope(rt.engine) as session:
        return int(session.exec(select(func.count()).select_from(User)).one())


@pytest.mark.parametrize("state", ["soft_deleted", "purged"])
def test_rerun_never_revives_a_deleted_user(
    runtime: Runtime, state: str, caplog: pytest.LogCaptureFixture
) -> None:
    ingest_resumes(runtime, FIXTURE, progress=False)
    with session_scope(runtime.engine) as session:
        user = session.exec(select(User).where(User.clerk_id == "resume_101")).one()
        soft_delete_user(session, user)
        deleted_at, uid = user.deleted_at, user.id
    assert deleted_at is not None
    if state == "purged":
        assert purge_expired(runtime.engine, retention_days=0, now=deleted_at + 1) == 1
    with caplog.at_level(logging.INFO, logger="search_service.profiles.ingest"):
        again = ingest_resumes(runtime, FIXTURE, progress=False)
    assert (again.deleted, again.created, again.unchanged) == (1, 0, 2)
    assert "resume_101" in caplog.text
    assert _count_users(runtime) == 3
    with session_scope(runtime.engine) as session:
        row = session.get(User, uid)
        assert row is not None and row.deleted_at == deleted_at
        if state == "purged":
            assert row.purged_at is not None and row.external_id is None
            assert session.get(Profile, uid) is None  # nothing was written back
            revived = session.exec(select(User).where(User.clerk_id == "resume_101")).first()
            assert revived is None


def test_a_tombstoned_clerk_id_is_never_imported(runtime: Runtime) -> None:
    with session_scope(runtime.engine) as session:
        session.add(UserTombstone(clerk_id="resume_102"))
    report = ingest_resumes(runtime, FIXTURE, progress=False)
    assert (report.created, report.deleted) == (2, 1)
    with session_scope(runtime.engine) as session:
        assert session.exec(select(User).where(User.clerk_id == "resume_102")).first() is None
