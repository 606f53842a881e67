"""Feedback between gigs and students: the owner's decisions, the students'
applications and dismissals, who may do what, the soft rows behind them, the
upsert under concurrency, and their effect on rankings end to end.

Runs on SQLite and PostgreSQL; ranking tests also run on both store adapters.
The hashing encoder makes dense similarity a bag-of-words overlap, so the
orders asserted below follow from shared words (see the Rocchio test).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, text
from sqlmodel import Session, select

from models import CandidateDecision, Gig, Interaction, StudentAction, User, UserStatus, now_ms
from search_service.db import session_scope
from search_service.gigs.interactions import record_exposures, set_action, set_decision
from search_service.refresh.freshness import refresh_stale
from search_service.runtime import Runtime
from tests.search_service.profile_helpers import Student, new_user_with_key, student_with_key

MERGE = {"Content-Type": "application/merge-patch+json"}
OWNER_VIEW_KEYS = {"gigId", "userId", "decision", "decidedAt", "action", "actedAt", "updatedAt"}


@pytest.fixture
def student(runtime: Runtime) -> Student:
    """A student with a profile on the default runtime."""
    return student_with_key(runtime, "stu_one", headline="Barista", skills=("coffee",))


def _post(client: TestClient, who: Student, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"title": "Gig", "status": "open", **fields}
    r = client.post("/v1/gigs", json=body, headers=who.headers)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def _show(client: TestClient, gig_id: int, user_id: int) -> None:
    """Record that the gig's candidates list showed the user, as a page of
    ``GET /v1/gigs/{gigId}/candidates`` does (when both exist)."""
    rt: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with session_scope(rt.engine) as session:
        if session.get(User, user_id) is not None and session.get(Gig, gig_id) is not None:
            record_exposures(session, gig_id, [user_id], now=now_ms())


def _decide(
    client: TestClient,
    who: Student,
    gig_id: int,
    user_id: int,
    decision: str,
    *,
    shown: bool = True,
) -> Any:
    """PUT a decision; ``shown``: first as if the gig's candidates list showed the user."""
    if shown:
        _show(client, gig_id, user_id)
    return client.put(
        f"/v1/gigs/{gig_id}/decisions/{user_id}", json={"decision": decision}, headers=who.headers
    )


def _rows(rt: Runtime, gig_id: int) -> list[Interaction]:
    with session_scope(rt.engine) as session:
        return list(session.exec(select(Interaction).where(Interaction.gig_id == gig_id)).all())


def _ids(body: dict[str, Any], key: str = "gigId") -> list[int]:
    return [h[key] for h in body["results"]]


