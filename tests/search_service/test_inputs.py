"""Bad input gets a 4xx in the one error shape and changes nothing: list item lengths,
project URLs, user_data limits and paging, ledger amounts and reconciliation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func
from sqlmodel import select

from models import LedgerKind, Posting, Project, Transaction, User, UserData
from search_service.app import create_app
from search_service.db import session_scope
from search_service.errors import ConflictError
from search_service.profiles.service import reconcile_snapshots
from search_service.runtime import Runtime
from search_service.settings import Settings, UserDataSettings
from search_service.users.ledger import post_transaction, reconcile_balances
from search_service.users.user_data import set_user_data
from tests.search_service.profile_helpers import Student, new_user_with_key

MERGE = {"Content-Type": "application/merge-patch+json"}


def _profile(**projects: Any) -> dict[str, Any]:
    return {"headline": "Student", "projects": {"items": [{"title": "App", **projects}]}}


class TestListItems:
    def test_search_filter_item_over_100_characters_is_422(
        self, client: TestClient, employer_headers: dict[str, str]
    ) -> None:
        r = client.post(
            "/v1/search", json={"filters": {"skills": ["x" * 101]}}, headers=employer_headers
        )
        assert r.status_code == 422, r.text
        assert r.json()["error"] == "validation_error"
        assert r.json()["detail"].startswith("filters.skills.0:")
        r = client.post(
            "/v1/search",
            json={"filters": {"languages": ["english", "y" * 101]}},
            headers=employer_headers,
        )
        assert r.status_code == 422, r.text
        assert r.json()["detail"].startswith("filters.languages.1:")

    def test_project_skill_over_100_characters_is_422_and_nothing_is_written(
        self, client: TestClient, runtime: Runtime
    ) -> None:
        s = new_user_with_key(runtime, "u_long_skill")
        r = client.put("/v1/me/profile", json=_profile(skills=["z" * 101]), headers=s.headers)
        assert r.status_code == 422, r.text
        assert "projects.items.0.skills.0" in r.json()["detail"]
        assert client.get("/v1/me/profile", headers=s.headers).json()["version"] == 0
        ok = client.put("/v1/me/profile", json=_profile(skills=["z" * 100]), headers=s.headers)
        assert ok.status_code == 200, ok.text

    def test_openapi_shows_the_item_limits(self, client: TestClient) -> None:
        schemas = client.get("/openapi.json").json()["components"]["schemas"]
        assert schemas["SearchFilters"]["properties"]["skills"]["items"]["maxLength"] == 100
        assert schemas["ProjectItem"]["properties"]["skills"]["items"]["maxLength"] == 100


class TestProjectUrl:
    @pytest.mark.parametrize(
        "url",
        [
            "javascript:alert(document.cookie)",
            "JavaScript:alert(1)",
            "java\tscript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "ftp://example.com/x",
            "//example.com/x",
            "/relative/path",
            "https://",
            "https:example.com",
            "https://exa mple.com",
            "https://example.com/\njavascript:alert(1)",
        ],
    )
    def test_anything_but_an_absolute_http_url_is_422_naming_the_field(
        self, client: TestClient, runtime: Runtime, url: str
    ) -> None:
        s = new_user_with_key(runtime, "u_url")
        r = client.put("/v1/me/profile", json=_profile(url=url), headers=s.headers)
        assert r.status_code == 422, r.text
        assert r.json()["error"] == "validation_error"
        assert r.json()["detail"].startswith("projects.items.0.url:")

    def test_patch_with_a_javascript_url_is_422(self, client: TestClient, runtime: Runtime) -> None:
        s = new_user_with_key(runtime, "u_url_patch")
        patch = {"projects": {"items": [{"title": "App", "url": "javascript:alert(1)"}]}}
        r = client.patch("/v1/me/profile", json=patch, headers={**s.headers, **MERGE})
        assert r.status_code == 422, r.text
        assert "projects.items.0.url" in r.json()["detail"]

    @pytest.mark.parametrize(
        "url", ["https://example.com", "http://example.com/a?b=c#d", "HTTPS://Example.com/X"]
    )
    def test_http_and_https_urls_are_stored_as_written(
        self, client: TestClient, runtime: Runtime, url: str
    ) -> None:
        s = new_user_with_key(runtime, "u_url_ok")
        r = client.put("/v1/me/profile", json=_profile(url=url), headers=s.headers)
        assert r.status_code == 200, r.text
        assert r.json()["projects"]["items"][0]["url"] == url

    def test_a_url_stored_before_the_rule_stays_readable(
        self, client: TestClient, runtime: Runtime, employer_headers: dict[str, str]
    ) -> None:
        s = new_user_with_key(runtime, "u_legacy_url")
        body = _profile(url="https://ok.example", skills=["js"])
        assert client.put("/v1/me/profile", json=body, headers=s.headers).status_code == 200
        legacy = "javascript:alert(1)"
        with session_scope(runtime.engine) as session:  # written before the rule existed
            row = session.exec(select(Project).where(Project.user_id == s.id)).one()
            row.url = legacy
            row.skills = ["q" * 150]
        own = client.get("/v1/me/profile", headers=s.headers)
        assert own.status_code == 200, own.text
        assert own.json()["projects"]["items"][0]["url"] == legacy  # left as is
        shared = client.get(f"/v1/profiles/{s.id}", headers=employer_headers)
        assert shared.status_code == 200, shared.text
        reconcile_snapshots(runtime.engine)  # the drift job reads the rows too
        # A write is of the whole profile, so it must bring the project up to the rules...
        r = client.patch("/v1/me/profile", json={"headline": "New"}, headers={**s.headers, **MERGE})
        assert r.status_code == 422, r.text
        assert r.json()["detail"].startswith("projects.items.0.url:")
        # ...and one that fixes it goes through.
        fixed = {"projects": {"items": [{"title": "App", "url": "https://fixed.example"}]}}
        r = client.patch("/v1/me/profile", json=fixed, headers={**s.headers, **MERGE})
        assert r.status_code == 200, r.text
        assert r.json()["projects"]["items"][0]["url"] == "https://fixed.example"


@pytest.fixture
def capped_client(
    settings: Settings, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    """The app with at most 3 user_data keys per user."""
    cfg = settings.model_copy(update={"user_data": UserDataSettings(max_keys=3)})
    monkeypatch.setattr(runtime, "settings", cfg)  # request-time settings come from the runtime
    with TestClient(create_app(cfg, runtime=runtime)) as c:
        yield c


def _data_count(rt: Runtime, user: Student) -> int:
    with session_scope(rt.engine) as session:
        stmt = select(func.count()).select_from(UserData).where(UserData.user_id == user.id)
        return int(session.exec(stmt).one())


class TestUserData:
    def test_a_new_key_over_the_limit_is_409_and_not_written(
        self, capped_client: TestClient, runtime: Runtime
    ) -> None:
        u = new_user_with_key(runtime, "u_cap")
        for key in ("a", "b", "c"):
            r = capped_client.put(
                f"/v1/users/me/data/{key}", json={"value": "v"}, headers=u.headers
            )
            assert r.status_code == 201, r.text
        r = capped_client.put("/v1/users/me/data/d", json={"value": "1"}, headers=u.headers)
        assert r.status_code == 409, r.text
        assert r.json()["error"] == "too_many_keys"
        assert "at most 3 keys" in r.json()["detail"]
        assert _data_count(runtime, u) == 3
        replaced = capped_client.put("/v1/users/me/data/a", json={"value": "2"}, headers=u.headers)
        assert replaced.status_code == 200, replaced.text
        assert capped_client.delete("/v1/users/me/data/b", headers=u.headers).status_code == 204
        r = capped_client.put("/v1/users/me/data/d", json={"value": "1"}, headers=u.headers)
        assert r.status_code == 201, r.text

    def test_the_default_limit_is_100_keys(self, client: TestClient, runtime: Runtime) -> None:
        u = new_user_with_key(runtime, "u_cap_default")
        with session_scope(runtime.engine) as session:
            session.add_all(UserData(user_id=u.id, key=f"k{i:03}", value="v") for i in range(100))
        r = client.put("/v1/users/me/data/one-more", json={"value": "1"}, headers=u.headers)
        assert r.status_code == 409, r.text

    def test_concurrent_writers_cannot_pass_the_limit_together(self, runtime: Runtime) -> None:
        u = new_user_with_key(runtime, "u_cap_race")
        with session_scope(runtime.engine) as session:
            set_user_data(session, u.id, "first", "v", max_keys=3)
            set_user_data(session, u.id, "second", "v", max_keys=3)

        def add(i: int) -> str:
            try:
                with session_scope(runtime.engine) as session:
                    set_user_data(session, u.id, f"new{i}", "v", max_keys=3)
            except ConflictError:
                return "conflict"
            return "created"

        with ThreadPoolExecutor(max_workers=8) as pool:
            outcomes = list(pool.map(add, range(8)))
        assert sorted(outcomes) == ["conflict"] * 7 + ["created"]
        assert _data_count(runtime, u) == 3

    def test_listing_pages_by_key_with_a_next_link(
        self, client: TestClient, runtime: Runtime
    ) -> None:
        u = new_user_with_key(runtime, "u_pages")
        keys = ["a", "b.1", "b:2", "c-3", "d_4"]
        for key in reversed(keys):
            client.put(f"/v1/users/me/data/{key}", json={"value": key}, headers=u.headers)
        seen: list[str] = []
        url: str | None = "/v1/users/me/data?limit=2"
        pages = 0
        while url is not None:
            r = client.get(url, headers=u.headers)
            assert r.status_code == 200, r.text
            assert len(r.json()) <= 2
            seen += [d["key"] for d in r.json()]
            pages += 1
            link = r.headers.get("link")
            url = None
            if link is not None:
                m = re.fullmatch(r'<(.+)>; rel="next"', link)
                assert m is not None, link
                url = m[1]
        assert seen == sorted(keys) and pages == 3
        everything = client.get("/v1/users/me/data", headers=u.headers)
        assert [d["key"] for d in everything.json()] == sorted(keys)
        assert "link" not in everything.headers

    @pytest.mark.parametrize("query", ["limit=0", "limit=101", "after=bad key!"])
    def test_bad_page_parameters_are_422(
        self, client: TestClient, runtime: Runtime, query: str
    ) -> None:
        u = new_user_with_key(runtime, "u_pages_bad")
        r = client.get(f"/v1/users/me/data?{query}", headers=u.headers)
        assert r.status_code == 422, r.text
        assert r.json()["error"] == "validation_error"


def _admin(runtime: Runtime) -> Student:
    return new_user_with_key(runtime, "u_admin", role="admin")


def _post(client: TestClient, admin: Student, amount: Any, key: str) -> Any:
    body = {"clerkId": "u_payee", "amount": amount, "kind": "gig_payment", "idempotencyKey": key}
    return client.post("/v1/admin/transactions", json=body, headers=admin.headers)


class TestLedger:
    @pytest.mark.parametrize("amount", [0, 10**12 + 1, -(10**12) - 1, 2**63, 10**30])
    def test_amount_outside_the_range_is_422_and_posts_nothing(
        self, client: TestClient, runtime: Runtime, amount: int
    ) -> None:
        admin = _admin(runtime)
        new_user_with_key(runtime, "u_payee")
        r = _post(client, admin, amount, "k1")
        assert r.status_code == 422, r.text
        assert r.json()["error"] == "validation_error"
        assert r.json()["detail"].startswith("amount:")
        with session_scope(runtime.engine) as session:
            assert session.exec(select(func.count()).select_from(Transaction)).one() == 0

    def test_largest_amounts_post_and_the_balance_holds_them(
        self, client: TestClient, runtime: Runtime
    ) -> None:
        admin = _admin(runtime)
        payee = new_user_with_key(runtime, "u_payee")
        for i in range(3):
            r = _post(client, admin, 10**12, f"big{i}")
            assert r.status_code == 201, r.text
        assert _post(client, admin, -(10**12), "debit").status_code == 201
        balance = client.get("/v1/users/me/balance", headers=payee.headers)
        assert balance.status_code == 200, balance.text
        assert balance.json()["amount"] == 2 * 10**12  # beyond a 32-bit INTEGER column
        assert reconcile_balances(runtime.engine).drifts == []

    def test_openapi_documents_the_range(self, client: TestClient) -> None:
        amount = client.get("/openapi.json").json()["components"]["schemas"]["Posting"][
            "properties"
        ]["amount"]
        assert (amount["minimum"], amount["maximum"]) == (-(10**12), 10**12)

    def test_posting_committed_during_reconciliation_is_not_drift(
        self, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        new_user_with_key(runtime, "u_payee")
        post_transaction(runtime.engine, _posting(500, "before"))
        engine = runtime.engine
        fired: list[str] = []

        # Commit a posting right after the first statement that reads the ledger
        # and before any later read: the window between the two reads of a
        # reconciliation that reads sums and balances separately.
        def post_between(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            if fired or "transactions" not in statement or "SELECT" not in statement.upper():
                return
            fired.append(statement)
            post_transaction(engine, _posting(250, "during"))

        event.listen(engine, "after_cursor_execute", post_between)
        try:
            report = reconcile_balances(engine)
        finally:
            event.remove(engine, "after_cursor_execute", post_between)
        assert fired, "the reconciliation never read the ledger"
        assert report.drifts == []
        assert reconcile_balances(engine).drifts == []  # and afterwards, with both postings
        with session_scope(engine) as session:
            payee = session.exec(select(User).where(User.clerk_id == "u_payee")).one()
        assert payee.balance_amount == 750


def _posting(amount: int, key: str) -> Posting:
    return Posting(
        clerk_id="u_payee", amount=amount, kind=LedgerKind.GIG_PAYMENT, idempotency_key=key
    )
