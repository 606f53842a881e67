"""What an employer learns of a student's identity: the display name and no
identity-provider id before contact; the full name once the student applied to
the employer's gig (``docs/privacy.md``, "Identity before and after contact")."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from models import SearchHit
from search_service.refresh.freshness import refresh_stale
from search_service.runtime import Runtime
from tests.factories import make_student
from tests.search_service.profile_helpers import new_user_with_key, student_with_key


@pytest.fixture
def names(runtime: Runtime) -> Iterator[dict[str, Any]]:
    """Two baristas and an employer with an open barista gig one of them applied to."""
    make_student(
        runtime, clerk_id="id_ada", headline="Barista", first_name="Ada", last_name="Lovelace"
    )
    applicant = student_with_key(
        runtime, "id_grace", headline="Barista", first_name="Grace", last_name="Hopper"
    )
    employer = new_user_with_key(runtime, "id_emp", role="employer")
    yield {"employer": employer, "applicant": applicant}


def _hits(r: Any) -> list[dict[str, Any]]:
    assert r.status_code == 200, r.text
    hits: list[dict[str, Any]] = r.json()["results"]
    return hits


def test_names_follow_contact_on_every_list(
    client: TestClient, runtime: Runtime, names: dict[str, Any]
) -> None:
    employer, applicant = names["employer"], names["applicant"]
    h = employer.headers
    gig = client.post("/v1/gigs", json={"title": "Barista", "status": "open"}, headers=h).json()[
        "id"
    ]
    assert client.put(f"/v1/gigs/{gig}/application", headers=applicant.headers).status_code == 200
    refresh_stale(runtime)

    before_contact = {
        "search": _hits(client.post("/v1/search", json={"query": "barista"}, headers=h)),
        "similar": _hits(client.get(f"/v1/profiles/{applicant.id}/similar", headers=h)),
    }
    for where, hits in before_contact.items():
        assert hits, where
        for hit in hits:
            assert "clerkId" not in hit, where
            assert hit["name"] in {"Ada L.", "Grace H."}, (where, hit["name"])

    for path in ("candidates", "applicants"):
        hits = _hits(client.get(f"/v1/gigs/{gig}/{path}", headers=h))
        by_name = {hit["userId"]: hit["name"] for hit in hits}
        assert by_name[applicant.id] == "Grace Hopper", path  # applied: contact made
        assert all("clerkId" not in hit for hit in hits)
        if path == "candidates":
            assert "Ada L." in by_name.values()  # never applied: display name only


@pytest.mark.parametrize(
    ("first", "last", "username", "expected"),
    [
        ("Ada", "Lovelace", None, "Ada L."),
        ("Ada", None, "ada", "Ada"),
        (None, "Lovelace", "ada99", "ada99"),
        (None, None, None, "Gigsy student"),
    ],
)
def test_the_display_name_rule(
    first: str | None, last: str | None, username: str | None, expected: str
) -> None:
    for applied in (False, True):
        name = SearchHit.employer_name(
            first_name=first, last_name=last, username=username, full_name="", applied=applied
        )
        assert name == expected  # no full name on record: the display name either way
    full = SearchHit.employer_name(
        first_name=first, last_name=last, username=username, full_name="Ada X", applied=True
    )
    assert full == "Ada X"