class TestDecisions:
    def test_set_replace_and_clear_a_decision_on_one_soft_row(
        self, client: TestClient, runtime: Runtime, owner: Student, student: Student
    ) -> None:
        gig = _post(client, owner)
        r = _decide(client, owner, gig["id"], student.id, "shortlisted")
        assert r.status_code == 200, r.text
        view = r.json()
        assert set(view) == OWNER_VIEW_KEYS  # ids, decision, times: nothing of the profile
        assert view["gigId"] == gig["id"] and view["userId"] == student.id
        assert view["decision"] == "shortlisted"
        assert isinstance(view["decidedAt"], int)
        assert view["updatedAt"] == view["decidedAt"]
        assert view["action"] is None and view["actedAt"] is None

        again = _decide(client, owner, gig["id"], student.id, "shortlisted").json()
        assert again["decidedAt"] == view["decidedAt"]  # unchanged: nothing moves
        rejected = _decide(client, owner, gig["id"], student.id, "rejected").json()
        assert rejected["decision"] == "rejected"
        assert rejected["decidedAt"] >= view["decidedAt"]

        url = f"/v1/gigs/{gig['id']}/decisions/{student.id}"
        cleared = client.delete(url, headers=owner.headers)
        assert cleared.status_code == 204, cleared.text
        assert client.delete(url, headers=owner.headers).status_code == 204  # idempotent
        rows = _rows(runtime, gig["id"])
        assert len(rows) == 1  # soft: the row stays
        assert rows[0].decision is None and rows[0].decided_at is None
        assert rows[0].user_id == student.id

    def test_only_the_owner_or_an_admin_decides(
        self, client: TestClient, runtime: Runtime, owner: Student, student: Student
    ) -> None:
        gig = _post(client, owner)
        draft = _post(client, owner, status="draft")
        other = new_user_with_key(runtime, "emp_other", role="employer")
        admin = new_user_with_key(runtime, "adm_one", role="admin")
        url = f"/v1/gigs/{gig['id']}/decisions/{student.id}"

        assert _decide(client, other, gig["id"], student.id, "rejected").status_code == 403
        assert client.delete(url, headers=other.headers).status_code == 403
        # Someone else's draft is not revealed: 404, not 403.
        assert _decide(client, other, draft["id"], student.id, "rejected").status_code == 404
        # A student may not decide, not even on themself.
        assert _decide(client, student, gig["id"], student.id, "shortlisted").status_code == 403
        assert _rows(runtime, gig["id"]) == []

        by_admin = _decide(client, admin, gig["id"], student.id, "shortlisted")
        assert by_admin.status_code == 200, by_admin.text
        assert _decide(client, owner, draft["id"], student.id, "rejected").status_code == 200

    def test_the_student_must_be_searchable_and_have_a_profile(
        self, client: TestClient, runtime: Runtime, owner: Student, student: Student
    ) -> None:
        gig = _post(client, owner)
        no_profile = new_user_with_key(runtime, "stu_bare")
        gone = student_with_key(runtime, "stu_gone", headline="Cook")
        banned = student_with_key(runtime, "stu_banned", headline="Cook")
        with session_scope(runtime.engine) as session:
            for who, field, value in (
                (gone, "deleted_at", now_ms()),
                (banned, "status", UserStatus.SUSPENDED.value),
            ):
                user = session.get(User, who.id)
                assert user is not None
                setattr(user, field, value)
                session.add(user)
        for user_id in (no_profile.id, gone.id, banned.id, 999_999):
            r = _decide(client, owner, gig["id"], user_id, "shortlisted")
            assert r.status_code == 404, (user_id, r.text)
            url = f"/v1/gigs/{gig['id']}/decisions/{user_id}"
            assert client.delete(url, headers=owner.headers).status_code == 404
        assert _rows(runtime, gig["id"]) == []
        assert _decide(client, owner, gig["id"], student.id, "rejected").status_code == 200
        assert _decide(client, owner, 999_999, student.id, "rejected").status_code == 404

    def test_only_a_student_the_gig_showed_or_who_applied_can_be_decided_on(
        self, client: TestClient, runtime: Runtime, owner: Student, student: Student
    ) -> None:
        """A decision never tells which user ids are students: a student the gig
        never showed, an employer and an unknown id get the same 404."""
        gig = _post(client, owner)
        applicant = student_with_key(runtime, "stu_applied", headline="Cook")
        assert (
            client.put(f"/v1/gigs/{gig['id']}/application", headers=applicant.headers)
        ).status_code == 200
        refused = []
        for user_id in (student.id, owner.id, 999_999):
            for r in (
                _decide(client, owner, gig["id"], user_id, "shortlisted", shown=False),
                client.delete(f"/v1/gigs/{gig['id']}/decisions/{user_id}", headers=owner.headers),
            ):
                assert r.status_code == 404, (user_id, r.text)
                refused.append(r.json())
        assert all(body == refused[0] for body in refused)  # alike: nothing to tell apart
        assert _rows(runtime, gig["id"])[0].user_id == applicant.id  # only the application

        ok = _decide(client, owner, gig["id"], applicant.id, "shortlisted", shown=False)
        assert ok.status_code == 200, ok.text
        _show(client, gig["id"], student.id)  # as a page of the candidates list does
        assert (
            _decide(client, owner, gig["id"], student.id, "rejected", shown=False).status_code
            == 200
        )

    def test_a_candidates_page_makes_its_students_decidable(
        self, rt: Runtime, api: TestClient
    ) -> None:
        owner = new_user_with_key(rt, "emp_owner", role="employer")
        cook = student_with_key(rt, "stu_cook", headline="Cook", skills=("cooking",))
        gig = _post(api, owner, title="Cook", requiredSkills=["Cooking"])
        refresh_stale(rt)
        assert (
            _decide(api, owner, gig["id"], cook.id, "shortlisted", shown=False).status_code == 404
        )
        page = api.get(f"/v1/gigs/{gig['id']}/candidates", headers=owner.headers)
        assert cook.id in _ids(page.json(), "userId"), page.text
        assert (
            _decide(api, owner, gig["id"], cook.id, "shortlisted", shown=False).status_code == 200
        )

    @pytest.mark.parametrize(
        "body", [{"decision": "maybe"}, {}, {"decision": "rejected", "note": "x"}]
    )
    def test_an_invalid_decision_is_422(
        self, client: TestClient, owner: Student, student: Student, body: dict[str, Any]
    ) -> None:
        gig = _post(client, owner)
        r = client.put(
            f"/v1/gigs/{gig['id']}/decisions/{student.id}", json=body, headers=owner.headers
        )
        assert r.status_code == 422, r.text
        assert r.json()["error"] == "validation_error"

    def test_the_owner_sees_applications_but_never_dismissals(
        self, client: TestClient, runtime: Runtime, owner: Student, student: Student
    ) -> None:
        gig = _post(client, owner)
        assert client.put(f"/v1/gigs/{gig['id']}/dismissal", headers=student.headers).is_success
        view = _decide(client, owner, gig["id"], student.id, "shortlisted").json()
        assert view["action"] is None and view["actedAt"] is None
        assert view["updatedAt"] == view["decidedAt"]
        applied = client.put(f"/v1/gigs/{gig['id']}/application", headers=student.headers)
        assert applied.status_code == 200, applied.text
        view = _decide(client, owner, gig["id"], student.id, "shortlisted").json()
        assert view["action"] == "applied"
        assert view["actedAt"] == applied.json()["actedAt"]
        assert view["updatedAt"] == max(view["actedAt"], view["decidedAt"])


