"""A student read in one statement (:func:`load_profile_subject`) is what the
ORM's per-section reads (:func:`load_profile_rows`) give, on SQLite and PostgreSQL:
every section in order with every column, JSON columns decoded, and the same
document built from it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlmodel import SQLModel

from indexers import build_document
from models import (
    EducationItem,
    LanguageItem,
    ProfileDraft,
    ProjectItem,
    SkillItem,
    UserDraft,
    Visibility,
    WorkItem,
)
from search_service.profiles.repository import (
    load_profile_rows,
    load_profile_subject,
    upsert_user_profile,
)
from search_service.runtime import Runtime


def _student(rt: Runtime) -> int:
    draft = ProfileDraft(
        headline="Data engineer",
        bio="Pipelines and dashboards.",
        location="Berlin, Germany",
        education=[
            EducationItem(school="TU Berlin", degree="BSc", start_year=2019, end_year=2022),
            EducationItem(school="FU Berlin", field_of_study="Statistics"),
        ],
        work_experience=[
            WorkItem(title="Intern", company="Acme", description="ETL in Python"),
            WorkItem(title="Tutor", description="Taught SQL", start_year=2021),
        ],
        projects=[
            ProjectItem(title="Dashboards", url="https://example.com/d", skills=["python", "dbt"]),
            ProjectItem(title="Bots", description="Telegram bots"),
        ],
        languages=[LanguageItem(name="German", proficiency="native"), LanguageItem(name="English")],
        skills=[SkillItem(name="Python", level="advanced", years=3), SkillItem(name="SQL")],
        visibility={"projects": Visibility.PRIVATE},
    )
    user_in = UserDraft(clerk_id="subject", email="subject@example.test", first_name="Sam")
    with rt.session() as session:
        user, _ = upsert_user_profile(session, user_in, draft)
    assert user.id is not None
    return user.id


def _dumped(rows: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("education", "work_experience", "projects", "languages", "skills"):
        items: list[SQLModel] = list(getattr(rows, name))
        out[name] = [item.model_dump() for item in items]
    out["profile"] = rows.profile.model_dump()
    out["user"] = rows.user.model_dump()
    return out


def test_one_statement_reads_what_the_section_reads_do(runtime: Runtime) -> None:
    uid = _student(runtime)
    with runtime.session() as session:
        expected = load_profile_rows(session, [uid])[uid]
        want = _dumped(expected)
        doc = build_document(expected)
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    with runtime.session() as session:
        event.listen(runtime.engine, "before_cursor_execute", count)
        try:
            subject = load_profile_subject(session, uid, dismissed=True)
        finally:
            event.remove(runtime.engine, "before_cursor_execute", count)
        assert subject is not None
        got = _dumped(subject.rows)
        assert build_document(subject.rows) == doc
    assert len(seen) == 1, seen
    assert got == want
    assert [p["skills"] for p in got["projects"]] == [["python", "dbt"], []]
    assert subject.dismissed == frozenset()


def test_an_unknown_user_is_none(runtime: Runtime) -> None:
    with runtime.session() as session:
        assert load_profile_subject(session, 987_654) is None
