"""Index maintenance: reindex, stale refresh, compare-and-set of embedding_updated_at."""

from __future__ import annotations

import pytest
from sqlmodel import select

from models import User, now_ms
from search_service.db import session_scope
from search_service.index.repository import mark_indexed, stale_user_ids
from search_service.index.state import get_state
from search_service.refresh.freshness import refresh_stale
from search_service.refresh.writer import reindex, remove_from_index
from search_service.runtime import BM25_STATE_KEY, Runtime
from tests.factories import make_student


def _user(rt: Runtime, clerk_id: str) -> User:
    with session_scope(rt.engine) as session:
        return session.exec(select(User).where(User.clerk_id == clerk_id)).one()


def test_reindex_sets_embedding_updated_at_and_avg_len(runtime: Runtime) -> None:
    make_student(runtime, clerk_id="a", headline="Data analyst", bio="SQL dashboards " * 5)
    make_student(runtime, clerk_id="b", headline="Chef", bio="Pastry.")
    report = reindex(runtime, progress=False)
    assert report.indexed == 2 and report.seconds > 0
    a = _user(runtime, "a")
    assert a.embedding_updated_at == a.visible_updated_at
    with session_scope(runtime.engine) as session:
        state = get_state(session, BM25_STATE_KEY)
    assert state is not None and state["documents"] == 2
    assert state["avg_len"] == pytest.approx(runtime.bm25.avg_len)
    assert state["avg_len"] > 1


def test_unchanged_reindex_reuses_embeddings(runtime: Runtime) -> None:
    make_student(runtime, clerk_id="a", headline="Data analyst")
    reindex(runtime, progress=False)
    again = reindex(runtime, progress=False)
    assert (again.embedded, again.reused) == (0, 1)


def test_refresh_picks_up_only_stale_profiles(runtime: Runtime) -> None:
    make_student(runtime, clerk_id="a", headline="Data analyst")
    make_student(runtime, clerk_id="b", headline="Chef")
    reindex(runtime, progress=False)
    assert refresh_stale(runtime).indexed == 0
    make_student(runtime, clerk_id="b", headline="Pastry chef")
    with session_scope(runtime.engine) as session:
        assert stale_user_ids(session, limit=10) == [_user(runtime, "b").id]
    report = refresh_stale(runtime)
    assert report.indexed == 1
    with session_scope(runtime.engine) as session:
        assert stale_user_ids(session, limit=10) == []


def test_mark_indexed_is_compare_and_set(runtime: Runtime) -> None:
    user = make_student(runtime, clerk_id="a", headline="v1")
    assert user.id is not None
    indexed_version = user.visible_updated_at
    assert indexed_version is not None
    # An edit lands while version 1 is being embedded.
    make_student(runtime, clerk_id="a", headline="v2")
    with session_scope(runtime.engine) as session:
        assert mark_indexed(session, {user.id: indexed_version}) == 0
    with session_scope(runtime.engine) as session:
        assert stale_user_ids(session, limit=10) == [user.id]


def test_deleted_user_is_removed_by_reindex(runtime: Runtime) -> None:
    make_student(runtime, clerk_id="a", headline="Data analyst")
    make_student(runtime, clerk_id="b", headline="Chef")
    reindex(runtime, progress=False)
    assert runtime.store.count() == 2
    with session_scope(runtime.engine) as session:
        b = session.exec(select(User).where(User.clerk_id == "b")).one()
        b.deleted_at = now_ms()
    reindex(runtime, progress=False)
    assert runtime.store.count() == 1


def test_remove_from_index_is_immediate(runtime: Runtime) -> None:
    user = make_student(runtime, clerk_id="a", headline="Data analyst")
    reindex(runtime, progress=False)
    assert user.id is not None
    remove_from_index(runtime, [user.id])
    assert runtime.store.count() == 0


def test_identical_upsert_does_not_bump_updated_at(runtime: Runtime) -> None:
    first = make_student(runtime, clerk_id="a", headline="Same", skills=("sql",))
    second = make_student(runtime, clerk_id="a", headline="Same", skills=("sql",))
    assert second.updated_at == first.updated_at
    third = make_student(runtime, clerk_id="a", headline="Same", skills=("sql", "excel"))
    assert third.updated_at > first.updated_at