class TestStudentActions:
    def test_apply_dismiss_and_withdraw_on_one_soft_row(
        self, client: TestClient, runtime: Runtime, owner: Student, student: Student
    ) -> None:
        gig = _post(client, owner, title="Barista")
        base = f"/v1/gigs/{gig['id']}"
        r = client.put(f"{base}/application", headers=student.headers)
        assert r.status_code == 200, r.text
        applied = r.json()
        assert applied["gigId"] == gig["id"]
        assert applied["action"] == "applied"
        assert applied["gig"]["title"] == "Barista"
        assert "decision" not in applied
        again = client.put(f"{base}/application", headers=student.headers).json()
        assert again["actedAt"] == applied["actedAt"]  # applying twice changes nothing
        assert len(_rows(runtime, gig["id"])) == 1

        dismissed = client.put(f"{base}/dismissal", headers=student.headers)
        assert dismissed.status_code == 200, dismissed.text
        assert dismissed.json()["action"] == "dismissed"  # replaces the application
        # Withdrawing an application that is no longer set changes nothing.
        assert client.delete(f"{base}/application", headers=student.headers).status_code == 204
        (row,) = _rows(runtime, gig["id"])
        assert row.action == "dismissed"

        reapplied = client.put(f"{base}/application", headers=student.headers).json()
        assert reapplied["action"] == "applied"
        assert client.delete(f"{base}/application", headers=student.headers).status_code == 204
        assert client.delete(f"{base}/application", headers=student.headers).status_code == 204
        assert client.delete(f"{base}/dismissal", headers=student.headers).status_code == 204
        (row,) = _rows(runtime, gig["id"])  # soft: still one row, nothing set
        assert row.action is None and row.acted_at is None

    def test_only_gigs_students_can_see_take_actions(
        self, client: TestClient, runtime: Runtime, owner: Student, student: Student
    ) -> None:
        draft = _post(client, owner, status="draft")
        closed = _post(client, owner, status="closed")
        filled = _post(client, owner, status="filled")
        expired = _post(client, owner, deadline=now_ms() + 60_000)
        deleted = _post(client, owner)
        assert client.delete(f"/v1/gigs/{deleted['id']}", headers=owner.headers).status_code == 204
        with session_scope(runtime.engine) as session:
            row = session.get(Gig, expired["id"])
            assert row is not None
            row.deadline = now_ms() - 1
            session.add(row)
        for gig in (draft, closed, filled, expired, deleted, {"id": 999_999}):
            for kind in ("application", "dismissal"):
                url = f"/v1/gigs/{gig['id']}/{kind}"
                assert client.put(url, headers=student.headers).status_code == 404, (gig, kind)
                assert client.delete(url, headers=student.headers).status_code == 404, (gig, kind)
        for gig in (draft, closed, filled, expired, deleted):
            assert _rows(runtime, gig["id"]) == []

    def test_an_application_can_be_withdrawn_after_the_gig_closed(
        self, client: TestClient, runtime: Runtime, owner: Student, student: Student
    ) -> None:
        gig = _post(client, owner)
        url = f"/v1/gigs/{gig['id']}/application"
        assert client.put(url, headers=student.headers).status_code == 200
        closed = client.patch(
            f"/v1/gigs/{gig['id']}", json={"status": "closed"}, headers={**owner.headers, **MERGE}
        )
        assert closed.status_code == 200, closed.text
        assert client.delete(url, headers=student.headers).status_code == 204
        (row,) = _rows(runtime, gig["id"])
        assert row.action is None
        # Nothing is set any more, and students cannot see the gig: as for any such gig.
        assert client.delete(url, headers=student.headers).status_code == 404

    def test_employers_cannot_apply_dismiss_or_list_actions(
        self, client: TestClient, runtime: Runtime, owner: Student
    ) -> None:
        gig = _post(client, owner)
        other = new_user_with_key(runtime, "emp_other", role="employer")
        for who in (owner, other):
            for kind in ("application", "dismissal"):
                url = f"/v1/gigs/{gig['id']}/{kind}"
                assert client.put(url, headers=who.headers).status_code == 403
                assert client.delete(url, headers=who.headers).status_code == 403
            assert client.get("/v1/me/gig-actions", headers=who.headers).status_code == 403
        assert _rows(runtime, gig["id"]) == []

    def test_a_student_never_sees_the_owners_decision(
        self, client: TestClient, owner: Student, student: Student
    ) -> None:
        gig = _post(client, owner)
        assert _decide(client, owner, gig["id"], student.id, "rejected").status_code == 200
        applied = client.put(f"/v1/gigs/{gig['id']}/application", headers=student.headers)
        assert applied.status_code == 200, applied.text
        listed = client.get("/v1/me/gig-actions", headers=student.headers).json()
        for item in [applied.json(), *listed["results"]]:
            assert "decision" not in item and "decidedAt" not in item
            assert "rejected" not in str(item)


