"""``POST /webhooks/clerk``: signatures, idempotency, ordering, tombstones, mapping.

Payloads are Clerk's own examples from ``../shared/fixtures/clerk`` where the test
is about them (skipped with a reason when absent), and small built events elsewhere;
every delivery is signed here with a generated secret.
"""

from __future__ import annotations

import base64
import copy
import json
import logging
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError
from sqlmodel import func, select
from svix.webhooks import Webhook

from models import User, UserTombstone, WebhookAudit
from search_service.app import create_app
from search_service.db import session_scope
from search_service.privacy.service import purge_expired
from search_service.refresh.freshness import refresh_stale
from search_service.refresh.writer import reindex
from search_service.runtime import PROFILES, Runtime
from search_service.settings import ClerkSettings, Settings
from search_service.users.api_keys import create_api_key
from search_service.users.clerk import map_clerk_user
from tests.factories import make_student

FIXTURES = Path(__file__).resolve().parents[4] / "shared" / "fixtures" / "clerk"
URL = "/webhooks/clerk"


def _secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


@pytest.fixture
def secret() -> str:
    return _secret()


@pytest.fixture
def hook_settings(settings: Settings, secret: str) -> Settings:
    return settings.model_copy(update={"clerk": ClerkSettings(webhook_secret=SecretStr(secret))})


@pytest.fixture
def hook_client(hook_settings: Settings, runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(hook_settings, runtime=runtime)) as c:
        yield c


def _headers(
    secret: str, body: str, *, msg_id: str | None = None, at: datetime | None = None
) -> dict[str, str]:
    msg_id = msg_id or f"msg_{secrets.token_hex(8)}"
    at = at or datetime.now(tz=UTC)
    return {
        "svix-id": msg_id,
        "svix-timestamp": str(int(at.timestamp())),
        "svix-signature": Webhook(secret).sign(msg_id, at, body),
        "content-type": "application/json",
    }


def _deliver(
    client: TestClient, secret: str, event: dict[str, Any], *, msg_id: str | None = None
) -> dict[str, Any]:
    body = json.dumps(event)
    r = client.post(URL, content=body, headers=_headers(secret, body, msg_id=msg_id))
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def user_event(
    kind: str = "user.created",
    *,
    clerk_id: str = "user_abc",
    updated_at: int = 1_700_000_000_000,
    email: str | None = "ada@example.org",
    first_name: str | None = "Ada",
    last_name: str | None = "Lovelace",
    public_metadata: dict[str, Any] | None = None,
    timestamp: int | None = None,
    banned: bool | None = None,
    locked: bool | None = None,
) -> dict[str, Any]:
    """A minimal Clerk user event; ``banned``/``locked`` are left out when ``None``."""
    emails = [{"id": "idn_1", "email_address": email}] if email else []
    flags = {k: v for k, v in (("banned", banned), ("locked", locked)) if v is not None}
    return {
        "type": kind,
        "object": "event",
        "timestamp": timestamp if timestamp is not None else updated_at,
        "data": {
            "id": clerk_id,
            "object": "user",
            "email_addresses": emails,
            "primary_email_address_id": "idn_1" if email else None,
            "first_name": first_name,
            "last_name": last_name,
            "username": None,
            "image_url": "https://img.example/a.png",
            "public_metadata": public_metadata,
            "private_metadata": None,
            "unsafe_metadata": None,
            "last_sign_in_at": None,
            "updated_at": updated_at,
            "some_future_field": {"x": 1},
            **flags,
        },
    }


def deleted_event(clerk_id: str = "user_abc") -> dict[str, Any]:
    return {
        "type": "user.deleted",
        "object": "event",
        "timestamp": 1_700_000_000,
        "data": {"deleted": True, "id": clerk_id, "object": "user"},
    }


def _user(rt: Runtime, clerk_id: str) -> User | None:
    with session_scope(rt.engine) as session:
        return session.exec(select(User).where(User.clerk_id == clerk_id)).first()


