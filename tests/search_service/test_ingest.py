"""Importing the resume CSV: parsing, normalisation, idempotent re-runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import col, func, select

from models import Profile, Skill, User
from search_service.db import session_scope
from search_service.runtime import Runtime
from search_service.services.indexing import reindex
from search_service.services.ingest import clean_text, ingest_resumes, parse_resume

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "resumes_small.csv"


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
    payloads = runtime.store.payloads([1, 2, 3])
    assert all("category:" not in str(p) for p in payloads.values())


def test_missing_column_is_a_clear_error(runtime: Runtime, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("ID,Text\n1,hello\n", encoding="utf-8")
    with pytest.raises(ValueError, match="Category"):
        ingest_resumes(runtime, bad, progress=False)