class TestMyGigActions:
    def test_newest_first_paged_filtered_and_only_mine(
        self, client: TestClient, runtime: Runtime, owner: Student, student: Student
    ) -> None:
        a, b, c, d = (_post(client, owner, title=f"Gig {n}") for n in "abcd")
        for gig, kind in ((a, "application"), (b, "dismissal"), (c, "application")):
            r = client.put(f"/v1/gigs/{gig['id']}/{kind}", headers=student.headers)
            assert r.status_code == 200, r.text
        other = student_with_key(runtime, "stu_two", headline="Cook")
        assert client.put(f"/v1/gigs/{d['id']}/application", headers=other.headers).is_success

        first = client.get("/v1/me/gig-actions", params={"limit": 2}, headers=student.headers)
        assert first.status_code == 200, first.text
        assert first.json()["total"] == 3
        assert first.json()["nextOffset"] == 2
        assert _ids(first.json()) == [c["id"], b["id"]]
        assert [h["action"] for h in first.json()["results"]] == ["applied", "dismissed"]
        rest = client.get(
            "/v1/me/gig-actions", params={"limit": 2, "offset": 2}, headers=student.headers
        ).json()
        assert _ids(rest) == [a["id"]]
        assert rest["nextOffset"] is None

        dismissed = client.get(
            "/v1/me/gig-actions", params={"action": "dismissed"}, headers=student.headers
        ).json()
        assert _ids(dismissed) == [b["id"]] and dismissed["total"] == 1
        assert _ids(client.get("/v1/me/gig-actions", headers=other.headers).json()) == [d["id"]]

        # A gig closed since is listed without its content; a deleted one is left out.
        patch = client.patch(
            f"/v1/gigs/{c['id']}", json={"status": "closed"}, headers={**owner.headers, **MERGE}
        )
        assert patch.status_code == 200, patch.text
        assert client.delete(f"/v1/gigs/{a['id']}", headers=owner.headers).status_code == 204
        now = client.get("/v1/me/gig-actions", headers=student.headers).json()
        assert _ids(now) == [c["id"], b["id"]]
        assert now["total"] == 2
        assert now["results"][0]["gig"] is None
        assert now["results"][1]["gig"]["title"] == "Gig b"

        withdrawn = client.delete(f"/v1/gigs/{b['id']}/dismissal", headers=student.headers)
        assert withdrawn.status_code == 204
        assert _ids(client.get("/v1/me/gig-actions", headers=student.headers).json()) == [c["id"]]


