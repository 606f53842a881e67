"""The bulk path for new users writes exactly the rows of the per-user dual write."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, func, select

from models import (
    Availability,
    OutboxEvent,
    Profile,
    ProfileDraft,
    SkillItem,
    User,
    UserDraft,
    Visibility,
)
from search_service.db import session_scope
from search_service.profiles.demo_data import generate_demo_profiles
from search_service.profiles.ingest import upsert_drafts
from search_service.profiles.repository import (
    SECTION_TABLES,
    insert_user_profiles,
    upsert_user_profile,
)
from search_service.runtime import Runtime
from search_service.users.repository import soft_delete_user

TS = 1_700_000_000_000


def _drafts() -> list[tuple[UserDraft, ProfileDraft]]:
    drafts = generate_demo_profiles(12, seed=7)
    odd = (
        UserDraft(clerk_id="odd_1", first_name="Ada", roles=["student"], tags=["t:x"]),
        ProfileDraft(
            headline="Data person",
            location="Berlin, Germany",
            availability=Availability.WEEKENDS,
            skills=[SkillItem(name="Python"), SkillItem(name="python"), SkillItem(name="SQL")],
            visibility={"skills": Visibility.PRIVATE},
        ),
    )
    bare = (UserDraft(clerk_id="bare_1"), ProfileDraft())
    return [*drafts, odd, bare]


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


def _rows(session: Session, clerk_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Every stored row of these users, as the database returns it, keyed by clerk
    id with database-assigned ids left out (they differ between runs)."""
    users = _table(User)
    out: dict[str, dict[str, Any]] = {}
    for row in session.execute(sa_select(users).where(users.c.clerk_id.in_(clerk_ids))):
        values = dict(row._mapping)
        uid = values.pop("id")
        profiles = _table(Profile)
        profile = session.execute(sa_select(profiles).where(profiles.c.user_id == uid)).one()
        sections = {}
        for model in SECTION_TABLES:
            t = _table(model)
            stmt = sa_select(t).where(t.c.user_id == uid).order_by(t.c.position)
            sections[t.name] = [
                {k: v for k, v in r._mapping.items() if k not in ("id", "user_id")}
                for r in session.execute(stmt)
            ]
        events = _table(OutboxEvent)
        stmt = sa_select(events).where(events.c.user_id == uid).order_by(events.c.id)
        outbox = []
        for r in session.execute(stmt):
            event = {k: v for k, v in r._mapping.items() if k not in ("id", "user_id")}
            event["payload"] = {k: v for k, v in event["payload"].items() if k != "userId"}
            outbox.append(event)
        out[values["clerk_id"]] = {
            "user": values,
            "profile": {k: v for k, v in profile._mapping.items() if k != "user_id"},
            "sections": sections,
            "outbox": outbox,
        }
    return out


def _written(runtime: Runtime, bulk: bool) -> dict[str, dict[str, Any]]:
    drafts = _drafts()
    with Session(runtime.engine) as session:
        if bulk:
            insert_user_profiles(session, drafts, now=TS)
        else:
            for user_in, profile_in in drafts:
                upsert_user_profile(session, user_in, profile_in, now=TS)
        session.flush()
        rows = _rows(session, [u.clerk_id for u, _ in drafts])
        session.rollback()
    return rows


def test_bulk_insert_writes_the_rows_of_the_per_user_path(runtime: Runtime) -> None:
    per_user = _written(runtime, bulk=False)
    bulk = _written(runtime, bulk=True)
    assert len(per_user) == len(_drafts())
    assert per_user["odd_1"]["user"]["visible_updated_at"] == TS
    assert per_user["odd_1"]["profile"]["visibility"]["skills"] == "private"
    assert [s["name"] for s in per_user["odd_1"]["sections"]["skills"]] == ["python", "sql"]
    for clerk_id, want in per_user.items():
        assert bulk[clerk_id] == want, clerk_id


def test_bulk_created_users_update_and_rerun_through_the_per_user_path(
    runtime: Runtime,
) -> None:
    drafts = _drafts()
    first = upsert_drafts(runtime, drafts, progress=False, batch=5)
    assert (first.created, first.updated, first.unchanged) == (len(drafts), 0, 0)
    again = upsert_drafts(runtime, drafts, progress=False, batch=5)
    assert (again.created, again.updated, again.unchanged) == (0, 0, len(drafts))
    user_in, profile_in = drafts[0]
    changed = profile_in.model_copy(update={"headline": "Something else entirely"})
    third = upsert_drafts(runtime, [(user_in, changed)], progress=False)
    assert (third.created, third.updated) == (0, 1)
    with session_scope(runtime.engine) as session:
        user = session.exec(select(User).where(User.clerk_id == user_in.clerk_id)).one()
        profile = session.get(Profile, user.id)
        assert profile is not None and profile.version == 2
        events = session.exec(
            select(func.count()).select_from(OutboxEvent).where(col(OutboxEvent.user_id) == user.id)
        ).one()
        assert events == 2


def test_a_chunk_mixes_new_repeated_existing_and_erased_users(runtime: Runtime) -> None:
    drafts = _drafts()
    upsert_drafts(runtime, drafts[:2], progress=False)
    with session_scope(runtime.engine) as session:
        gone = session.exec(select(User).where(User.clerk_id == drafts[1][0].clerk_id)).one()
        soft_delete_user(session, gone)
    user_in, profile_in = drafts[2]
    repeat = (user_in, profile_in.model_copy(update={"headline": "Second spelling"}))
    report = upsert_drafts(runtime, [*drafts[:4], repeat], progress=False)
    assert (report.created, report.updated, report.unchanged, report.deleted) == (2, 1, 1, 1)
    with session_scope(runtime.engine) as session:
        user = session.exec(select(User).where(User.clerk_id == user_in.clerk_id)).one()
        profile = session.get(Profile, user.id)
        assert profile is not None
        assert (profile.headline, profile.version) == ("Second spelling", 2)
