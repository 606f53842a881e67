"""Privacy: private sections never searchable or shown; public/employer views; GDPR."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, MetaData, update
from sqlmodel import col, select

from models import (
    ApiKey,
    Gig,
    Interaction,
    LedgerKind,
    OutboxEvent,
    Posting,
    Profile,
    Skill,
    Transaction,
    User,
    UserTombstone,
    WebhookAudit,
)
from search_service.db import session_scope
from search_service.outbox import mark_failed
from search_service.privacy.service import purge_expired
from search_service.refresh.freshness import refresh_stale
from search_service.runtime import PROFILES, Runtime
from search_service.users.api_keys import create_api_key
from search_service.users.ledger import post_transaction
from search_service.users.webhooks import process_clerk_delivery
from tests.search_service.profile_helpers import new_user_with_key, student_with_key

MERGE = {"Content-Type": "application/merge-patch+json"}
SECRET = "xylophonist"  # a word no other profile has

PROFILE: dict[str, Any] = {
    "headline": "Barista and student",
    "bio": "Friendly, reliable, early riser.",
    "education": {"visibility": "public", "items": [{"school": "Open University"}]},
    "workExperience": {"items": [{"title": "Barista", "description": "Espresso, latte art"}]},
    "projects": {
        "visibility": "private",
        "items": [{"title": "Side band", "description": f"I am a {SECRET} on weekends"}],
    },
    "skills": {"visibility": "private", "items": [{"name": SECRET}]},
    "languages": {"items": [{"name": "English"}]},
}


def _search(
    client: TestClient, headers: dict[str, str], query: str, mode: str, **filters: Any
) -> list[dict[str, Any]]:
    r = client.post(
        "/v1/search",
        json={"query": query, "mode": mode, "limit": 50, "filters": filters},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    results: list[dict[str, Any]] = r.json()["results"]
    return results


def _scores(
    client: TestClient, headers: dict[str, str], query: str
) -> dict[str, list[tuple[int, float]]]:
    return {
        mode: [(h["userId"], round(h["score"], 6)) for h in _search(client, headers, query, mode)]
        for mode in ("keyword", "semantic", "hybrid")
    }


def test_a_word_only_in_private_sections_is_unfindable_and_never_ranks(
    client: TestClient, runtime: Runtime, employer_headers: dict[str, str]
) -> None:
    owner = new_user_with_key(runtime, "p_owner")
    others = [
        student_with_key(runtime, f"p_other{i}", headline=h)
        for i, h in enumerate(["music teacher", "drummer in a band", "barista"])
    ]
    assert others
    assert client.put("/v1/me/profile", json=PROFILE, headers=owner.headers).status_code == 200
    refresh_stale(runtime)
    # keyword: no hit at all; filters on the private skill: nothing.
    assert _search(client, employer_headers, SECRET, "keyword") == []
    assert _search(client, employer_headers, "", "hybrid", skills=[SECRET]) == []
    for mode in ("semantic", "hybrid"):
        for hit in _search(client, employer_headers, SECRET, mode):
            assert hit["explanation"]["matchedTerms"] == []
            assert SECRET not in hit["topSkills"]
    with_private = _scores(client, employer_headers, SECRET + " band")
    # Remove the private sections entirely: every ranking and score is identical,
    # so they never influenced ranking.
    r = client.patch(
        "/v1/me/profile",
        json={"projects": None, "skills": None},
        headers={**owner.headers, **MERGE},
    )
    assert r.status_code == 200
    refresh_stale(runtime)
    assert _scores(client, employer_headers, SECRET + " band") == with_private


def test_making_a_section_private_removes_it_from_search(
    client: TestClient, runtime: Runtime, employer_headers: dict[str, str]
) -> None:
    owner = new_user_with_key(runtime, "p_toggle")
    body = {**PROFILE, "projects": {**PROFILE["projects"], "visibility": "employers"}}
    client.put("/v1/me/profile", json=body, headers=owner.headers)
    refresh_stale(runtime)
    assert [h["userId"] for h in _search(client, employer_headers, SECRET, "keyword")] == [owner.id]
    client.patch(
        "/v1/me/profile",
        json={"projects": {"visibility": "private"}},
        headers={**owner.headers, **MERGE},
    )
    refresh_stale(runtime)
    assert _search(client, employer_headers, SECRET, "keyword") == []


def test_public_view_shows_only_public_sections_to_anyone(
    client: TestClient, runtime: Runtime
) -> None:
    owner = new_user_with_key(runtime, "p_public")
    client.put("/v1/me/profile", json=PROFILE, headers=owner.headers)
    r = client.get(f"/v1/profiles/{owner.id}/public")  # no credentials
    assert r.status_code == 200
    body = r.json()
    assert body["displayName"] == "Ada L."
    assert body["headline"] == PROFILE["headline"]
    assert body["education"]["items"] == [
        {
            "school": "Open University",
            "degree": None,
            "fieldOfStudy": None,
            "startYear": None,
            "endYear": None,
        }
    ]
    for hidden in ("workExperience", "projects", "skills", "languages", "bio", "location"):
        assert body[hidden] is None, hidden
    assert SECRET not in r.text


def test_public_view_is_404_until_something_is_public(client: TestClient, runtime: Runtime) -> None:
    owner = new_user_with_key(runtime, "p_nothing")
    client.put(
        "/v1/me/profile",
        json={**PROFILE, "education": {"items": [{"school": "X"}]}},
        headers=owner.headers,
    )
    assert client.get(f"/v1/profiles/{owner.id}/public").status_code == 404
    assert client.get("/v1/profiles/999999/public").status_code == 404


def test_employer_view_never_includes_private_sections(
    client: TestClient, runtime: Runtime, employer_headers: dict[str, str]
) -> None:
    owner = new_user_with_key(runtime, "p_emp")
    client.put("/v1/me/profile", json=PROFILE, headers=owner.headers)
    r = client.get(f"/v1/profiles/{owner.id}", headers=employer_headers)
    assert r.status_code == 200
    body = r.json()
    assert body["workExperience"]["items"][0]["title"] == "Barista"
    assert body["bio"] == PROFILE["bio"]
    assert body["projects"] is None and body["skills"] is None
    assert SECRET not in r.text
    other = new_user_with_key(runtime, "p_snoop")
    assert client.get(f"/v1/profiles/{owner.id}", headers=other.headers).status_code == 403
    assert client.get(f"/v1/profiles/{owner.id}").status_code == 401


def test_export_contains_everything_about_the_caller_and_no_secrets(
    client: TestClient, runtime: Runtime
) -> None:
    owner = new_user_with_key(runtime, "p_export")
    client.put("/v1/me/profile", json=PROFILE, headers=owner.headers)
    client.put("/v1/users/me/data/theme", json={"value": "dark"}, headers=owner.headers)
    r = client.get("/v1/me/export", headers=owner.headers)
    assert r.status_code == 200
    assert "attachment" in r.headers["content-disposition"]
    body = r.json()
    assert body["user"]["clerkId"] == "p_export"
    assert body["profile"]["projects"]["items"][0]["description"].endswith("weekends")
    assert body["portfolioSnapshot"]["skills"]["items"][0]["name"] == SECRET
    assert [d["key"] for d in body["data"]] == ["theme"]
    assert len(body["apiKeys"]) == 1 and "key_hash" not in body["apiKeys"][0]
    assert [e["topic"] for e in body["outboxEvents"]] == ["profile.updated"]
    assert client.get("/v1/me/export").status_code == 401


def test_delete_me_soft_deletes_at_once_and_leaves_search(
    client: TestClient, runtime: Runtime, employer_headers: dict[str, str]
) -> None:
    owner = new_user_with_key(runtime, "p_delete")
    client.put(
        "/v1/me/profile",
        json={"headline": "Quidditch coach", "skills": {"items": [{"name": "coaching"}]}},
        headers=owner.headers,
    )
    refresh_stale(runtime)
    assert runtime.index(PROFILES).store.count() == 1
    assert client.delete("/v1/me", headers=owner.headers).status_code == 204
    assert runtime.index(PROFILES).store.count() == 0  # removed at once, not at the next refresh
    assert _search(client, employer_headers, "quidditch", "keyword") == []
    assert client.get("/v1/me/profile", headers=owner.headers).status_code == 401
    assert client.get(f"/v1/profiles/{owner.id}", headers=employer_headers).status_code == 404
    with session_scope(runtime.engine) as session:
        user = session.get(User, owner.id)
        assert user is not None and user.deleted_at is not None
        assert session.get(UserTombstone, "p_delete") is not None
        keys = session.exec(select(ApiKey).where(ApiKey.user_id == owner.id)).all()
        assert all(k.revoked_at is not None for k in keys)
    assert refresh_stale(runtime).indexed == 0  # nothing brings it back


def test_retention_purge_erases_personal_fields_after_the_period(
    client: TestClient, runtime: Runtime
) -> None:
    gone = new_user_with_key(runtime, "p_gone")
    recent = new_user_with_key(runtime, "p_recent")
    for u in (gone, recent):
        client.put("/v1/me/profile", json=PROFILE, headers=u.headers)
        client.put("/v1/users/me/data/k", json={"value": "v"}, headers=u.headers)
        assert client.delete("/v1/me", headers=u.headers).status_code == 204
    with session_scope(runtime.engine) as session:
        session.execute(update(User).where(col(User.id) == gone.id).values(deleted_at=1_000_000))
    assert purge_expired(runtime.engine, retention_days=30) == 1
    assert purge_expired(runtime.engine, retention_days=30) == 0  # idempotent
    with session_scope(runtime.engine) as session:
        purged = session.get(User, gone.id)
        kept = session.get(User, recent.id)
        assert purged is not None and kept is not None
        assert purged.purged_at is not None and purged.clerk_id == f"purged:{gone.id}"
        assert (purged.email, purged.first_name, purged.portfolio, purged.name) == (
            None,
            None,
            None,
            "",
        )
        assert session.get(Profile, gone.id) is None
        assert session.exec(select(Skill).where(Skill.user_id == gone.id)).all() == []
        assert kept.purged_at is None and kept.first_name == "Ada"
        assert session.get(Profile, recent.id) is not None


@pytest.mark.parametrize("visibility", ["employers", "public"])
def test_search_hits_show_skills_only_when_not_private(
    client: TestClient, runtime: Runtime, employer_headers: dict[str, str], visibility: str
) -> None:
    owner = new_user_with_key(runtime, f"p_hit_{visibility}")
    client.put(
        "/v1/me/profile",
        json={
            "headline": "Tuba player",
            "skills": {"visibility": visibility, "items": [{"name": "tuba"}]},
        },
        headers=owner.headers,
    )
    refresh_stale(runtime)
    hits = _search(client, employer_headers, "tuba", "hybrid")
    assert hits[0]["topSkills"] == ["tuba"]


def _clerk_event(
    kind: str,
    clerk_id: str,
    *,
    updated_at: int,
    email: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    username: str | None = None,
    private_metadata: dict[str, Any] | None = None,
    roles: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "type": kind,
        "data": {
            "id": clerk_id,
            "email_addresses": [{"id": "idn_1", "email_address": email}] if email else [],
            "primary_email_address_id": "idn_1" if email else None,
            "first_name": first_name,
            "last_name": last_name,
            "username": username,
            "private_metadata": private_metadata,
            "public_metadata": {"roles": roles} if roles else None,
            "updated_at": updated_at,
        },
    }


def test_export_leaves_out_clerk_private_metadata(client: TestClient, runtime: Runtime) -> None:
    event = _clerk_event(
        "user.created",
        "user_meta",
        updated_at=1_700_000_000_000,
        email="meta@example.org",
        first_name="Meta",
        last_name="Person",
        private_metadata={"fraudNote": "backend-only-marker"},
    )
    result = process_clerk_delivery(runtime, "msg_meta", event)
    assert result.user_id is not None
    with session_scope(runtime.engine) as session:
        stored = session.get(User, result.user_id)
        assert stored is not None and stored.private_metadata  # held, but not exported
        _, key = create_api_key(session, role="student", user_id=result.user_id)
    r = client.get("/v1/me/export", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    assert "privateMetadata" not in r.json()["user"]
    assert "backend-only-marker" not in r.text
    assert r.json()["user"]["email"] == "meta@example.org"


# Identity of the person erased in the whole-schema test; each string is distinctive
# enough that any occurrence in any table is theirs.
_EMAIL = "zenobia.q@example.org"
_FIRST, _LAST, _USERNAME = "Zenobia", "Quackenbush", "zquackx"


def _tables_containing(engine: Engine, needle: str) -> set[str]:
    """Names of the tables (every table of the live schema, reflected, so tables added
    later are covered too) holding ``needle`` in any column, case-insensitively."""
    meta = MetaData()
    meta.reflect(bind=engine)
    assert {"users", "webhook_audit", "transactions", "outbox"} <= set(meta.tables)
    found: set[str] = set()
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(table.select()):
                if any(v is not None and needle.lower() in str(v).lower() for v in row):
                    found.add(table.name)
                    break
    return found


def test_purge_leaves_the_person_in_no_table(client: TestClient, runtime: Runtime) -> None:
    """After the retention purge, no column of any table holds the person's email,
    names or username, while the rows that must stay (ledger, audit, tombstone) do."""
    rt = runtime
    identity: dict[str, Any] = {
        "email": _EMAIL,
        "first_name": _FIRST,
        "last_name": _LAST,
        "username": _USERNAME,
        "private_metadata": {"note": f"{_FIRST} asked about payouts"},
    }
    created = process_clerk_delivery(
        rt, "msg_z1", _clerk_event("user.created", "user_zen", updated_at=1, **identity)
    )
    uid = created.user_id
    assert uid is not None
    # A rejected field on their own audit row, and another user trying to take their email.
    with_bad_role = _clerk_event(
        "user.updated", "user_zen", updated_at=2, roles=["student", "pirate"], **identity
    )
    process_clerk_delivery(rt, "msg_z2", with_bad_role)
    process_clerk_delivery(
        rt,
        "msg_z3",
        _clerk_event("user.created", "user_taker", updated_at=1, email=_EMAIL),
    )
    with session_scope(rt.engine) as session:
        # An audit row written before problems stopped carrying values.
        session.add(
            WebhookAudit(
                svix_id="msg_legacy",
                event_type="user.created",
                clerk_id="user_old",
                outcome="applied",
                error=f"email {_EMAIL!r} belongs to another user; not applied",
            )
        )
        _, key = create_api_key(session, role="student", name=f"{_FIRST}'s laptop", user_id=uid)
    headers = {"Authorization": f"Bearer {key}"}
    body = {"headline": f"{_FIRST} {_LAST}, barista", "bio": f"Contact {_EMAIL}"}
    assert client.put("/v1/me/profile", json=body, headers=headers).status_code == 200
    r = client.put("/v1/users/me/data/nick", json={"value": _USERNAME}, headers=headers)
    assert r.status_code in (200, 201), r.text
    tx, _ = post_transaction(
        rt.engine,
        Posting(
            clerk_id="user_zen",
            amount=1500,
            kind=LedgerKind.GIG_PAYMENT,
            reference=f"Payout to {_FIRST} {_LAST}, invoice 42",
            idempotency_key=f"payout-{_EMAIL}-1",
        ),
    )
    with session_scope(rt.engine) as session:
        event_id = session.exec(select(OutboxEvent.id).where(OutboxEvent.user_id == uid)).first()
        assert event_id is not None
        mark_failed(session, event_id, f"could not embed {_FIRST} {_LAST}")
    assert client.delete("/v1/me", headers=headers).status_code == 204

    needles = (_EMAIL, _FIRST, _LAST, _USERNAME)
    before = {n: _tables_containing(rt.engine, n) for n in needles}
    # The test can fail: the strings are spread over many tables before the purge.
    assert {"users", "webhook_audit", "api_keys", "transactions", "outbox"} <= set().union(
        *before.values()
    ), before
    with session_scope(rt.engine) as session:
        session.execute(update(User).where(col(User.id) == uid).values(deleted_at=1_000_000))
    assert purge_expired(rt.engine, retention_days=30) == 1
    assert {n: _tables_containing(rt.engine, n) for n in needles} == {n: set() for n in needles}

    with session_scope(rt.engine) as session:
        kept = session.get(Transaction, tx.id)
        assert kept is not None and (kept.amount, kept.user_id) == (1500, uid)
        assert kept.reference == "Payout to [erased], invoice 42"
        assert kept.idempotency_key == f"erased:{tx.id}"
        assert session.get(UserTombstone, "user_zen") is not None
        audits = session.exec(select(WebhookAudit).where(WebhookAudit.clerk_id == "user_zen"))
        assert [(a.svix_id, a.error) for a in audits] == [("msg_z1", None), ("msg_z2", None)]
        key_row = session.exec(select(ApiKey).where(ApiKey.user_id == uid)).one()
        assert key_row.name == "" and key_row.revoked_at is not None
        events = session.exec(select(OutboxEvent).where(OutboxEvent.user_id == uid)).all()
        assert all(e.payload == {"userId": uid} and e.last_error is None for e in events)


def test_gigs_and_interactions_are_exported_and_purged(
    client: TestClient, runtime: Runtime
) -> None:
    student = new_user_with_key(runtime, "p_gig_student")
    employer = new_user_with_key(runtime, "p_gig_employer", role="employer")
    r = client.post("/v1/gigs", json={"title": "Usher", "status": "open"}, headers=employer.headers)
    gig_id = r.json()["id"]
    with session_scope(runtime.engine) as session:
        session.add(
            Interaction(gig_id=gig_id, user_id=student.id, action="applied", decision="rejected")
        )
    mine = client.get("/v1/me/export", headers=student.headers).json()
    assert [(i["gig_id"], i["action"], i["decision"]) for i in mine["interactions"]] == [
        (gig_id, "applied", "rejected")
    ]
    theirs = client.get("/v1/me/export", headers=employer.headers).json()
    assert [g["title"] for g in theirs["gigs"]] == ["Usher"] and theirs["interactions"] == []
    for u in (student, employer):
        assert client.delete("/v1/me", headers=u.headers).status_code == 204
    with session_scope(runtime.engine) as session:
        session.execute(update(User).values(deleted_at=1_000_000))
    assert purge_expired(runtime.engine, retention_days=30) == 2
    with session_scope(runtime.engine) as session:
        assert session.exec(select(Interaction)).all() == []
        gig = session.get(Gig, gig_id)
        assert gig is not None and gig.deleted_at is not None
