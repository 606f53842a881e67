"""Acting as a gig's owner takes an employer (or admin) credential, whoever owns the gig.

A property over the app's route table: every route that takes a gig id, other
than the few any signed-in caller (or a student) may use, acts as the gig's
owner, and refuses with 403 a credential that lacks the employer role: a student
key of a user who owns gigs (a user with both roles), and a student key of an
employer whom Clerk demoted to student. A route added later is covered without
editing this file; only a new student-facing route must be listed below.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from models import User
from search_service.db import session_scope
from search_service.refresh.freshness import refresh_stale
from search_service.runtime import Runtime
from search_service.users.api_keys import create_api_key
from tests.search_service.profile_helpers import student_with_key

STUDENT_FACING = frozenset(
    {
        ("GET", "/v1/gigs/{gig_id}"),
        ("GET", "/v1/gigs/{gig_id}/similar"),
        ("PUT", "/v1/gigs/{gig_id}/application"),
        ("DELETE", "/v1/gigs/{gig_id}/application"),
        ("PUT", "/v1/gigs/{gig_id}/dismissal"),
        ("DELETE", "/v1/gigs/{gig_id}/dismissal"),
    }
)
"""Routes taking a gig id that do not act as its owner (any signed-in caller or students)."""

OWNER_ROUTES_WITHOUT_GIG_ID = frozenset({("GET", "/v1/me/gigs"), ("POST", "/v1/gigs")})
"""Routes that act as an owner of gigs without naming one."""

_BODIES: dict[tuple[str, str], tuple[Any, dict[str, str]]] = {
    ("PATCH", "/v1/gigs/{gig_id}"): (
        {"title": "Renamed"},
        {"Content-Type": "application/merge-patch+json"},
    ),
    ("PUT", "/v1/gigs/{gig_id}/decisions/{user_id}"): ({"decision": "shortlisted"}, {}),
    ("POST", "/v1/gigs"): ({"title": "Another gig", "status": "draft"}, {}),
}


@dataclass(frozen=True)
class Owner:
    """A user owning one open and one draft gig, with a key per role."""

    user_id: int
    employer: dict[str, str]
    student: dict[str, str]
    open_gig: int
    draft_gig: int


def owner_routes(client: TestClient) -> list[tuple[str, str]]:
    """(method, path) of every route acting as a gig's owner, read from the app's
    OpenAPI schema (every API route is in it)."""
    out: list[tuple[str, str]] = []
    paths: dict[str, dict[str, Any]] = client.get("/openapi.json").json()["paths"]
    for path, operations in paths.items():
        for method in sorted(operations):
            pair = (method.upper(), path)
            if pair in OWNER_ROUTES_WITHOUT_GIG_ID or (
                "{gig_id}" in path and pair not in STUDENT_FACING
            ):
                out.append(pair)
    # DELETE /v1/gigs/{gig_id} last: it ends the gig the others act on.
    return sorted(out, key=lambda p: p == ("DELETE", "/v1/gigs/{gig_id}"))


def _key(rt: Runtime, user_id: int, role: str) -> dict[str, str]:
    with session_scope(rt.engine) as session:
        _, key = create_api_key(session, role=role, user_id=user_id)
    return {"Authorization": f"Bearer {key}"}


def _owner(client: TestClient, rt: Runtime, *, roles: list[str]) -> Owner:
    """A user with ``roles`` owning an open and a draft gig, which the applicant
    applied to and the candidates list showed, so owner routes have work to do."""
    with session_scope(rt.engine) as session:
        user = User(clerk_id="dual", roles=["employer", "student"], first_name="Ada")
        session.add(user)
        session.flush()
        assert user.id is not None
        uid = user.id
    employer, student = _key(rt, uid, "employer"), _key(rt, uid, "student")
    gigs = []
    for status in ("open", "draft"):
        r = client.post("/v1/gigs", json={"title": "Bar help", "status": status}, headers=employer)
        assert r.status_code == 201, r.text
        gigs.append(r.json()["id"])
    refresh_stale(rt)
    if roles != ["employer", "student"]:
        with session_scope(rt.engine) as session:  # as Clerk's user.updated webhook does
            row = session.get(User, uid)
            assert row is not None
            row.roles = roles
            session.add(row)
    return Owner(uid, employer, student, gigs[0], gigs[1])


def _call(
    client: TestClient, method: str, path: str, headers: dict[str, str], *, gig: int, user: int
) -> int:
    body, extra = _BODIES.get((method, path), (None, {}))
    url = path.replace("{gig_id}", str(gig)).replace("{user_id}", str(user))
    r = client.request(method, url, json=body, headers={**headers, **extra})
    return r.status_code


@pytest.fixture
def applicant(runtime: Runtime) -> Iterator[int]:
    """A searchable student with a profile."""
    yield student_with_key(runtime, "applicant", headline="barista").id


def test_the_route_table_has_owner_routes(client: TestClient) -> None:
    routes = owner_routes(client)
    for expected in (
        ("PATCH", "/v1/gigs/{gig_id}"),
        ("DELETE", "/v1/gigs/{gig_id}"),
        ("PUT", "/v1/gigs/{gig_id}/decisions/{user_id}"),
        ("DELETE", "/v1/gigs/{gig_id}/decisions/{user_id}"),
        ("GET", "/v1/gigs/{gig_id}/candidates"),
        ("GET", "/v1/gigs/{gig_id}/applicants"),
    ):
        assert expected in routes


@pytest.mark.parametrize(
    "roles", [["employer", "student"], ["student"]], ids=["both-roles", "demoted"]
)
def test_every_owner_route_refuses_a_student_credential_of_the_owner(
    client: TestClient, runtime: Runtime, applicant: int, roles: list[str]
) -> None:
    owner = _owner(client, runtime, roles=roles)
    for method, path in owner_routes(client):
        for gig in (owner.open_gig, owner.draft_gig):
            status = _call(client, method, path, owner.student, gig=gig, user=applicant)
            assert status == 403, (method, path, gig, status)
    # The draft is not the student credential's to read either (as for any student).
    for path in ("/v1/gigs/{gig_id}", "/v1/gigs/{gig_id}/similar"):
        status = _call(client, "GET", path, owner.student, gig=owner.draft_gig, user=applicant)
        assert status == 404, (path, status)


def test_every_owner_route_serves_the_owners_employer_credential(
    client: TestClient, runtime: Runtime, applicant: int
) -> None:
    """The same requests succeed with the owner's employer key: the refusals above
    are the role's doing, not a malformed request's."""
    owner = _owner(client, runtime, roles=["employer", "student"])
    r = client.put(
        f"/v1/gigs/{owner.open_gig}/application",
        headers=student_with_key(runtime, "other").headers,
    )
    assert r.status_code == 200, r.text
    shown = client.get(f"/v1/gigs/{owner.open_gig}/candidates", headers=owner.employer)
    assert applicant in {h["userId"] for h in shown.json()["results"]}, shown.text
    for method, path in owner_routes(client):
        status = _call(client, method, path, owner.employer, gig=owner.open_gig, user=applicant)
        assert 200 <= status < 300, (method, path, status)
