"""Index maintenance: reindex, stale refresh, compare-and-set of embedding_updated_at."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest
from sqlalchemy import update
from sqlmodel import Session, col, select

from indexers import Bm25Encoder, Document
from models import User, now_ms
from search_service.db import session_scope
from search_service.index.entity import PROFILE_ROWS
from search_service.index.repository import (
    claim_users,
    confirm_indexed,
    mark_indexed,
    stale_user_ids,
)
from search_service.index.state import get_state
from search_service.refresh.freshness import refresh_stale
from search_service.refresh.writer import reindex, remove_from_index
from search_service.runtime import PROFILES, Runtime
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
        state = get_state(session, PROFILE_ROWS.bm25_key)
    assert state is not None and state["documents"] == 2
    assert state["avg_len"] == pytest.approx(runtime.index(PROFILES).bm25.avg_len)
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
        assert stale_user_ids(session, limit=10, entity=PROFILE_ROWS) == [_user(runtime, "b").id]
    report = refresh_stale(runtime)
    assert report.indexed == 1
    with session_scope(runtime.engine) as session:
        assert stale_user_ids(session, limit=10, entity=PROFILE_ROWS) == []


def test_mark_indexed_is_compare_and_set(runtime: Runtime) -> None:
    user = make_student(runtime, clerk_id="a", headline="v1")
    assert user.id is not None
    indexed_version = user.visible_updated_at
    assert indexed_version is not None
    # An edit lands while version 1 is being embedded.
    make_student(runtime, clerk_id="a", headline="v2")
    with session_scope(runtime.engine) as session:
        assert mark_indexed(session, {user.id: indexed_version}, entity=PROFILE_ROWS) == 0
    with session_scope(runtime.engine) as session:
        assert stale_user_ids(session, limit=10, entity=PROFILE_ROWS) == [user.id]


def test_deleted_user_is_removed_by_reindex(runtime: Runtime) -> None:
    make_student(runtime, clerk_id="a", headline="Data analyst")
    make_student(runtime, clerk_id="b", headline="Chef")
    reindex(runtime, progress=False)
    assert runtime.index(PROFILES).store.count() == 2
    with session_scope(runtime.engine) as session:
        b = session.exec(select(User).where(User.clerk_id == "b")).one()
        b.deleted_at = now_ms()
    reindex(runtime, progress=False)
    assert runtime.index(PROFILES).store.count() == 1


def test_remove_from_index_is_immediate(runtime: Runtime) -> None:
    user = make_student(runtime, clerk_id="a", headline="Data analyst")
    reindex(runtime, progress=False)
    assert user.id is not None
    remove_from_index(runtime, [user.id], entity=PROFILE_ROWS)
    assert runtime.index(PROFILES).store.count() == 0


def test_identical_upsert_does_not_bump_updated_at(runtime: Runtime) -> None:
    first = make_student(runtime, clerk_id="a", headline="Same", skills=("sql",))
    second = make_student(runtime, clerk_id="a", headline="Same", skills=("sql",))
    assert second.updated_at == first.updated_at
    third = make_student(runtime, clerk_id="a", headline="Same", skills=("sql", "excel"))
    assert third.updated_at > first.updated_at


def test_an_unchanged_reindex_builds_each_document_once(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_student(runtime, clerk_id="a", headline="Data analyst")
    make_student(runtime, clerk_id="b", headline="Chef", bio="Pastry and bread.")
    reindex(runtime, progress=False)
    with session_scope(runtime.engine) as session:
        before = get_state(session, PROFILE_ROWS.bm25_key)
    built: list[int] = []
    profiles = runtime.index(PROFILES)
    loader = profiles.entity.loader
    assert loader is not None

    def counting(session: Session, ids: Sequence[int]) -> tuple[list[Document], list[int]]:
        built.extend(ids)
        return loader(session, ids)

    monkeypatch.setattr(profiles, "entity", replace(profiles.entity, loader=counting))
    again = reindex(runtime, progress=False)
    assert again.indexed == 2
    assert sorted(built) == sorted({_user(runtime, c).id or 0 for c in ("a", "b")})
    with session_scope(runtime.engine) as session:
        assert get_state(session, PROFILE_ROWS.bm25_key) == before


def test_a_reindex_after_the_corpus_changed_records_and_uses_the_new_average_length(
    runtime: Runtime,
) -> None:
    make_student(runtime, clerk_id="a", headline="Data analyst")
    make_student(runtime, clerk_id="b", headline="Chef")
    reindex(runtime, progress=False)
    old = runtime.index(PROFILES).bm25.avg_len
    make_student(runtime, clerk_id="b", headline="Chef", bio="sourdough lamination " * 20)
    reindex(runtime, progress=False)
    with session_scope(runtime.engine) as session:
        state = get_state(session, PROFILE_ROWS.bm25_key)
        ids = [_user(runtime, c).id or 0 for c in ("a", "b")]
    with session_scope(runtime.engine) as session:
        docs, _ = runtime.index(PROFILES).entity.documents(session, ids)
    expected = Bm25Encoder.corpus_avg_titled_len([(d.text, d.title) for d in docs])
    assert state is not None and state["avg_len"] == expected != old
    assert runtime.index(PROFILES).bm25.avg_len == expected
    # Every point is at its row's current version.
    stored = runtime.index(PROFILES).store.payloads(ids)
    assert {i: stored[i]["updated_at"] for i in ids} == {d.id: d.version for d in docs}


def test_one_verification_classifies_a_mixed_batch(runtime: Runtime) -> None:
    users = [make_student(runtime, clerk_id=c, headline=c) for c in ("fresh", "moved", "lost")]
    ids = [u.id or 0 for u in users]
    versions = {u.id or 0: u.visible_updated_at or 0 for u in users}
    with session_scope(runtime.engine) as session:
        assert claim_users(
            session, ids, owner="w1", lease_ms=60_000, entity=PROFILE_ROWS
        ) == sorted(ids)
    make_student(runtime, clerk_id="moved", headline="moved on")  # content moved on
    with session_scope(runtime.engine) as session:  # another writer took this lease
        session.execute(update(User).where(col(User.id) == ids[2]).values(index_lease_owner="w2"))
    with session_scope(runtime.engine) as session:
        out = confirm_indexed(session, versions, owner="w1", entity=PROFILE_ROWS)
    assert (out.fresh, out.superseded, out.lost, out.remove) == ([ids[0]], [ids[1]], [ids[2]], [])
    fresh, moved, lost = (_user(runtime, c) for c in ("fresh", "moved", "lost"))
    assert fresh.embedding_updated_at == versions[ids[0]] and fresh.index_lease_owner is None
    assert moved.embedding_updated_at != moved.visible_updated_at
    assert moved.index_lease_owner is None
    assert lost.embedding_updated_at is None and lost.index_lease_owner is None
