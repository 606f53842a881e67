"""Authentication (API keys owned by users, Clerk JWTs), roles, users, user_data, ledger."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import event
from sqlmodel import select
from typer.testing import CliRunner

from models import LedgerKind, Posting, User, now_ms
from search_service.app import create_app
from search_service.auth import ClerkJwtVerifier
from search_service.db import session_scope
from search_service.deps import CurrentStudent
from search_service.runtime import Runtime
from search_service.settings import ClerkSettings, Settings
from search_service.users.api_keys import create_api_key
from search_service.users.ledger import post_transaction, reconcile_balances
from tests.factories import make_student
from tests.search_service.jwt_helpers import AZP, ISSUER, make_token, write_jwks


@pytest.fixture
def jwks_file(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> Path:
    return write_jwks(tmp_path / "jwks.json", rsa_key)


@pytest.fixture
def app_client(settings: Settings, runtime: Runtime, jwks_file: Path) -> Iterator[TestClient]:
    cfg = settings.model_copy(
        update={
            "clerk": ClerkSettings(jwks_file=jwks_file, issuer=ISSUER, authorized_parties=[AZP])
        }
    )
    with TestClient(create_app(cfg, runtime=runtime)) as c:
        yield c


def _set_roles(rt: Runtime, clerk_id: str, roles: list[str]) -> User:
    with session_scope(rt.engine) as session:
        user = session.exec(select(User).where(User.clerk_id == clerk_id)).one()
        user.roles = roles
        return user


def _key_for(rt: Runtime, user: User, role: str) -> dict[str, str]:
    with session_scope(rt.engine) as session:
        _, key = create_api_key(session, role=role, user_id=user.id)
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def people(runtime: Runtime) -> dict[str, User]:
    make_student(runtime, clerk_id="user_stu", headline="Student")
    make_student(runtime, clerk_id="user_emp", headline="Employer")
    make_student(runtime, clerk_id="user_adm", headline="Admin")
    return {
        "student": _set_roles(runtime, "user_stu", ["student"]),
        "employer": _set_roles(runtime, "user_emp", ["employer"]),
        "admin": _set_roles(runtime, "user_adm", ["admin", "employer"]),
    }


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class TestJwt:
    def test_valid_token_acts_as_user(
        self, app_client: TestClient, people: dict[str, User], rsa_key: rsa.RSAPrivateKey
    ) -> None:
        r = app_client.get("/v1/users/me/balance", headers=_bearer(make_token(rsa_key, "user_stu")))
        assert r.status_code == 200, r.text
        assert r.json() == {"amount": 0, "currency": "USD"}

    def test_employer_token_may_search_student_may_not(
        self, app_client: TestClient, people: dict[str, User], rsa_key: rsa.RSAPrivateKey
    ) -> None:
        body = {"query": "", "limit": 1}
        emp = app_client.post(
            "/v1/search", json=body, headers=_bearer(make_token(rsa_key, "user_emp"))
        )
        assert emp.status_code in (200, 503), emp.text  # 503: no index built in this test
        stu = app_client.post(
            "/v1/search", json=body, headers=_bearer(make_token(rsa_key, "user_stu"))
        )
        assert stu.status_code == 403, stu.text

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"exp_in": -60},
            {"nbf_in": 120},
            {"iss": "https://evil.test"},
            {"azp": "https://evil.test"},
            {"kid": "unknown"},
            {"azp": None},
            {"iss": None},
        ],
        ids=[
            "expired",
            "not-yet-valid",
            "wrong-issuer",
            "bad-azp",
            "unknown-kid",
            "no-azp",
            "no-issuer",
        ],
    )
    def test_invalid_tokens_are_401(
        self,
        app_client: TestClient,
        people: dict[str, User],
        rsa_key: rsa.RSAPrivateKey,
        kwargs: dict[str, Any],
    ) -> None:
        token = make_token(rsa_key, "user_stu", **kwargs)
        r = app_client.get("/v1/users/me/balance", headers=_bearer(token))
        assert r.status_code == 401, r.text
        assert r.json()["error"] == "unauthorized"

    def test_small_clock_skew_is_tolerated(
        self, app_client: TestClient, people: dict[str, User], rsa_key: rsa.RSAPrivateKey
    ) -> None:
        r = app_client.get(
            "/v1/users/me/balance", headers=_bearer(make_token(rsa_key, "user_stu", exp_in=-2))
        )
        assert r.status_code == 200, r.text

    def test_token_signed_by_another_key_is_401(
        self, app_client: TestClient, people: dict[str, User]
    ) -> None:
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        r = app_client.get("/v1/users/me/balance", headers=_bearer(make_token(other, "user_stu")))
        assert r.status_code == 401, r.text

    def test_deleted_user_token_is_401(
        self,
        app_client: TestClient,
        runtime: Runtime,
        people: dict[str, User],
        rsa_key: rsa.RSAPrivateKey,
    ) -> None:
        with session_scope(runtime.engine) as session:
            u = session.exec(select(User).where(User.clerk_id == "user_stu")).one()
            u.deleted_at = now_ms()
        r = app_client.get("/v1/users/me/balance", headers=_bearer(make_token(rsa_key, "user_stu")))
        assert r.status_code == 401, r.text


def _jwt_client(settings: Settings, runtime: Runtime, jwks_file: Path, **clerk: Any) -> TestClient:
    cfg = settings.model_copy(
        update={"clerk": ClerkSettings(jwks_file=jwks_file, issuer=ISSUER, **clerk)}
    )
    return TestClient(create_app(cfg, runtime=runtime))


class TestJwtClaims:
    """``aud``, ``iss`` and ``azp`` as configured (PyJWT's own checks)."""

    @pytest.mark.parametrize(
        ("audience", "aud", "status"),
        [
            ("api.gigsy.test", "api.gigsy.test", 200),
            ("api.gigsy.test", ["other", "api.gigsy.test"], 200),
            (["a.test", "api.gigsy.test"], "api.gigsy.test", 200),
            ("api.gigsy.test", "other.test", 401),
            ("api.gigsy.test", None, 401),
            (None, "anything.test", 200),
        ],
        ids=[
            "match",
            "one-of-token-auds",
            "one-of-configured",
            "mismatch",
            "missing",
            "not-configured-not-checked",
        ],
    )
    def test_audience_is_checked_when_configured(
        self,
        settings: Settings,
        runtime: Runtime,
        jwks_file: Path,
        people: dict[str, User],
        rsa_key: rsa.RSAPrivateKey,
        audience: str | list[str] | None,
        aud: str | list[str] | None,
        status: int,
    ) -> None:
        token = make_token(rsa_key, "user_stu", aud=aud)
        with _jwt_client(settings, runtime, jwks_file, audience=audience) as c:
            r = c.get("/v1/users/me/balance", headers=_bearer(token))
        assert r.status_code == status, r.text

    def test_missing_azp_is_fine_without_authorized_parties(
        self,
        settings: Settings,
        runtime: Runtime,
        jwks_file: Path,
        people: dict[str, User],
        rsa_key: rsa.RSAPrivateKey,
    ) -> None:
        token = make_token(rsa_key, "user_stu", azp=None)
        with _jwt_client(settings, runtime, jwks_file) as c:
            r = c.get("/v1/users/me/balance", headers=_bearer(token))
        assert r.status_code == 200, r.text

    def test_missing_azp_is_401_with_authorized_parties(
        self,
        app_client: TestClient,
        people: dict[str, User],
        rsa_key: rsa.RSAPrivateKey,
    ) -> None:
        r = app_client.get(
            "/v1/users/me/balance", headers=_bearer(make_token(rsa_key, "user_stu", azp=None))
        )
        assert r.status_code == 401, r.text
        assert "azp" in r.json()["detail"]

    @pytest.mark.parametrize("environment", ["development", "test", "production"])
    def test_jwks_without_issuer_is_refused_in_every_environment(
        self, jwks_file: Path, environment: str
    ) -> None:
        with pytest.raises(ValidationError, match="GIGSY_CLERK__ISSUER is required"):
            Settings(environment=environment, clerk=ClerkSettings(jwks_file=jwks_file))
        with pytest.raises(ValidationError, match="GIGSY_CLERK__ISSUER is required"):
            Settings(environment=environment, clerk={"jwks_url": "https://clerk.test/jwks"})

    def test_issuer_is_optional_without_jwks(self) -> None:
        assert not Settings(clerk=ClerkSettings()).clerk.jwt_on

    def test_verifier_refuses_an_empty_issuer(self, jwks_file: Path) -> None:
        with pytest.raises(ValueError, match="issuer"):
            ClerkJwtVerifier(jwks_file=jwks_file, issuer="")

    @pytest.mark.parametrize(
        ("value", "expected"),
        [("api.gigsy.test", "api.gigsy.test"), ('["a.test", "b.test"]', ["a.test", "b.test"])],
    )
    def test_audience_from_environment(
        self,
        monkeypatch: pytest.MonkeyPatch,
        jwks_file: Path,
        value: str,
        expected: str | list[str],
    ) -> None:
        monkeypatch.setenv("GIGSY_CLERK__JWKS_FILE", str(jwks_file))
        monkeypatch.setenv("GIGSY_CLERK__ISSUER", ISSUER)
        monkeypatch.setenv("GIGSY_CLERK__AUDIENCE", value)
        assert Settings().clerk.audience == expected


def _statements(rt: Runtime) -> Iterator[list[str]]:
    """The SQL statements ``rt``'s engine runs while the context is open."""
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(rt.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(rt.engine, "before_cursor_execute", count)


class TestApiKeys:
    @pytest.mark.parametrize("role", ["student", "employer"])
    def test_a_key_without_a_user_may_not_act_as_one(
        self, app_client: TestClient, runtime: Runtime, role: str
    ) -> None:
        """Routes that act as the caller's user (``CurrentUser``, ``CurrentStudent``)
        refuse a key made without one, with a 403 naming why."""
        with session_scope(runtime.engine) as session:
            _, key = create_api_key(session, role=role)
        for path in ("/v1/me/profile", "/v1/me/export", "/v1/me/gig-actions"):
            r = app_client.get(path, headers=_bearer(key))
            assert r.status_code == 403, (path, r.text)
        assert "belongs to no user" in app_client.get("/v1/me/export", headers=_bearer(key)).text

    def test_authentication_is_one_statement(
        self, settings: Settings, runtime: Runtime, people: dict[str, User]
    ) -> None:
        """The key and its user come back together: every request pays for it."""
        app = create_app(settings, runtime=runtime)

        def whoami(caller: CurrentStudent) -> dict[str, int | None]:
            return {"userId": caller.user_id}

        app.add_api_route("/v1/whoami", whoami, methods=["GET"])
        headers = _key_for(runtime, people["student"], "student")
        with TestClient(app) as client, contextmanager(_statements)(runtime) as seen:
            r = client.get("/v1/whoami", headers=headers)
        assert r.status_code == 200, r.text
        assert r.json() == {"userId": people["student"].id}
        assert len(seen) == 1, seen
        assert "api_keys" in seen[0] and "users" in seen[0]

    def test_key_acts_with_its_role_only(
        self, app_client: TestClient, runtime: Runtime, people: dict[str, User]
    ) -> None:
        # The admin's employer-role key may search but not administer.
        headers = _key_for(runtime, people["admin"], "employer")
        r = app_client.post(
            "/v1/admin/api-keys", json={"clerkId": "user_stu", "role": "student"}, headers=headers
        )
        assert r.status_code == 403, r.text

    def test_admin_creates_and_revokes_key_effective_at_once(
        self, app_client: TestClient, runtime: Runtime, people: dict[str, User]
    ) -> None:
        admin = _key_for(runtime, people["admin"], "admin")
        r = app_client.post(
            "/v1/admin/api-keys", json={"clerkId": "user_emp", "role": "employer"}, headers=admin
        )
        assert r.status_code == 201, r.text
        created = r.json()
        assert created["key"].startswith("gsk_") and created["clerkId"] == "user_emp"
        emp = _bearer(created["key"])
        me = app_client.get("/v1/users/by-clerk-id/user_emp", headers=emp)
        assert me.status_code == 200, me.text
        assert (
            app_client.delete(f"/v1/admin/api-keys/{created['id']}", headers=admin).status_code
            == 204
        )
        assert app_client.get("/v1/users/by-clerk-id/user_emp", headers=emp).status_code == 401
        assert (
            app_client.delete(f"/v1/admin/api-keys/{created['id']}", headers=admin).status_code
            == 404
        )

    def test_key_for_a_role_the_user_lacks_is_409(
        self, app_client: TestClient, runtime: Runtime, people: dict[str, User]
    ) -> None:
        admin = _key_for(runtime, people["admin"], "admin")
        r = app_client.post(
            "/v1/admin/api-keys", json={"clerkId": "user_stu", "role": "employer"}, headers=admin
        )
        assert r.status_code == 409, r.text
        r = app_client.post(
            "/v1/admin/api-keys", json={"clerkId": "nobody", "role": "student"}, headers=admin
        )
        assert r.status_code == 404, r.text


class TestUserLookup:
    def test_self_and_admin_may_read_others_may_not(
        self, app_client: TestClient, runtime: Runtime, people: dict[str, User]
    ) -> None:
        stu = _key_for(runtime, people["student"], "student")
        emp = _key_for(runtime, people["employer"], "employer")
        admin = _key_for(runtime, people["admin"], "admin")
        r = app_client.get("/v1/users/by-clerk-id/user_stu", headers=stu)
        assert r.status_code == 200, r.text
        assert r.json()["clerkId"] == "user_stu" and "balance" in r.json()
        assert app_client.get("/v1/users/by-clerk-id/user_stu", headers=emp).status_code == 404
        assert app_client.get("/v1/users/by-clerk-id/user_stu", headers=admin).status_code == 200
        assert app_client.get("/v1/users/by-clerk-id/nobody", headers=admin).status_code == 404

    def test_soft_deleted_user_shown_to_admin_with_deleted_at(
        self, app_client: TestClient, runtime: Runtime, people: dict[str, User]
    ) -> None:
        admin = _key_for(runtime, people["admin"], "admin")
        with session_scope(runtime.engine) as session:
            u = session.exec(select(User).where(User.clerk_id == "user_stu")).one()
            u.deleted_at = 123
        r = app_client.get("/v1/users/by-clerk-id/user_stu", headers=admin)
        assert r.status_code == 200, r.text
        assert r.json()["deletedAt"] == 123


class TestUserData:
    def test_crud_for_the_owner(
        self, app_client: TestClient, runtime: Runtime, people: dict[str, User]
    ) -> None:
        h = _key_for(runtime, people["student"], "student")
        assert (
            app_client.put("/v1/users/me/data/theme", json={"value": "dark"}, headers=h).status_code
            == 201
        )
        r = app_client.put("/v1/users/me/data/theme", json={"value": "light"}, headers=h)
        assert r.status_code == 200 and r.json()["value"] == "light"
        assert [d["key"] for d in app_client.get("/v1/users/me/data", headers=h).json()] == [
            "theme"
        ]
        assert app_client.delete("/v1/users/me/data/theme", headers=h).status_code == 204
        assert app_client.get("/v1/users/me/data/theme", headers=h).status_code == 404

    def test_data_is_per_user(
        self, app_client: TestClient, runtime: Runtime, people: dict[str, User]
    ) -> None:
        a = _key_for(runtime, people["student"], "student")
        b = _key_for(runtime, people["employer"], "employer")
        app_client.put("/v1/users/me/data/k", json={"value": "a"}, headers=a)
        assert app_client.get("/v1/users/me/data/k", headers=b).status_code == 404

    def test_bad_key_and_empty_value_are_422(
        self, app_client: TestClient, runtime: Runtime, people: dict[str, User]
    ) -> None:
        h = _key_for(runtime, people["student"], "student")
        assert (
            app_client.put("/v1/users/me/data/bad key!", json={"value": "x"}, headers=h).status_code
            == 422
        )
        assert (
            app_client.put("/v1/users/me/data/k", json={"value": ""}, headers=h).status_code == 422
        )


def _posting(clerk_id: str, amount: int, key: str, **kw: Any) -> Posting:
    return Posting(
        clerk_id=clerk_id, amount=amount, kind=LedgerKind.GIG_PAYMENT, idempotency_key=key, **kw
    )


class TestLedger:
    def test_posting_moves_cached_balance_and_is_idempotent(
        self, app_client: TestClient, runtime: Runtime, people: dict[str, User]
    ) -> None:
        admin = _key_for(runtime, people["admin"], "admin")
        body = {
            "clerkId": "user_stu",
            "amount": 2500,
            "kind": "gig_payment",
            "idempotencyKey": "gig-1",
        }
        first = app_client.post("/v1/admin/transactions", json=body, headers=admin)
        assert first.status_code == 201, first.text
        again = app_client.post("/v1/admin/transactions", json=body, headers=admin)
        assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
        clash = app_client.post("/v1/admin/transactions", json={**body, "amount": 1}, headers=admin)
        assert clash.status_code == 409, clash.text
        stu = _key_for(runtime, people["student"], "student")
        assert app_client.get("/v1/users/me/balance", headers=stu).json() == {
            "amount": 2500,
            "currency": "USD",
        }

    def test_concurrent_postings_lose_no_update_and_reconcile(
        self, runtime: Runtime, people: dict[str, User]
    ) -> None:
        def post(i: int) -> None:
            post_transaction(runtime.engine, _posting("user_stu", 100 + i, f"k{i}"))

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(post, range(40)))
        with session_scope(runtime.engine) as session:
            u = session.exec(select(User).where(User.clerk_id == "user_stu")).one()
        assert u.balance_amount == sum(100 + i for i in range(40))
        report = reconcile_balances(runtime.engine)
        assert report.drifts == [] and report.checked == 3

    def test_reconciliation_reports_drift(self, runtime: Runtime, people: dict[str, User]) -> None:
        post_transaction(runtime.engine, _posting("user_stu", 500, "a"))
        with session_scope(runtime.engine) as session:
            u = session.exec(select(User).where(User.clerk_id == "user_stu")).one()
            u.balance_amount = 999  # someone wrote the cache without the ledger
        report = reconcile_balances(runtime.engine)
        assert [(d.clerk_id, d.cached, d.ledger) for d in report.drifts] == [("user_stu", 999, 500)]

    def test_unknown_user_and_wrong_currency(
        self, runtime: Runtime, people: dict[str, User]
    ) -> None:
        from search_service.errors import ConflictError, NotFoundError

        with pytest.raises(NotFoundError):
            post_transaction(runtime.engine, _posting("nobody", 1, "x"))
        with pytest.raises(ConflictError):
            post_transaction(runtime.engine, _posting("user_stu", 1, "y", currency="EUR"))


def test_cli_key_for_user_and_service_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from search_service.cli import app
    from search_service.settings import get_settings

    monkeypatch.chdir(tmp_path)
    for name in ("DATABASE_URL", "QDRANT_URL", "EMBEDDING_MODEL"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        svc = runner.invoke(app, ["create-api-key", "--role", "employer"])
        assert svc.exit_code == 0, svc.output
        assert " for svc_" in svc.output
        missing = runner.invoke(app, ["create-api-key", "--user", "user_nobody"])
        assert missing.exit_code == 2 and "no user" in missing.output  # a usage error
        rec = runner.invoke(app, ["reconcile-balances"])
        assert rec.exit_code == 0 and "0 drifted" in rec.output
    finally:
        get_settings.cache_clear()


def test_jwks_url_is_fetched_and_used(jwks_file: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    """The JWKS URL path, against a loopback HTTP server serving the key set."""
    import threading
    from functools import partial
    from http.server import HTTPServer, SimpleHTTPRequestHandler

    from search_service.auth import ClerkJwtVerifier, InvalidTokenError

    handler = partial(SimpleHTTPRequestHandler, directory=str(jwks_file.parent))
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/{jwks_file.name}"
        verifier = ClerkJwtVerifier(jwks_url=url, issuer=ISSUER, authorized_parties=[AZP])
        assert verifier.verify(make_token(rsa_key, "user_x"))["sub"] == "user_x"
        with pytest.raises(InvalidTokenError):
            verifier.verify(make_token(rsa_key, "user_x", kid="nope"))
    finally:
        server.shutdown()
        server.server_close()