def _lock_waiters(rt: Runtime, polls: int = 500) -> bool:
    """True once a backend of this PostgreSQL database waits on a lock (polled
    every 20 ms, at most ``polls`` times).

    Each poll is its own transaction: PostgreSQL reads ``pg_stat_activity`` once per
    transaction and shows that snapshot until it ends (the cumulative statistics
    system's docs), so polls in one transaction would never see a later waiter."""
    waiting = text(
        "select count(*) from pg_stat_activity"
        " where datname = current_database() and wait_event_type = 'Lock'"
    )
    with rt.engine.connect() as conn:
        for _ in range(polls):
            found = conn.execute(waiting).scalar_one()
            conn.rollback()
            if found:
                return True
            time.sleep(0.02)
    return False


class TestUpsert:
    def test_concurrent_writes_of_one_pair_make_one_row_with_both_sides(
        self, runtime: Runtime, owner: Student, student: Student, client: TestClient
    ) -> None:
        gig_id = _post(client, owner)["id"]
        barrier = threading.Barrier(6)
        errors: list[BaseException] = []

        def write(n: int) -> None:
            try:
                barrier.wait()
                with runtime.session() as session:
                    if n % 2:
                        set_action(session, gig_id, student.id, StudentAction.APPLIED, now=now_ms())
                    else:
                        set_decision(
                            session, gig_id, student.id, CandidateDecision.SHORTLISTED, now=now_ms()
                        )
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        (row,) = _rows(runtime, gig_id)
        assert (row.action, row.decision) == ("applied", "shortlisted")

    def test_an_upsert_rolls_back_with_its_unit_of_work(
        self, runtime: Runtime, owner: Student, student: Student, client: TestClient
    ) -> None:
        # On SQLite a SAVEPOINT outside a transaction would commit on RELEASE.
        gig_id = _post(client, owner)["id"]
        with pytest.raises(RuntimeError), runtime.session() as session:
            assert set_action(session, gig_id, student.id, StudentAction.APPLIED, now=now_ms())
            raise RuntimeError("the request failed after the write")
        assert _rows(runtime, gig_id) == []

    def test_losing_the_insert_race_updates_the_winners_row(
        self, runtime: Runtime, owner: Student, student: Student, client: TestClient
    ) -> None:
        if runtime.engine.dialect.name != "postgresql":
            pytest.skip("the race needs PostgreSQL: SQLite's UPDATE takes the one write lock")
        gig_id = _post(client, owner)["id"]
        errors: list[BaseException] = []

        def lose() -> None:
            try:
                with runtime.session() as session:
                    set_action(session, gig_id, student.id, StudentAction.APPLIED, now=now_ms())
            except BaseException as exc:  # reported below
                errors.append(exc)

        loser = threading.Thread(target=lose)
        with Session(runtime.engine) as winner:
            set_decision(winner, gig_id, student.id, CandidateDecision.REJECTED, now=now_ms())
            winner.flush()  # inserted, not committed: the loser's INSERT waits on the key
            loser.start()
            try:
                waited = _lock_waiters(runtime)
            finally:
                winner.commit()
                loser.join()
        assert waited, "the second insert never waited on the first"
        assert errors == []
        (row,) = _rows(runtime, gig_id)
        assert (row.decision, row.action) == ("rejected", "applied")

    def test_a_row_committed_just_after_the_update_is_updated(
        self, runtime: Runtime, owner: Student, student: Student, client: TestClient
    ) -> None:
        if runtime.engine.dialect.name != "postgresql":
            pytest.skip("the race needs PostgreSQL: SQLite's UPDATE takes the one write lock")
        gig_id = _post(client, owner)["id"]
        interleaved: list[bool] = []

        # The other side's insert commits between this writer's UPDATE (which
        # matched no row) and its next statement: READ COMMITTED shows the row then.
        def commit_other_side(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            if interleaved or not statement.lstrip().upper().startswith("UPDATE INTERACTIONS"):
                return
            interleaved.append(True)
            with Session(runtime.engine) as other:
                set_decision(other, gig_id, student.id, CandidateDecision.REJECTED, now=now_ms())
                other.commit()

        event.listen(runtime.engine, "after_cursor_execute", commit_other_side)
        try:
            with runtime.session() as session:
                changed = set_action(
                    session, gig_id, student.id, StudentAction.APPLIED, now=now_ms()
                )
        finally:
            event.remove(runtime.engine, "after_cursor_execute", commit_other_side)
        assert interleaved == [True]
        assert changed
        (row,) = _rows(runtime, gig_id)
        assert (row.decision, row.action) == ("rejected", "applied")


def test_a_deleted_gig_keeps_its_interactions_and_its_applicants_are_404(
    client: TestClient, runtime: Runtime, owner: Student, student: Student
) -> None:
    gig = _post(client, owner)
    assert client.put(f"/v1/gigs/{gig['id']}/application", headers=student.headers).is_success
    assert _decide(client, owner, gig["id"], student.id, "shortlisted").status_code == 200
    assert client.get(f"/v1/gigs/{gig['id']}/applicants", headers=owner.headers).status_code == 200
    assert client.delete(f"/v1/gigs/{gig['id']}", headers=owner.headers).status_code == 204
    (row,) = _rows(runtime, gig["id"])
    assert (row.action, row.decision) == ("applied", "shortlisted")
    for path in ("applicants", "candidates"):
        r = client.get(f"/v1/gigs/{gig['id']}/{path}", headers=owner.headers)
        assert r.status_code == 404, r.text
    assert _decide(client, owner, gig["id"], student.id, "rejected").status_code == 404
    url = f"/v1/gigs/{gig['id']}/application"
    assert client.delete(url, headers=student.headers).status_code == 404
    assert _rows(runtime, gig["id"])[0].action == "applied"


class TestRankingEffects:
    def test_a_rejected_student_leaves_the_candidates(self, rt: Runtime, api: TestClient) -> None:
        owner = new_user_with_key(rt, "emp_owner", role="employer")
        py = student_with_key(rt, "stu_py", headline="Python developer", skills=("python",))
        py2 = student_with_key(rt, "stu_py2", headline="Python engineer", skills=("python",))
        gig = _post(api, owner, title="Python developer", requiredSkills=["Python"])
        refresh_stale(rt)
        url = f"/v1/gigs/{gig['id']}/candidates"
        before = api.get(url, headers=owner.headers)
        assert before.status_code == 200, before.text
        assert {py.id, py2.id} <= set(_ids(before.json(), "userId"))

        assert _decide(api, owner, gig["id"], py.id, "rejected").status_code == 200
        after = api.get(url, headers=owner.headers).json()
        assert py.id not in _ids(after, "userId")
        assert py2.id in _ids(after, "userId")

        cleared = api.delete(f"/v1/gigs/{gig['id']}/decisions/{py.id}", headers=owner.headers)
        assert cleared.status_code == 204
        assert py.id in _ids(api.get(url, headers=owner.headers).json(), "userId")

    def test_a_dismissed_gig_leaves_the_recommendations(self, rt: Runtime, api: TestClient) -> None:
        owner = new_user_with_key(rt, "emp_owner", role="employer")
        student = student_with_key(rt, "stu_cook", headline="Cook", skills=("cooking",))
        kitchen = _post(api, owner, title="Cook for a kitchen", requiredSkills=["Cooking"])
        events = _post(api, owner, title="Cook for events", requiredSkills=["Cooking"])
        refresh_stale(rt)
        url = "/v1/me/recommended-gigs"
        before = api.get(url, headers=student.headers)
        assert before.status_code == 200, before.text
        assert {kitchen["id"], events["id"]} <= set(_ids(before.json()))

        dismissal = f"/v1/gigs/{kitchen['id']}/dismissal"
        assert api.put(dismissal, headers=student.headers).status_code == 200
        after = _ids(api.get(url, headers=student.headers).json())
        assert kitchen["id"] not in after and events["id"] in after
        assert api.delete(dismissal, headers=student.headers).status_code == 204
        assert kitchen["id"] in _ids(api.get(url, headers=student.headers).json())

    def test_applicants_show_as_applied_until_they_withdraw(
        self, rt: Runtime, api: TestClient
    ) -> None:
        owner = new_user_with_key(rt, "emp_owner", role="employer")
        cook = student_with_key(rt, "stu_cook", headline="Chef", skills=("cooking",))
        coder = student_with_key(rt, "stu_code", headline="Coder", skills=("python",))
        idle = student_with_key(rt, "stu_idle", headline="Chef", skills=("cooking",))
        gig = _post(api, owner, title="Chef", requiredSkills=["Cooking"])
        refresh_stale(rt)
        for who in (coder, cook):
            r = api.put(f"/v1/gigs/{gig['id']}/application", headers=who.headers)
            assert r.status_code == 200, r.text
        url = f"/v1/gigs/{gig['id']}/applicants"
        r = api.get(url, headers=owner.headers)
        assert r.status_code == 200, r.text
        assert _ids(r.json(), "userId") == [cook.id, coder.id]  # ranked by fit
        assert all(h["applied"] for h in r.json()["results"])
        assert idle.id not in _ids(r.json(), "userId")

        candidates = api.get(f"/v1/gigs/{gig['id']}/candidates", headers=owner.headers).json()
        applied = {h["userId"]: h["applied"] for h in candidates["results"]}
        assert applied[cook.id] is True and applied[idle.id] is False

        withdrawn = api.delete(f"/v1/gigs/{gig['id']}/application", headers=cook.headers)
        assert withdrawn.status_code == 204
        assert _ids(api.get(url, headers=owner.headers).json(), "userId") == [coder.id]

    def test_shortlisting_moves_a_similar_student_up(self, rt: Runtime, api: TestClient) -> None:
        # Dense similarity under the 64-d hashing encoder (documents are the
        # headlines; the gig's is its title): the gig is close to the warehouse
        # assistant (cosine ~0.39) and far from both baristas (~0.02); the two
        # baristas are close to each other. Rocchio (1.0, 0.75, 0.15) towards the
        # shortlisted barista lifts the other barista to ~0.48, above the
        # assistant (~0.37). Semantic mode, no required skills, availability or
        # location: the re-ranking adds nothing, the order is the dense order.
        owner = new_user_with_key(rt, "emp_owner", role="employer")
        assistant = student_with_key(rt, "stu_a", headline="Warehouse shift assistant")
        barista = student_with_key(rt, "stu_b", headline="Barista espresso latte art")
        shortlisted = student_with_key(rt, "stu_s", headline="Barista espresso coffee shop")
        gig = _post(api, owner, title="Warehouse forklift driver")
        refresh_stale(rt)
        url = f"/v1/gigs/{gig['id']}/candidates"
        params = {"mode": "semantic"}

        def order() -> list[int]:
            r = api.get(url, params=params, headers=owner.headers)
            assert r.status_code == 200, r.text
            return _ids(r.json(), "userId")

        before = order()
        assert before.index(assistant.id) < before.index(barista.id)
        assert _decide(api, owner, gig["id"], shortlisted.id, "shortlisted").status_code == 200
        after = order()
        assert after.index(barista.id) < after.index(assistant.id)
        assert after[0] == shortlisted.id

    def test_a_shortlisted_profile_reduced_since_indexing_does_not_steer_the_ranking(
        self, rt: Runtime, api: TestClient
    ) -> None:
        # As above, but the shortlisted student's indexed version is below their
        # privacy floor (a reduction whose point removal has not happened yet):
        # its stored vector must not move the query, so the order stays.
        owner = new_user_with_key(rt, "emp_owner2", role="employer")
        assistant = student_with_key(rt, "stu_a2", headline="Warehouse shift assistant")
        barista = student_with_key(rt, "stu_b2", headline="Barista espresso latte art")
        shortlisted = student_with_key(rt, "stu_s2", headline="Barista espresso coffee shop")
        gig = _post(api, owner, title="Warehouse forklift driver")
        refresh_stale(rt)
        with session_scope(rt.engine) as session:
            user = session.get(User, shortlisted.id)
            assert user is not None and user.visible_updated_at is not None
            user.privacy_floor = user.visible_updated_at + 1
            session.add(user)
        assert _decide(api, owner, gig["id"], shortlisted.id, "shortlisted").status_code == 200
        r = api.get(
            f"/v1/gigs/{gig['id']}/candidates", params={"mode": "semantic"}, headers=owner.headers
        )
        after = _ids(r.json(), "userId")
        assert after.index(assistant.id) < after.index(barista.id)
        assert shortlisted.id not in after