def _audits(rt: Runtime) -> list[WebhookAudit]:
    with session_scope(rt.engine) as session:
        return list(session.exec(select(WebhookAudit).order_by(WebhookAudit.id)))  # type: ignore[arg-type]


def _fixture(name: str) -> dict[str, Any]:
    path = FIXTURES / name
    if not path.is_file():
        pytest.skip(f"Clerk example payloads not found at {FIXTURES} (needs ../shared)")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


class TestSignature:
    def test_bad_signature_is_400(self, hook_client: TestClient, secret: str) -> None:
        body = json.dumps(user_event())
        headers = _headers(_secret(), body)  # signed with another secret
        r = hook_client.post(URL, content=body, headers=headers)
        assert r.status_code == 400, r.text
        assert r.json()["error"] == "bad_signature"

    def test_tampered_body_is_400(self, hook_client: TestClient, secret: str) -> None:
        body = json.dumps(user_event())
        headers = _headers(secret, body)
        r = hook_client.post(URL, content=body.replace("Ada", "Eve"), headers=headers)
        assert r.status_code == 400, r.text

    def test_expired_timestamp_is_400(self, hook_client: TestClient, secret: str) -> None:
        body = json.dumps(user_event())
        old = datetime.now(tz=UTC) - timedelta(minutes=6)
        r = hook_client.post(URL, content=body, headers=_headers(secret, body, at=old))
        assert r.status_code == 400, r.text

    def test_missing_headers_are_400(self, hook_client: TestClient) -> None:
        r = hook_client.post(URL, content=b"{}", headers={"content-type": "application/json"})
        assert r.status_code == 400, r.text
        assert set(r.json()) == {"error", "detail"}

    def test_rotated_secret_any_signature_may_match(
        self, hook_client: TestClient, secret: str, runtime: Runtime
    ) -> None:
        body = json.dumps(user_event())
        headers = _headers(secret, body)
        old = _headers(_secret(), body, msg_id=headers["svix-id"])
        # During rotation Svix sends a signature per secret, space-separated.
        headers["svix-signature"] = f"{old['svix-signature']} {headers['svix-signature']}"
        r = hook_client.post(URL, content=body, headers=headers)
        assert r.status_code == 200, r.text
        assert _user(runtime, "user_abc") is not None

    def test_non_json_body_after_valid_signature_is_400(
        self, hook_client: TestClient, secret: str
    ) -> None:
        body = "not json"
        r = hook_client.post(URL, content=body, headers=_headers(secret, body))
        assert r.status_code == 400, r.text


class TestStartup:
    def test_enabled_without_secret_refuses_to_start(self) -> None:
        with pytest.raises(ValidationError, match="WEBHOOK_SECRET"):
            Settings(clerk=ClerkSettings(webhook_enabled=True))

    def test_placeholder_secret_refused_outside_development(self) -> None:
        with pytest.raises(ValidationError, match="placeholder"):
            Settings(
                environment="production",
                clerk=ClerkSettings(webhook_secret=SecretStr("changeme")),
            )

    def test_route_absent_without_secret(self, client: TestClient) -> None:
        assert client.post(URL, content=b"{}").status_code == 404


