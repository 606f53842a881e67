"""The index converges to SQL whatever interleaves, and privacy reductions are
invisible before the API answers (ARCHITECTURE.md, "Index versions")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import col, select

from models import (
    OutboxEvent,
    OutboxTopic,
    ProfileDraft,
    ProfileWrite,
    ProjectItem,
    User,
    UserDraft,
    Visibility,
)
from search_service.db import session_scope
from search_service.index.entity import PROFILE_ROWS
from search_service.index.repository import release_leases, stale_user_ids
from search_service.privacy.service import delete_account
from search_service.profiles.repository import upsert_user_profile
from search_service.profiles.service import save_profile
from search_service.refresh.freshness import refresh_stale
from search_service.refresh.writer import reindex
from search_service.runtime import PROFILES, Runtime
from tests.factories import make_student
from tests.search_service.profile_helpers import student_with_key
from tests.search_service.refresh.test_freshness import HookedEncoder, hooked

__all__ = ["hooked"]  # the fixture, re-exported for pytest

MERGE = {"Content-Type": "application/merge-patch+json"}


def _user(rt: Runtime, uid: int) -> User:
    with session_scope(rt.engine) as session:
        user = session.get(User, uid)
    assert user is not None
    return user


def assert_converged_or_stale(rt: Runtime) -> None:
    """The invariant: whenever SQL says a user is fresh, the index holds exactly that
    version, and the user is searchable; a user who is not searchable has no point
    unless SQL still has work queued for it (a pending removal event)."""
    with session_scope(rt.engine) as session:
        users = list(session.exec(select(User)))
        open_events = select(OutboxEvent).where(col(OutboxEvent.processed_at).is_(None))
        pending = {
            e.user_id
            for e in session.exec(open_events)
            if e.topic in (OutboxTopic.INDEX_REMOVE.value, OutboxTopic.USER_DELETED.value)
        }
    points = rt.index(PROFILES).store.payloads([u.id for u in users if u.id is not None])
    for u in users:
        assert u.id is not None
        fresh = u.embedding_updated_at is not None and u.embedding_updated_at == (
            u.visible_updated_at
        )
        if fresh:
            assert u.is_searchable, f"user {u.id} fresh but not searchable"
            assert u.id in points, f"user {u.id} fresh in SQL but missing from the index"
            assert points[u.id]["updated_at"] == u.visible_updated_at, (
                f"user {u.id}: index holds {points[u.id]['updated_at']}, SQL {u.visible_updated_at}"
            )
        if not u.is_searchable and u.id not in pending:
            assert u.id not in points, f"user {u.id} is not searchable but indexed"


def assert_index_equals_sql(rt: Runtime) -> None:
    """After the refresh job has caught up: every searchable user is indexed at its
    current version, nobody else is indexed."""
    for _ in range(5):
        if refresh_stale(rt).claimed == 0:
            break
    with session_scope(rt.engine) as session:
        users = list(session.exec(select(User)))
        assert stale_user_ids(session, limit=10, entity=PROFILE_ROWS) == []
    points = rt.index(PROFILES).store.payloads([u.id for u in users if u.id is not None])
    for u in users:
        assert u.id is not None
        if u.is_searchable and u.visible_updated_at is not None:
            assert points.get(u.id, {}).get("updated_at") == u.visible_updated_at
        else:
            assert u.id not in points


def _expire_leases(rt: Runtime) -> None:
    with session_scope(rt.engine) as session:
        session.execute(update(User).values(index_lease_expires_at=1))


class TestInterleavings:
    """A slow writer A (its lease expired mid-embed) against edits, deletes and a
    second writer B; each case is one interleaving found in review."""

    def test_an_older_write_landing_after_a_newer_one_is_not_left_marked_fresh(
        self, runtime: Runtime, hooked: HookedEncoder
    ) -> None:
        a = make_student(runtime, clerk_id="i_ab", headline="first wombat")
        refresh_stale(runtime)

        def meanwhile(_: Sequence[str]) -> None:
            # A has loaded E1 and is embedding it; its lease expires, the profile is
            # edited (E2, a pure addition) and writer B indexes E2 completely.
            _expire_leases(runtime)
            make_student(runtime, clerk_id="i_ab", headline="first wombat", bio="and a numbat")
            b = refresh_stale(runtime, owner="writer-b")
            assert b.indexed == 1

        make_student(runtime, clerk_id="i_ab", headline="first wombat", bio="koala")
        hooked.hook = meanwhile
        refresh_stale(runtime, owner="writer-a")  # A upserts E1 *after* B's E2
        assert_converged_or_stale(runtime)
        assert_index_equals_sql(runtime)
        assert a.id is not None
        assert "numbat" in (_user(runtime, a.id).portfolio or {}).get("bio", "")

    def test_a_user_deleted_after_the_load_is_not_resurrected(
        self, runtime: Runtime, hooked: HookedEncoder
    ) -> None:
        a = make_student(runtime, clerk_id="i_del", headline="platypus")
        refresh_stale(runtime)
        make_student(runtime, clerk_id="i_del", headline="platypus", bio="more text")

        def meanwhile(_: Sequence[str]) -> None:
            with runtime.session() as session:
                delete_account(session, _user(runtime, a.id or 0))

        hooked.hook = meanwhile
        refresh_stale(runtime)
        assert a.id not in runtime.index(PROFILES).store.payloads([a.id or 0])
        assert_converged_or_stale(runtime)
        assert_index_equals_sql(runtime)

    def test_reindex_beside_an_edit_and_a_delete_converges(
        self, runtime: Runtime, hooked: HookedEncoder
    ) -> None:
        users = [
            make_student(runtime, clerk_id=f"i_r{i}", headline=f"echidna {i}") for i in range(4)
        ]
        refresh_stale(runtime)

        def meanwhile(_: Sequence[str]) -> None:
            make_student(runtime, clerk_id="i_r0", headline="echidna 0 and a bilby")
            with runtime.session() as session:
                delete_account(session, _user(runtime, users[1].id or 0))
            hidden = {"skills": Visibility.PRIVATE}
            make_student(runtime, clerk_id="i_r2", headline="echidna 2", visibility=hidden)
            refresh_stale(runtime, owner="writer-b")

        hooked.hook = meanwhile
        reindex(runtime, progress=False)
        assert_converged_or_stale(runtime)
        assert_index_equals_sql(runtime)

    def test_a_stale_point_for_a_fresh_row_is_impossible_under_lost_leases(
        self, runtime: Runtime, hooked: HookedEncoder
    ) -> None:
        # B verifies *before* A's late upsert is verified: A's verification must undo
        # B's "fresh", because A's point landed last.
        make_student(runtime, clerk_id="i_late", headline="quoll")
        refresh_stale(runtime)
        make_student(runtime, clerk_id="i_late", headline="quoll", bio="v2")
        order: list[str] = []

        def b_runs(_: Sequence[str]) -> None:
            _expire_leases(runtime)
            make_student(runtime, clerk_id="i_late", headline="quoll", bio="v2 v3")
            refresh_stale(runtime, owner="writer-b")
            order.append("b done")

        hooked.hook = b_runs
        refresh_stale(runtime, owner="writer-a")
        assert order == ["b done"]
        assert_converged_or_stale(runtime)
        assert_index_equals_sql(runtime)


def _search(
    client: TestClient, headers: dict[str, str], query: str, mode: str, **filters: Any
) -> list[int]:
    r = client.post(
        "/v1/search",
        json={"query": query, "mode": mode, "limit": 50, "filters": filters},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    return [h["userId"] for h in r.json()["results"]]


SECRET = "xylophonist"


def _findable(client: TestClient, headers: dict[str, str], uid: int) -> dict[str, bool]:
    return {
        "keyword": uid in _search(client, headers, SECRET, "keyword"),
        "semantic": uid in _search(client, headers, SECRET, "semantic"),
        "hybrid": uid in _search(client, headers, SECRET, "hybrid"),
        "skill filter": uid in _search(client, headers, "", "hybrid", skills=[SECRET]),
    }


NOWHERE = {"keyword": False, "semantic": False, "hybrid": False, "skill filter": False}


class TestReductionsBeforeTheAnswer:
    """No refresh runs between the write and the searches: the 2xx alone must do it."""

    @pytest.fixture
    def owner(self, client: TestClient, runtime: Runtime) -> Any:
        s = student_with_key(runtime, "red_owner", headline="drummer", skills=(SECRET, "python"))
        student_with_key(runtime, "red_other", headline="xylophone teacher")
        refresh_stale(runtime)
        return s

    @pytest.mark.parametrize(
        "patch",
        [
            {"skills": {"visibility": "private"}},
            {"skills": {"items": []}},
            {"skills": {"items": [{"name": "python"}]}},
        ],
        ids=["made private", "emptied", "item removed"],
    )
    def test_a_reduction_is_invisible_in_every_path_at_once(
        self,
        client: TestClient,
        runtime: Runtime,
        employer_headers: dict[str, str],
        owner: Any,
        patch: dict[str, Any],
    ) -> None:
        assert _findable(client, employer_headers, owner.id)["skill filter"]
        r = client.patch("/v1/me/profile", json=patch, headers={**owner.headers, **MERGE})
        assert r.status_code == 200, r.text
        assert _findable(client, employer_headers, owner.id) == NOWHERE
        refresh_stale(runtime)  # the rest of the profile comes back, without the secret
        back = _findable(client, employer_headers, owner.id)
        assert not back["keyword"] and not back["skill filter"]
        assert owner.id in _search(client, employer_headers, "drummer", "keyword")

    def test_a_reduction_holds_even_when_the_index_refuses_the_delete(
        self,
        client: TestClient,
        runtime: Runtime,
        employer_headers: dict[str, str],
        owner: Any,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        def broken(_ids: Sequence[int]) -> None:
            raise RuntimeError("index down")

        monkeypatch.setattr(runtime.index(PROFILES).store, "delete", broken)
        r = client.patch(
            "/v1/me/profile",
            json={"skills": {"visibility": "private"}},
            headers={**owner.headers, **MERGE},
        )
        assert r.status_code == 200, r.text
        assert runtime.index(PROFILES).store.payloads([owner.id])  # the old point is still there...
        assert _findable(client, employer_headers, owner.id) == NOWHERE  # ...and never served
        monkeypatch.undo()
        refresh_stale(runtime)  # the pending removal event is applied, then re-indexed
        assert_index_equals_sql(runtime)
        assert not _findable(client, employer_headers, owner.id)["keyword"]

    def test_deleting_the_account_is_invisible_at_once_even_with_the_index_down(
        self,
        client: TestClient,
        runtime: Runtime,
        employer_headers: dict[str, str],
        owner: Any,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(
            runtime.index(PROFILES).store, "delete", lambda _ids: (_ for _ in ()).throw(OSError())
        )
        assert client.delete("/v1/me", headers=owner.headers).status_code == 204
        assert owner.id not in _search(client, employer_headers, "drummer", "hybrid")
        monkeypatch.undo()
        refresh_stale(runtime)
        assert owner.id not in runtime.index(PROFILES).store.payloads([owner.id])

    def test_an_addition_stays_findable_and_is_indexed_asynchronously(
        self, client: TestClient, runtime: Runtime, employer_headers: dict[str, str], owner: Any
    ) -> None:
        r = client.patch(
            "/v1/me/profile",
            json={"bio": "also plays the marimba"},
            headers={**owner.headers, **MERGE},
        )
        assert r.status_code == 200, r.text
        assert _findable(client, employer_headers, owner.id)["keyword"]  # not hidden
        assert owner.id not in _search(client, employer_headers, "marimba", "keyword")
        refresh_stale(runtime)
        assert owner.id in _search(client, employer_headers, "marimba", "keyword")


class TestRecencyShowsOnlyVisibleChanges:
    def test_a_private_edit_moves_nothing_in_browse_order(
        self, client: TestClient, runtime: Runtime, employer_headers: dict[str, str]
    ) -> None:
        old = student_with_key(
            runtime, "rec_old", headline="older", visibility={"projects": "private"}
        )
        student_with_key(runtime, "rec_new", headline="newer")
        refresh_stale(runtime)

        def browse() -> list[tuple[int, float]]:
            r = client.post("/v1/search", json={"query": "", "limit": 10}, headers=employer_headers)
            assert r.status_code == 200, r.text
            return [(h["userId"], h["score"]) for h in r.json()["results"]]

        before = browse()
        r = client.patch(
            "/v1/me/profile",
            json={"projects": {"items": [{"title": "Secret band", "description": "drums"}]}},
            headers={**old.headers, **MERGE},
        )
        assert r.status_code == 200, r.text
        assert r.json()["searchable"] is True  # nothing employer-visible to re-index
        refresh_stale(runtime)
        assert browse() == before

    def test_an_identity_change_does_not_mark_the_profile_stale(self, runtime: Runtime) -> None:
        user = make_student(runtime, clerk_id="rec_id", headline="juggler", first_name="Ann")
        refresh_stale(runtime)
        before = _user(runtime, user.id or 0)
        make_student(runtime, clerk_id="rec_id", headline="juggler", first_name="Anna")
        after = _user(runtime, user.id or 0)
        assert after.updated_at > before.updated_at  # the row changed...
        assert after.visible_updated_at == before.visible_updated_at  # ...nothing visible did
        with session_scope(runtime.engine) as session:
            assert stale_user_ids(session, limit=10, entity=PROFILE_ROWS) == []

    def test_upsert_of_identical_content_keeps_the_clock(self, runtime: Runtime) -> None:
        user = make_student(runtime, clerk_id="rec_same", headline="painter")
        clock = _user(runtime, user.id or 0).visible_updated_at
        with runtime.session() as session:
            from models import ProfileDraft, UserDraft

            upsert_user_profile(
                session,
                UserDraft(clerk_id="rec_same", email="rec_same@example.test"),
                ProfileDraft(headline="painter"),
            )
        assert _user(runtime, user.id or 0).visible_updated_at == clock


def test_a_reindex_that_dies_after_dropping_the_index_leaves_everyone_stale(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(3):
        make_student(runtime, clerk_id=f"rc{i}", headline=f"wallaby {i}")
    refresh_stale(runtime)

    def crash(*_args: object, **_kw: object) -> None:
        raise RuntimeError("killed mid-reindex")

    monkeypatch.setattr("search_service.refresh.writer.index_leased", crash)
    with pytest.raises(RuntimeError):
        reindex(runtime, recreate=True, progress=False)
    assert runtime.index(PROFILES).store.count() == 0
    assert_converged_or_stale(runtime)  # nobody "fresh" beside an empty index
    monkeypatch.undo()
    with session_scope(runtime.engine) as session:
        release_leases(session, entity=PROFILE_ROWS)  # what start-up does on the embedded default
    assert_index_equals_sql(runtime)


class TestFoundInReview:
    """Regressions of interleavings and states a review of the mechanism found."""

    def test_a_write_from_a_request_that_loaded_the_user_earlier_still_reduces(
        self, runtime: Runtime, employer_headers: dict[str, str], client: TestClient
    ) -> None:
        user = make_student(runtime, clerk_id="rv_put", headline="drummer", skills=("python",))
        refresh_stale(runtime)
        with runtime.session() as late:  # request B authenticated: the user is loaded
            seen = late.get(User, user.id)
            assert seen is not None
            # Meanwhile request A adds a skill and the refresh job indexes it.
            both = ("python", SECRET)
            make_student(runtime, clerk_id="rv_put", headline="drummer", skills=both)
            refresh_stale(runtime)
            assert user.id in _search(client, employer_headers, SECRET, "keyword")
            doc = ProfileWrite.model_validate(
                {"headline": "drummer", "skills": {"items": [{"name": "python"}]}}
            )
            save_profile(late, runtime, seen, doc, expected_version=None)
        assert _search(client, employer_headers, SECRET, "keyword") == []
        assert _search(client, employer_headers, "", "hybrid", skills=[SECRET]) == []
        refresh_stale(runtime)
        assert_index_equals_sql(runtime)
        portfolio = _user(runtime, user.id or 0).portfolio or {}
        assert [s["name"] for s in portfolio["skills"]["items"]] == ["python"]

    def test_a_private_edit_of_a_row_from_before_the_content_clock_moves_nothing(
        self, runtime: Runtime
    ) -> None:
        hidden = {"projects": Visibility.PRIVATE}
        user = make_student(runtime, clerk_id="rv_mig", headline="drummer", visibility=hidden)
        refresh_stale(runtime)
        with session_scope(runtime.engine) as session:  # as migration 0005 leaves it
            session.execute(update(User).values(index_doc_hash=None))
        before = _user(runtime, user.id or 0)
        with runtime.session() as session:
            upsert_user_profile(
                session,
                UserDraft(
                    clerk_id="rv_mig",
                    email="rv_mig@example.test",
                    first_name="Test",
                    last_name="Student",
                    external_id="ext-rv_mig",
                ),
                ProfileDraft(
                    headline="drummer",
                    projects=[ProjectItem(title="Secret band", description="drums")],
                    visibility=hidden,
                ),
            )
        after = _user(runtime, user.id or 0)
        assert after.visible_updated_at == before.visible_updated_at
        assert after.embedding_updated_at == before.embedding_updated_at

    def test_a_point_awaiting_removal_takes_no_rank_from_anyone(
        self,
        client: TestClient,
        runtime: Runtime,
        employer_headers: dict[str, str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        owner = student_with_key(runtime, "rv_rank", headline="drummer", skills=(SECRET,))
        other = student_with_key(
            runtime, "rv_rank2", headline="teacher of many instruments and crafts", skills=(SECRET,)
        )
        refresh_stale(runtime)

        def ranks() -> list[tuple[int, int | None]]:
            r = client.post(
                "/v1/search", json={"query": SECRET, "mode": "keyword"}, headers=employer_headers
            )
            assert r.status_code == 200, r.text
            return [(h["userId"], h["explanation"]["keywordRank"]) for h in r.json()["results"]]

        assert ranks() == [(owner.id, 1), (other.id, 2)]
        monkeypatch.setattr(
            runtime.index(PROFILES).store, "delete", lambda _ids: (_ for _ in ()).throw(OSError())
        )
        r = client.patch(
            "/v1/me/profile",
            json={"skills": {"visibility": "private"}},
            headers={**owner.headers, **MERGE},
        )
        assert r.status_code == 200, r.text
        assert ranks() == [(other.id, 1)]  # not rank 2 behind a hidden profile

    def test_a_failed_upsert_that_may_still_land_is_never_confirmed(
        self, runtime: Runtime, hooked: HookedEncoder
    ) -> None:
        user = make_student(runtime, clerk_id="rv_fail", headline="kiwi")
        refresh_stale(runtime)
        make_student(runtime, clerk_id="rv_fail", headline="kiwi", bio="and a kea")
        hooked.poison = "kea"
        report = refresh_stale(runtime)
        assert report.failed == [user.id]
        state = _user(runtime, user.id or 0)
        assert state.embedding_updated_at is None  # not "fresh" at the old version either
        hooked.poison = None
        with session_scope(runtime.engine) as session:
            session.execute(update(User).values(index_retry_at=None))
        assert_index_equals_sql(runtime)
