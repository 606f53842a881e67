"""Saved searches: the owner-only API, scheduled runs (baseline, then alerts), reading
and marking alerts, failures retried at the next interval, privacy at run and read
time, limits, metrics, GDPR export and purge.

Runs on SQLite and PostgreSQL (the ``database_url`` fixture); runs are driven with
``run_due_saved_searches`` and an explicit clock instead of waiting for the scheduler.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import col, select

from indexers import StoreUnavailableError
from models import SavedSearch, SavedSearchMatch, User, UserStatus, now_ms
from search_service.db import session_scope
from search_service.privacy.service import purge_expired
from search_service.refresh.freshness import refresh_stale
from search_service.runtime import Runtime
from search_service.saved.service import run_due_saved_searches
from search_service.search.service import search_profiles
from search_service.users.api_keys import create_api_key
from search_service.users.repository import soft_delete_user
from tests.search_service.profile_helpers import Student, new_user_with_key, student_with_key

MERGE = {"Content-Type": "application/merge-patch+json"}
HOUR_MS = 3_600_000
_RUNS_SEARCH = "search_service.saved.service.search_profiles"
"""What a saved-search run calls to search (replaced to make runs fail)."""
QUERY = {"query": "pastry chef", "mode": "keyword", "limit": 10}


@pytest.fixture
def employer(runtime: Runtime) -> Student:
    """An employer user with a key acting as them."""
    return new_user_with_key(runtime, "saved_emp", role="employer")


@pytest.fixture
def rival(runtime: Runtime) -> Student:
    """Another employer."""
    return new_user_with_key(runtime, "saved_rival", role="employer")


def _chef(rt: Runtime, clerk_id: str) -> Student:
    return student_with_key(
        rt, clerk_id, headline="Pastry chef", bio="Croissants and pastry.", skills=("baking",)
    )


def _save(client: TestClient, who: Student, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "Chefs", "search": QUERY, **fields}
    r = client.post("/v1/saved-searches", json=body, headers=who.headers)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def _alerts(client: TestClient, who: Student, sid: int, **params: Any) -> dict[str, Any]:
    r = client.get(f"/v1/saved-searches/{sid}/alerts", params=params, headers=who.headers)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def _alerted(client: TestClient, who: Student, sid: int) -> list[int]:
    return [a["candidate"]["userId"] for a in _alerts(client, who, sid)["results"]]


def _later(hours: int) -> int:
    """A clock ``hours`` past now (epoch ms), a little over so the search is due."""
    return now_ms() + hours * HOUR_MS + 1000


def _baseline_then_one_alert(
    client: TestClient, runtime: Runtime, employer: Student
) -> tuple[int, Student, Student]:
    """A saved search whose baseline holds one chef and whose second run alerts one more."""
    first = _chef(runtime, "chef_a")
    refresh_stale(runtime)
    sid = _save(client, employer)["id"]
    assert run_due_saved_searches(runtime).ran == 1
    second = _chef(runtime, "chef_b")
    refresh_stale(runtime)
    report = run_due_saved_searches(runtime, now=_later(1))
    assert (report.ran, report.alerts) == (1, 1)
    return sid, first, second


class TestManage:
    def test_a_saved_search_keeps_no_paging_state_or_facets(
        self, client: TestClient, employer: Student
    ) -> None:
        search = {**QUERY, "offset": 20, "facets": ["skills"]}
        stored = _save(client, employer, search=search)["search"]
        assert (stored["offset"], stored["cursor"], stored["facets"]) == (0, None, [])

    def test_create_list_and_delete(
        self, client: TestClient, employer: Student, rival: Student
    ) -> None:
        created = _save(client, employer, intervalS=600)
        assert created["name"] == "Chefs"
        assert created["search"]["query"] == "pastry chef"
        assert created["search"]["offset"] == 0
        assert (created["intervalS"], created["customInterval"]) == (600, True)
        assert created["lastRunAt"] is None and created["unseenAlerts"] == 0
        default = _save(client, employer, name="Default interval")
        assert (default["intervalS"], default["customInterval"]) == (3600, False)
        _save(client, rival, name="Not yours")
        listed = client.get("/v1/saved-searches", headers=employer.headers).json()["results"]
        assert [s["id"] for s in listed] == [default["id"], created["id"]]  # newest first
        r = client.delete(f"/v1/saved-searches/{created['id']}", headers=employer.headers)
        assert r.status_code == 204, r.text
        listed = client.get("/v1/saved-searches", headers=employer.headers).json()["results"]
        assert [s["id"] for s in listed] == [default["id"]]
        again = client.delete(f"/v1/saved-searches/{created['id']}", headers=employer.headers)
        assert again.status_code == 404

    def test_location_header_names_the_new_search(
        self, client: TestClient, employer: Student
    ) -> None:
        r = client.post(
            "/v1/saved-searches", json={"name": "x", "search": QUERY}, headers=employer.headers
        )
        assert r.status_code == 201, r.text
        assert r.headers["Location"] == f"/v1/saved-searches/{r.json()['id']}"

    def test_others_ids_are_404_even_for_admins(
        self, client: TestClient, runtime: Runtime, employer: Student, rival: Student
    ) -> None:
        admin = new_user_with_key(runtime, "saved_admin", role="admin")
        sid = _save(client, employer)["id"]
        for who in (rival, admin):
            for method, path in (
                ("DELETE", f"/v1/saved-searches/{sid}"),
                ("GET", f"/v1/saved-searches/{sid}/alerts"),
                ("POST", f"/v1/saved-searches/{sid}/alerts/seen"),
            ):
                r = client.request(method, path, headers=who.headers)
                assert r.status_code == 404, r.text
                assert r.json()["error"] == "not_found"
        assert client.get(f"/v1/saved-searches/{sid}/alerts", headers=employer.headers).is_success

    def test_admins_save_their_own(self, client: TestClient, runtime: Runtime) -> None:
        admin = new_user_with_key(runtime, "saved_admin2", role="admin")
        _save(client, admin)
        assert len(client.get("/v1/saved-searches", headers=admin.headers).json()["results"]) == 1

    def test_students_and_userless_keys_are_403(
        self, client: TestClient, runtime: Runtime, student_headers: dict[str, str]
    ) -> None:
        with session_scope(runtime.engine) as session:
            _, legacy = create_api_key(session, role="employer")
        for headers in (student_headers, {"Authorization": f"Bearer {legacy}"}):
            r = client.post(
                "/v1/saved-searches", json={"name": "x", "search": QUERY}, headers=headers
            )
            assert r.status_code == 403, r.text
            assert r.json()["error"] == "forbidden"

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"name": "x", "search": {**QUERY, "sort": "name"}}, "search.sort"),
            ({"name": "x", "search": {**QUERY, "limit": 101}}, "search.limit"),
            ({"name": "x", "search": {"mode": "fuzzy"}}, "search.mode"),
            ({"name": "x", "search": {"filters": {"skills": ["a" * 101]}}}, "search.filters"),
            ({"name": "x", "search": QUERY, "intervalS": 59}, "intervalS"),
            ({"name": "  ", "search": QUERY}, "name"),
            ({"search": QUERY}, "name"),
        ],
    )
    def test_the_body_is_validated_as_search_is(
        self, client: TestClient, employer: Student, body: dict[str, Any], field: str
    ) -> None:
        r = client.post("/v1/saved-searches", json=body, headers=employer.headers)
        assert r.status_code == 422, r.text
        assert r.json()["error"] == "validation_error"
        assert field in r.json()["detail"]

    def test_an_employer_holds_at_most_the_configured_number(
        self, client: TestClient, runtime: Runtime, employer: Student, rival: Student
    ) -> None:
        runtime.settings.saved_searches.max_per_owner = 2
        first = _save(client, employer)
        _save(client, employer)
        r = client.post(
            "/v1/saved-searches", json={"name": "third", "search": QUERY}, headers=employer.headers
        )
        assert r.status_code == 409, r.text
        assert r.json()["error"] == "too_many_saved_searches"
        _save(client, rival)  # the limit is per employer
        client.delete(f"/v1/saved-searches/{first['id']}", headers=employer.headers)
        _save(client, employer, name="fits again")


class TestRuns:
    def test_first_run_is_the_baseline_and_later_newcomers_are_alerts(
        self, client: TestClient, runtime: Runtime, employer: Student
    ) -> None:
        sid, first, second = _baseline_then_one_alert(client, runtime, employer)
        body = _alerts(client, employer, sid)
        assert [a["candidate"]["userId"] for a in body["results"]] == [second.id]
        alert = body["results"][0]
        assert alert["seenAt"] is None and alert["rank"] in (1, 2)
        assert alert["candidate"]["headline"] == "Pastry chef"
        assert body["nextOffset"] is None
        view = client.get("/v1/saved-searches", headers=employer.headers).json()["results"][0]
        assert view["unseenAlerts"] == 1 and view["lastError"] is None
        assert view["lastSuccessAt"] == view["lastRunAt"]
        # Known candidates never alert again, in whatever order they come back.
        report = run_due_saved_searches(runtime, now=_later(3))
        assert (report.ran, report.alerts) == (1, 0)
        assert _alerted(client, employer, sid) == [second.id]
        assert first.id not in _alerted(client, employer, sid)

    def test_a_search_runs_only_when_its_interval_has_come(
        self, client: TestClient, runtime: Runtime, employer: Student
    ) -> None:
        _chef(runtime, "chef_a")
        refresh_stale(runtime)
        _save(client, employer, intervalS=7200)
        t0 = now_ms()
        assert run_due_saved_searches(runtime, now=t0).ran == 1
        assert run_due_saved_searches(runtime, now=t0 + HOUR_MS).ran == 0
        assert run_due_saved_searches(runtime, now=t0 + 2 * HOUR_MS).ran == 1
        assert run_due_saved_searches(runtime, now=t0 + 2 * HOUR_MS, force=True).ran == 1

    def test_deleted_searches_and_those_of_deleted_owners_do_not_run(
        self, client: TestClient, runtime: Runtime, employer: Student, rival: Student
    ) -> None:
        sid = _save(client, employer)["id"]
        _save(client, rival)
        client.delete(f"/v1/saved-searches/{sid}", headers=employer.headers)
        with runtime.session() as session:
            owner = session.get(User, rival.id)
            assert owner is not None
            soft_delete_user(session, owner)
        assert run_due_saved_searches(runtime).ran == 0

    def test_a_failed_run_is_retried_next_interval_and_loses_nothing(
        self,
        client: TestClient,
        runtime: Runtime,
        employer: Student,
        monkeypatch: pytest.MonkeyPatch,
        metrics_headers: dict[str, str],
    ) -> None:
        _chef(runtime, "chef_a")
        refresh_stale(runtime)
        sid = _save(client, employer)["id"]
        t0 = now_ms()
        run_due_saved_searches(runtime, now=t0)
        newcomer = _chef(runtime, "chef_b")
        refresh_stale(runtime)

        def down(*args: Any, **kwargs: Any) -> Any:
            raise StoreUnavailableError("store down")

        monkeypatch.setattr(_RUNS_SEARCH, down)
        report = run_due_saved_searches(runtime, now=t0 + HOUR_MS)
        assert (report.ran, report.failed) == (0, 1)
        view = client.get("/v1/saved-searches", headers=employer.headers).json()["results"][0]
        assert "StoreUnavailableError" in view["lastError"]
        assert view["nextRunAt"] == t0 + 2 * HOUR_MS  # not retried before the next interval
        assert _alerted(client, employer, sid) == []
        monkeypatch.setattr(_RUNS_SEARCH, search_profiles)
        assert run_due_saved_searches(runtime, now=t0 + HOUR_MS + 1).ran == 0
        report = run_due_saved_searches(runtime, now=t0 + 2 * HOUR_MS)
        assert (report.ran, report.alerts) == (1, 1)
        assert _alerted(client, employer, sid) == [newcomer.id]
        view = client.get("/v1/saved-searches", headers=employer.headers).json()["results"][0]
        assert view["lastError"] is None
        scrape = client.get("/metrics", headers=metrics_headers).text
        assert "gigsy_saved_search_runs_total 3.0" in scrape
        assert "gigsy_saved_search_failures_total 1.0" in scrape
        assert "gigsy_saved_search_alerts_total 1.0" in scrape
        # Runs are not people searching: they stay out of the search metrics.
        assert 'gigsy_searches_total{kind="profiles"} 0.0' in scrape

    def test_one_failing_search_does_not_stop_the_others(
        self,
        client: TestClient,
        runtime: Runtime,
        employer: Student,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        _chef(runtime, "chef_a")
        refresh_stale(runtime)
        broken = _save(client, employer, name="broken")["id"]
        _save(client, employer, name="fine")

        def flaky(rt: Runtime, session: Any, req: Any, **kwargs: Any) -> Any:
            if req.query == "kaput":
                raise RuntimeError("boom")
            return search_profiles(rt, session, req)

        with runtime.session() as session:
            row = session.get(SavedSearch, broken)
            assert row is not None
            row.request = {**row.request, "query": "kaput"}
            session.add(row)
        monkeypatch.setattr(_RUNS_SEARCH, flaky)
        report = run_due_saved_searches(runtime)
        assert (report.ran, report.failed) == (1, 1)


class TestAlerts:
    def _two_alerts(
        self, client: TestClient, runtime: Runtime, employer: Student
    ) -> tuple[int, list[int]]:
        _chef(runtime, "chef_a")
        refresh_stale(runtime)
        sid = _save(client, employer)["id"]
        t0 = now_ms()
        run_due_saved_searches(runtime, now=t0)
        ids = []
        for n, clerk in enumerate(("chef_b", "chef_c"), 1):
            ids.append(_chef(runtime, clerk).id)
            refresh_stale(runtime)
            run_due_saved_searches(runtime, now=t0 + n * HOUR_MS)
        return sid, ids

    def test_unseen_first_then_newest_and_marking_seen(
        self, client: TestClient, runtime: Runtime, employer: Student
    ) -> None:
        sid, (older, newer) = self._two_alerts(client, runtime, employer)
        body = _alerts(client, employer, sid)
        assert [a["candidate"]["userId"] for a in body["results"]] == [newer, older]
        newest_id = body["results"][0]["id"]
        r = client.post(
            f"/v1/saved-searches/{sid}/alerts/seen",
            json={"alertIds": [newest_id]},
            headers=employer.headers,
        )
        assert r.status_code == 200, r.text
        assert r.json() == {"marked": 1}
        body = _alerts(client, employer, sid)
        assert [a["candidate"]["userId"] for a in body["results"]] == [older, newer]
        assert body["results"][0]["seenAt"] is None and body["results"][1]["seenAt"] is not None
        view = client.get("/v1/saved-searches", headers=employer.headers).json()["results"][0]
        assert view["unseenAlerts"] == 1
        # Reading never marks; without a body every unseen alert is marked.
        r = client.post(f"/v1/saved-searches/{sid}/alerts/seen", headers=employer.headers)
        assert r.json() == {"marked": 1}
        r = client.post(f"/v1/saved-searches/{sid}/alerts/seen", json={}, headers=employer.headers)
        assert r.json() == {"marked": 0}

    def test_another_searchs_alert_ids_are_not_marked(
        self, client: TestClient, runtime: Runtime, employer: Student
    ) -> None:
        sid, _ = self._two_alerts(client, runtime, employer)
        other = _save(client, employer, name="other")["id"]
        ids = [a["id"] for a in _alerts(client, employer, sid)["results"]]
        r = client.post(
            f"/v1/saved-searches/{other}/alerts/seen",
            json={"alertIds": ids},
            headers=employer.headers,
        )
        assert r.json() == {"marked": 0}
        assert all(a["seenAt"] is None for a in _alerts(client, employer, sid)["results"])

    def test_pages(self, client: TestClient, runtime: Runtime, employer: Student) -> None:
        sid, (older, newer) = self._two_alerts(client, runtime, employer)
        page = _alerts(client, employer, sid, limit=1)
        assert [a["candidate"]["userId"] for a in page["results"]] == [newer]
        assert page["nextOffset"] == 1
        page = _alerts(client, employer, sid, limit=1, offset=1)
        assert [a["candidate"]["userId"] for a in page["results"]] == [older]
        assert page["nextOffset"] is None

    def test_deleting_a_search_deletes_its_matches(
        self, client: TestClient, runtime: Runtime, employer: Student
    ) -> None:
        sid, _ = self._two_alerts(client, runtime, employer)
        client.delete(f"/v1/saved-searches/{sid}", headers=employer.headers)
        with session_scope(runtime.engine) as session:
            left = session.exec(
                select(func.count())
                .select_from(SavedSearchMatch)
                .where(SavedSearchMatch.saved_search_id == sid)
            ).one()
        assert left == 0


def _leave(runtime: Runtime, client: TestClient, who: Student, how: str) -> None:
    """Take ``who`` out of employers' reach ``how``; the index is not refreshed, so
    their point may still be in it."""
    if how == "private":
        r = client.patch(
            "/v1/me/profile",
            json={"headline": "", "bio": "", "skills": {"visibility": "private"}},
            headers={**who.headers, **MERGE},
        )
        assert r.status_code == 200, r.text
        return
    with session_scope(runtime.engine) as session:  # no runtime: the point stays indexed
        user = session.get(User, who.id)
        assert user is not None
        if how == "deleted":
            soft_delete_user(session, user)
        else:
            user.status = UserStatus.SUSPENDED.value
            session.add(user)


class TestPrivacy:
    @pytest.mark.parametrize("how", ["private", "deleted", "suspended"])
    def test_a_candidate_who_leaves_after_the_alert_vanishes_from_it(
        self, client: TestClient, runtime: Runtime, employer: Student, how: str
    ) -> None:
        sid, _, second = _baseline_then_one_alert(client, runtime, employer)
        assert _alerted(client, employer, sid) == [second.id]
        _leave(runtime, client, second, how)
        body = _alerts(client, employer, sid)
        assert body == {"results": [], "nextOffset": None}
        # Nor is it counted: the count would tell that someone was hidden.
        view = client.get("/v1/saved-searches", headers=employer.headers).json()["results"][0]
        assert view["unseenAlerts"] == 0

    def test_hidden_alerts_do_not_shorten_a_page(
        self, client: TestClient, runtime: Runtime, employer: Student
    ) -> None:
        _chef(runtime, "chef_a")
        refresh_stale(runtime)
        sid = _save(client, employer)["id"]
        t0 = now_ms()
        run_due_saved_searches(runtime, now=t0)
        ids = []
        for n, clerk in enumerate(("chef_b", "chef_c", "chef_d"), 1):
            ids.append(_chef(runtime, clerk))
            refresh_stale(runtime)
            run_due_saved_searches(runtime, now=t0 + n * HOUR_MS)
        _leave(runtime, client, ids[2], "suspended")  # the newest alert
        page = _alerts(client, employer, sid, limit=1)
        assert [a["candidate"]["userId"] for a in page["results"]] == [ids[1].id]
        assert page["nextOffset"] == 2
        page = _alerts(client, employer, sid, limit=1, offset=2)
        assert [a["candidate"]["userId"] for a in page["results"]] == [ids[0].id]
        assert page["nextOffset"] is None

    @pytest.mark.parametrize("how", ["private", "deleted", "suspended"])
    def test_no_alert_is_created_for_a_candidate_who_left_before_the_run(
        self, client: TestClient, runtime: Runtime, employer: Student, how: str
    ) -> None:
        _chef(runtime, "chef_a")
        refresh_stale(runtime)
        sid = _save(client, employer)["id"]
        run_due_saved_searches(runtime)
        gone = _chef(runtime, "chef_b")
        refresh_stale(runtime)  # indexed...
        _leave(runtime, client, gone, how)  # ...then gone, the point possibly still there
        assert run_due_saved_searches(runtime, now=_later(1)).alerts == 0
        with session_scope(runtime.engine) as session:
            rows = session.exec(
                select(SavedSearchMatch).where(SavedSearchMatch.user_id == gone.id)
            ).all()
        assert rows == []
        assert _alerted(client, employer, sid) == []

    def test_export_has_the_employers_saved_searches(
        self, client: TestClient, employer: Student
    ) -> None:
        sid = _save(client, employer)["id"]
        export = client.get("/v1/me/export", headers=employer.headers).json()
        assert [(s["id"], s["name"]) for s in export["savedSearches"]] == [(sid, "Chefs")]
        assert export["savedSearches"][0]["request"]["query"] == "pastry chef"

    def test_purge_removes_alerts_naming_the_user_and_the_owners_searches(
        self, client: TestClient, runtime: Runtime, employer: Student
    ) -> None:
        sid, first, second = _baseline_then_one_alert(client, runtime, employer)
        with runtime.session() as session:
            user = session.get(User, second.id)
            assert user is not None
            soft_delete_user(session, user)
        assert purge_expired(runtime.engine, retention_days=0) == 1
        with session_scope(runtime.engine) as session:
            named = session.exec(
                select(SavedSearchMatch).where(SavedSearchMatch.user_id == second.id)
            ).all()
            kept = session.exec(
                select(SavedSearchMatch).where(SavedSearchMatch.user_id == first.id)
            ).all()
        assert named == [] and len(kept) == 1
        # The employer's own saved searches go when the employer is purged.
        with runtime.session() as session:
            user = session.get(User, employer.id)
            assert user is not None
            soft_delete_user(session, user)
        assert purge_expired(runtime.engine, retention_days=0) == 1
        with session_scope(runtime.engine) as session:
            assert session.get(SavedSearch, sid) is None
            assert (
                session.exec(
                    select(SavedSearchMatch).where(col(SavedSearchMatch.saved_search_id) == sid)
                ).all()
                == []
            )