class TestIdempotencyAndOrder:
    def test_redelivery_has_no_second_effect(
        self, hook_client: TestClient, secret: str, runtime: Runtime
    ) -> None:
        first = _deliver(hook_client, secret, user_event(), msg_id="msg_1")
        again = _deliver(hook_client, secret, user_event(first_name="Changed"), msg_id="msg_1")
        assert first["outcome"] == "applied" and again["duplicate"] is True
        user = _user(runtime, "user_abc")
        assert user is not None and user.first_name == "Ada"
        assert len(_audits(runtime)) == 1

    def test_created_twice_with_new_ids_is_idempotent(
        self, hook_client: TestClient, secret: str, runtime: Runtime
    ) -> None:
        _deliver(hook_client, secret, user_event())
        _deliver(hook_client, secret, user_event())
        with session_scope(runtime.engine) as session:
            assert session.exec(select(func.count()).select_from(User)).one() == 1

    def test_update_creates_missing_user(
        self, hook_client: TestClient, secret: str, runtime: Runtime
    ) -> None:
        _deliver(hook_client, secret, user_event("user.updated"))
        assert _user(runtime, "user_abc") is not None

    def test_older_event_never_overwrites_newer(
        self, hook_client: TestClient, secret: str, runtime: Runtime
    ) -> None:
        _deliver(
            hook_client, secret, user_event("user.updated", first_name="Newer", updated_at=2_000)
        )
        late = _deliver(
            hook_client, secret, user_event("user.created", first_name="Older", updated_at=1_000)
        )
        assert late["outcome"] == "stale"
        user = _user(runtime, "user_abc")
        assert user is not None and user.first_name == "Newer"

    def test_delete_tombstones_and_late_update_does_not_resurrect(
        self, hook_client: TestClient, secret: str, runtime: Runtime
    ) -> None:
        _deliver(hook_client, secret, user_event())
        assert _deliver(hook_client, secret, deleted_event())["outcome"] == "applied"
        late = _deliver(
            hook_client, secret, user_event("user.updated", updated_at=9_999_999_999_999)
        )
        assert late["outcome"] == "tombstoned"
        user = _user(runtime, "user_abc")
        assert user is not None and user.deleted_at is not None
        with session_scope(runtime.engine) as session:
            assert session.get(UserTombstone, "user_abc") is not None

    def test_delete_before_create_still_wins(
        self, hook_client: TestClient, secret: str, runtime: Runtime
    ) -> None:
        _deliver(hook_client, secret, deleted_event())
        assert _deliver(hook_client, secret, user_event())["outcome"] == "tombstoned"
        assert _user(runtime, "user_abc") is None

    def test_delete_removes_from_index_at_once(
        self, hook_client: TestClient, secret: str, runtime: Runtime
    ) -> None:
        make_student(runtime, clerk_id="user_abc", headline="Data analyst")
        reindex(runtime, progress=False)
        assert runtime.index(PROFILES).store.count() == 1
        _deliver(hook_client, secret, deleted_event())
        assert runtime.index(PROFILES).store.count() == 0

    def test_fifty_concurrent_deliveries_of_one_event(
        self, hook_client: TestClient, secret: str, runtime: Runtime
    ) -> None:
        body = json.dumps(user_event())
        headers = _headers(secret, body, msg_id="msg_same")

        def post(_: int) -> int:
            return hook_client.post(URL, content=body, headers=headers).status_code

        with ThreadPoolExecutor(max_workers=16) as pool:
            codes = list(pool.map(post, range(50)))
        assert codes == [200] * 50
        with session_scope(runtime.engine) as session:
            assert session.exec(select(func.count()).select_from(User)).one() == 1
        assert len(_audits(runtime)) == 1

    def test_concurrent_distinct_events_for_one_new_user(
        self, hook_client: TestClient, secret: str, runtime: Runtime
    ) -> None:
        events = [user_event("user.updated", updated_at=1_000 + i) for i in range(20)]

        def post(ev: dict[str, Any]) -> int:
            body = json.dumps(ev)
            return hook_client.post(URL, content=body, headers=_headers(secret, body)).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            codes = list(pool.map(post, events))
        assert codes == [200] * 20
        user = _user(runtime, "user_abc")
        assert user is not None and user.clerk_updated_at == 1_019


class TestMapping:
    def test_clerk_example_payload(
        self, hook_client: TestClient, secret: str, runtime: Runtime
    ) -> None:
        _deliver(hook_client, secret, _fixture("user.created.json"))
        user = _user(runtime, "user_29w83sxmDNGwOuEthce5gg56FcC")
        assert user is not None
        assert user.email == "example@example.org"
        assert (user.first_name, user.last_name, user.name) == (
            "Example",
            "Example",
            "Example Example",
        )
        assert user.external_id == "567772"
        assert user.roles == ["student"]
        assert user.last_sign_in_at == 1654012591514
        assert user.clerk_updated_at == 1654012591835

    def test_docs_example_and_fixture_sequence(
        self, hook_client: TestClient, secret: str, runtime: Runtime
    ) -> None:
        _deliver(hook_client, secret, _fixture("user.created.docs-example.json"))
        _deliver(hook_client, secret, _fixture("user.updated.json"))
        user = _user(runtime, "user_29w83sxmDNGwOuEthce5gg56FcC")
        assert user is not None and user.last_name is None and user.name == "Example"
        deleted = _fixture("user.deleted.json")
        deleted["data"]["id"] = "user_29w83sxmDNGwOuEthce5gg56FcC"
        _deliver(hook_client, secret, deleted)
        user = _user(runtime, "user_29w83sxmDNGwOuEthce5gg56FcC")
        assert user is not None and user.deleted_at is not None

    def test_roles_from_public_metadata(
        self, hook_client: TestClient, secret: str, runtime: Runtime
    ) -> None:
        _deliver(
            hook_client,
            secret,
            user_event(public_metadata={"roles": ["employer", "admin", "pirate"]}),
        )
        user = _user(runtime, "user_abc")
        assert user is not None and user.roles == ["employer", "admin"]
        error = _audits(runtime)[0].error or ""
        assert "public_metadata.roles" in error and "pirate" not in error

    def test_nulls_and_empty_emails_are_tolerated(
        self, hook_client: TestClient, secret: str, runtime: Runtime
    ) -> None:
        event = user_event(email=None, first_name=None, last_name=None)
        event["data"]["email_addresses"] = []
        event["data"]["username"] = "ada99"
        assert _deliver(hook_client, secret, event)["outcome"] == "applied"
        user = _user(runtime, "user_abc")
        assert user is not None and user.email is None and user.name == "ada99"

    def test_invalid_fields_are_audited_and_the_rest_applied(
        self, hook_client: TestClient, secret: str, runtime: Runtime
    ) -> None:
        _deliver(hook_client, secret, user_event(email="not-an-email", first_name="A"))
        user = _user(runtime, "user_abc")
        assert user is not None
        assert user.email is None and user.first_name is None and user.last_name == "Lovelace"
        error = _audits(runtime)[0].error or ""
        assert "email rejected" in error and "first_name rejected" in error
        assert "not-an-email" not in error  # field names, never values

    @pytest.mark.parametrize("timestamp", [1_700_000_000, 1_700_000_000_000])
    def test_envelope_timestamp_seconds_or_ms(
        self, hook_client: TestClient, secret: str, runtime: Runtime, timestamp: int
    ) -> None:
        event = user_event()
        del event["data"]["updated_at"]
        event["timestamp"] = timestamp
        _deliver(hook_client, secret, event)
        user = _user(runtime, "user_abc")
        assert user is not None and user.clerk_updated_at == 1_700_000_000_000

    def test_email_taken_by_another_user_is_not_applied(
        self, hook_client: TestClient, secret: str, runtime: Runtime
    ) -> None:
        _deliver(hook_client, secret, user_event(clerk_id="user_one"))
        _deliver(hook_client, secret, user_event(clerk_id="user_two"))
        two = _user(runtime, "user_two")
        assert two is not None and two.email is None
        assert "another user" in (_audits(runtime)[1].error or "")

    def test_rejected_email_is_named_not_stored_or_logged(
        self,
        hook_client: TestClient,
        secret: str,
        runtime: Runtime,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        email = "grace.hopper@example.org"
        _deliver(hook_client, secret, user_event(clerk_id="user_one", email=email))
        with caplog.at_level(logging.DEBUG):
            _deliver(
                hook_client,
                secret,
                user_event(clerk_id="user_two", email=email, first_name="G", last_name="Hopper"),
            )
        error = _audits(runtime)[1].error or ""
        assert error == (
            "first_name rejected: shorter than 2 characters; email rejected: owned by another user"
        )
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert warnings and "email rejected: owned by another user" in warnings[0]
        assert caplog.records and "grace" not in caplog.text.lower()

    def test_unknown_event_type_is_ignored_but_audited(
        self, hook_client: TestClient, secret: str, runtime: Runtime
    ) -> None:
        event = copy.deepcopy(user_event())
        event["type"] = "session.created"
        assert _deliver(hook_client, secret, event)["outcome"] == "ignored"
        assert _user(runtime, "user_abc") is None


def _status(rt: Runtime, clerk_id: str = "user_abc") -> str:
    user = _user(rt, clerk_id)
    assert user is not None
    return user.status


def _api_key(rt: Runtime, clerk_id: str = "user_abc") -> dict[str, str]:
    user = _user(rt, clerk_id)
    assert user is not None
    with session_scope(rt.engine) as session:
        _, key = create_api_key(session, role="student", user_id=user.id)
    return {"Authorization": f"Bearer {key}"}


class TestBanAndLock:
    """Clerk's ``banned``/``locked`` suspend the user; lifting both reactivates."""

    @pytest.mark.parametrize(
        ("banned", "locked", "status"),
        [
            (True, False, "suspended"),
            (False, True, "suspended"),
            (True, True, "suspended"),
            (False, False, "active"),
            (None, None, None),
        ],
    )
    def test_mapping(self, banned: bool | None, locked: bool | None, status: str | None) -> None:
        data = user_event(banned=banned, locked=locked)["data"]
        assert map_clerk_user(data).values.get("status") == status

    @pytest.mark.parametrize("flag", ["banned", "locked"])
    def test_suspends_and_lifting_reactivates_credentials(
        self, hook_client: TestClient, secret: str, runtime: Runtime, flag: str
    ) -> None:
        _deliver(hook_client, secret, user_event(banned=False, locked=False, updated_at=1_000))
        key = _api_key(runtime)
        assert hook_client.get("/v1/users/me/balance", headers=key).status_code == 200
        banned = user_event(
            "user.updated", updated_at=2_000, banned=flag == "banned", locked=flag == "locked"
        )
        out = _deliver(hook_client, secret, banned)
        assert out["outcome"] == "applied" and _status(runtime) == "suspended"
        r = hook_client.get("/v1/users/me/balance", headers=key)
        assert r.status_code == 401, r.text
        assert r.json()["error"] == "unauthorized"
        lifted = user_event("user.updated", updated_at=3_000, banned=False, locked=False)
        _deliver(hook_client, secret, lifted)
        assert _status(runtime) == "active"
        assert hook_client.get("/v1/users/me/balance", headers=key).status_code == 200

    def test_a_ban_takes_the_profile_out_of_search_before_the_answer(
        self,
        hook_client: TestClient,
        secret: str,
        runtime: Runtime,
        employer_headers: dict[str, str],
    ) -> None:
        student = make_student(runtime, clerk_id="user_abc", headline="unicyclist")
        refresh_stale(runtime)
        assert student.id is not None

        def found() -> bool:
            r = hook_client.post(
                "/v1/search",
                json={"query": "unicyclist", "mode": "keyword"},
                headers=employer_headers,
            )
            assert r.status_code == 200, r.text
            return [h["userId"] for h in r.json()["results"]] == [student.id]

        assert found()
        _deliver(hook_client, secret, user_event("user.updated", updated_at=2_000, banned=True))
        assert not found()  # no refresh ran: the delivery itself removed the point
        assert runtime.index(PROFILES).store.payloads([student.id]) == {}
        lifted = user_event("user.updated", updated_at=3_000, banned=False, locked=False)
        _deliver(hook_client, secret, lifted)
        refresh_stale(runtime)  # coming back is an addition: asynchronous
        assert found()

    def test_created_banned_starts_suspended(
        self, hook_client: TestClient, secret: str, runtime: Runtime
    ) -> None:
        _deliver(hook_client, secret, user_event(banned=True, locked=False))
        assert _status(runtime) == "suspended"

    def test_an_older_unban_does_not_lift_a_newer_ban(
        self, hook_client: TestClient, secret: str, runtime: Runtime
    ) -> None:
        _deliver(hook_client, secret, user_event("user.updated", updated_at=2_000, banned=True))
        late = _deliver(
            hook_client, secret, user_event(updated_at=1_000, banned=False, locked=False)
        )
        assert late["outcome"] == "stale" and _status(runtime) == "suspended"

    def test_a_payload_without_the_flags_keeps_the_status(
        self, hook_client: TestClient, secret: str, runtime: Runtime
    ) -> None:
        _deliver(hook_client, secret, user_event(updated_at=1_000, banned=True))
        _deliver(hook_client, secret, user_event("user.updated", updated_at=2_000, first_name="Bo"))
        user = _user(runtime, "user_abc")
        assert user is not None and user.first_name == "Bo" and user.status == "suspended"

    def test_a_ban_after_delete_is_tombstoned(
        self, hook_client: TestClient, secret: str, runtime: Runtime
    ) -> None:
        _deliver(hook_client, secret, user_event(updated_at=1_000))
        _deliver(hook_client, secret, deleted_event())
        late = user_event("user.updated", updated_at=2_000, banned=True)
        assert _deliver(hook_client, secret, late)["outcome"] == "tombstoned"
        user = _user(runtime, "user_abc")
        assert user is not None and user.deleted_at is not None and user.status == "active"


def test_database_failure_is_5xx_so_svix_retries(
    hook_client: TestClient, secret: str, runtime: Runtime
) -> None:
    runtime.engine.dispose()
    with session_scope(runtime.engine) as session:
        session.exec(select(WebhookAudit)).all()
    from sqlalchemy import text

    with runtime.engine.begin() as conn:
        conn.execute(text("DROP TABLE webhook_audit"))
    body = json.dumps(user_event())
    r = hook_client.post(URL, content=body, headers=_headers(secret, body))
    # Any 5xx makes Svix retry. A dropped table is an OperationalError on SQLite (503)
    # and a ProgrammingError on PostgreSQL (500): search_service/errors.py.
    assert r.status_code in (500, 503), r.text
    assert r.json()["error"] in ("engine_unavailable", "internal_error")


def test_tombstone_repairs_a_user_that_raced_its_delete(
    hook_client: TestClient, secret: str, runtime: Runtime
) -> None:
    """A user alive despite a tombstone (a create that raced the delete) is deleted
    by the next event for it."""
    _deliver(hook_client, secret, user_event())
    with session_scope(runtime.engine) as session:
        session.add(UserTombstone(clerk_id="user_abc"))
    out = _deliver(hook_client, secret, user_event("user.updated", updated_at=1_800_000_000_000))
    assert out["outcome"] == "tombstoned"
    user = _user(runtime, "user_abc")
    assert user is not None and user.deleted_at is not None


def test_late_event_never_revives_a_purged_user(
    hook_client: TestClient, secret: str, runtime: Runtime
) -> None:
    _deliver(hook_client, secret, user_event())
    _deliver(hook_client, secret, deleted_event())
    before = _user(runtime, "user_abc")
    assert before is not None and before.deleted_at is not None
    assert purge_expired(runtime.engine, retention_days=0, now=before.deleted_at + 1) == 1
    assert _user(runtime, "user_abc") is None  # the husk is renamed purged:<id>
    for kind in ("user.updated", "user.created"):
        late = _deliver(hook_client, secret, user_event(kind, updated_at=9_999_999_999_999))
        assert late["outcome"] == "tombstoned"
    assert _user(runtime, "user_abc") is None
    with session_scope(runtime.engine) as session:
        assert session.exec(select(func.count()).select_from(User)).one() == 1
        husk = session.get(User, before.id)
        assert husk is not None and husk.purged_at is not None and husk.email is None
