"""SQL statements per ranked-list request, counted at the driver.

A search is at most two statements (the API key with its user and the index's
pending removals, which the query excludes; the page's cards with their skills
and whether each may still be served, pending removals included; facet counts
read the pool's servable rows in one more), a
recommendation list at most three reads (its subject read once more: the
student's profile with their dismissed gigs, or the gig with its owner and
interactions), and a gig's candidates and applicants one write (what the owner
was shown). Counted with SQLAlchemy's ``before_cursor_execute`` event on the
app's engine, over a whole request through the HTTP API, on a small seeded demo
(SQLite, Qdrant Edge, the hashing encoder). A page whose hits hydration hides
reads once more to fill the page from the pool (tested here too); the counts
are of the common case.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, update
from sqlalchemy import select as sa_select
from sqlmodel import col

from indexers import HashingEncoder
from models import OutboxTopic, User
from search_service.app import create_app
from search_service.db import session_scope
from search_service.entities import ENTITIES
from search_service.gigs.demo import DEMO_EMPLOYER_CLERK_ID, DemoVocabulary, load_demo_gigs
from search_service.gigs.repository import owner_gigs
from search_service.index.entity import GIG_ROWS, PROFILE_ROWS
from search_service.outbox import append_event, mark_processed
from search_service.profiles import demo_vocab
from search_service.profiles.demo import load_demo
from search_service.refresh.writer import reindex
from search_service.runtime import Runtime
from search_service.settings import EmbeddingSettings, QdrantSettings, Settings
from search_service.users.api_keys import create_api_key
from search_service.users.repository import find_user_by_clerk_id
from tests.conftest import GENEROUS_RATE_LIMITS

SEARCH_STATEMENTS = 2
"""At most: the API key with its user; the page's cards."""
LIST_STATEMENTS = 3
"""At most, for a recommendation list: a search's two and its subject."""


@dataclass
class Demo:
    """The app's client, the runtime, a header per caller and their ids."""

    client: TestClient
    rt: Runtime
    headers: dict[str, dict[str, str]]
    student_id: int
    gig_id: int


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """200 demo students and 20 demo gigs, indexed, with a student's and the demo
    employer's keys; one student applied to the employer's first gig."""
    tmp: Path = tmp_path_factory.mktemp("statements")
    settings = Settings(
        data_dir=tmp / "var",
        database_url=f"sqlite:///{tmp / 'statements.db'}",
        embedding=EmbeddingSettings(model="hashing"),
        qdrant=QdrantSettings(url=None),
        rate_limit=GENEROUS_RATE_LIMITS,
    )
    rt = Runtime.open(settings, entities=ENTITIES, encoder=HashingEncoder(64))
    try:
        load_demo(rt, count=200, seed=7, progress=False)
        vocab = DemoVocabulary(
            tracks=demo_vocab.TRACKS, cities=demo_vocab.CITIES, skill_labels=demo_vocab.SKILL_LABELS
        )
        load_demo_gigs(rt, vocab, count=20, seed=7, progress=False)
        for entity in (PROFILE_ROWS, GIG_ROWS):
            reindex(rt, entities=[entity], progress=False)
        with rt.session() as session:
            student = find_user_by_clerk_id(session, "demo_00000")
            employer = find_user_by_clerk_id(session, DEMO_EMPLOYER_CLERK_ID)
            assert student is not None and student.id is not None
            assert employer is not None and employer.id is not None
            _, skey = create_api_key(session, role="student", name="t", user_id=student.id)
            _, ekey = create_api_key(session, role="employer", name="t", user_id=employer.id)
            gigs = owner_gigs(session, employer.id, status="open", limit=100, offset=0)
            gig_id = min(g.id for g in gigs if g.id is not None)
            student_id = student.id
        headers = {
            "student": {"Authorization": f"Bearer {skey}"},
            "employer": {"Authorization": f"Bearer {ekey}"},
        }
        with TestClient(create_app(settings, runtime=rt)) as client:
            r = client.put(f"/v1/gigs/{gig_id}/application", headers=headers["student"])
            assert r.status_code in (200, 201), r.text
            yield Demo(client, rt, headers, student_id, gig_id)
    finally:
        rt.close()


def _statements(demo: Demo, method: str, path: str, role: str, **kw: Any) -> list[str]:
    """The SQL statements one request sent (after a warm-up request of the same)."""
    r = demo.client.request(method, path, headers=demo.headers[role], **kw)
    assert r.status_code == 200, r.text
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(demo.rt.engine, "before_cursor_execute", count)
    try:
        r = demo.client.request(method, path, headers=demo.headers[role], **kw)
    finally:
        event.remove(demo.rt.engine, "before_cursor_execute", count)
    assert r.status_code == 200, r.text
    assert r.json()["results"], f"{path}: nothing ranked, nothing counted"
    return seen


def _listed(seen: list[str]) -> str:
    """The statements, one line each, abridged, for a failure message."""
    lines = [" ".join(s.split()) for s in seen]
    return f"{len(seen)} statements:\n" + "\n".join(f"  {s[:160]}" for s in lines)


SEARCHES = [
    pytest.param("POST", "/v1/search", "employer", {"query": "python data"}, id="employer-search"),
    pytest.param(
        "POST",
        "/v1/search",
        "employer",
        {"query": "python", "filters": {"availability": "weekends"}},
        id="employer-search-filtered",
    ),
    pytest.param("POST", "/v1/search", "employer", {"query": ""}, id="employer-browse"),
    pytest.param("POST", "/v1/gigs/search", "student", {"query": "design"}, id="gig-search"),
]


@pytest.mark.parametrize(("method", "path", "role", "body"), SEARCHES)
def test_a_search_is_at_most_two_statements(
    demo: Demo, method: str, path: str, role: str, body: dict[str, Any]
) -> None:
    seen = _statements(demo, method, path, role, json=body)
    assert len(seen) <= SEARCH_STATEMENTS, _listed(seen)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/search", {"query": "python", "facets": ["skills", "languages"]}),
        ("/v1/gigs/search", {"query": "design", "facets": ["skills"]}),
    ],
    ids=["employer-search", "gig-search"],
)
def test_facet_counts_read_the_pools_servable_rows_in_one_more_statement(
    demo: Demo, path: str, body: dict[str, Any]
) -> None:
    role = "employer" if path == "/v1/search" else "student"
    seen = _statements(demo, "POST", path, role, json=body)
    assert len(seen) <= SEARCH_STATEMENTS + 1, _listed(seen)


LISTS = [
    ("/v1/me/recommended-gigs", "student", 0),
    ("/v1/gigs/{gig}/candidates", "employer", 1),
    ("/v1/gigs/{gig}/applicants", "employer", 1),
    ("/v1/profiles/{student}/similar", "employer", 0),
    ("/v1/gigs/{gig}/similar", "student", 0),
]
"""Each list with the writes it makes: a gig's candidates and applicants record
which students the owner was shown (``candidate_exposures``, which decisions are
checked against), one INSERT for the page."""


@pytest.mark.parametrize(("path", "role", "writes"), LISTS, ids=[p for p, _, _ in LISTS])
def test_a_recommendation_list_reads_at_most_three_statements(
    demo: Demo, path: str, role: str, writes: int
) -> None:
    url = path.format(gig=demo.gig_id, student=demo.student_id)
    seen = _statements(demo, "GET", url, role)
    reads = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) <= LIST_STATEMENTS, _listed(seen)
    assert len(seen) - len(reads) <= writes, _listed(seen)


@contextmanager
def _pending_removal(demo: Demo, user_id: int) -> Iterator[None]:
    """A removal event for ``user_id``'s point that nothing has processed yet (its
    post-commit hook never ran): the point is still in the index. Processed on exit."""
    with session_scope(demo.rt.engine) as session:
        event_row = append_event(
            session,
            OutboxTopic.INDEX_REMOVE,
            user_id,
            {"userId": user_id, "reason": "test"},
            entity=PROFILE_ROWS.name,
        )
        session.flush()
        event_id = event_row.id
    try:
        yield
    finally:
        with session_scope(demo.rt.engine) as session:
            assert event_id is not None
            mark_processed(session, [event_id])


@contextmanager
def _floor_raised(demo: Demo, user_id: int) -> Iterator[None]:
    """``user_id``'s privacy floor moved past their indexed point (a Core UPDATE: no
    ORM event, no removal scheduled), so only hydration's check hides them."""
    this = col(User.id) == user_id
    with session_scope(demo.rt.engine) as session:
        before = session.execute(sa_select(col(User.privacy_floor)).where(this)).scalar()
        session.execute(update(User).where(this).values(privacy_floor=2**62))
    try:
        yield
    finally:
        with session_scope(demo.rt.engine) as session:
            session.execute(update(User).where(this).values(privacy_floor=before))


HIDERS = {"pending-removal": _pending_removal, "privacy-floor": _floor_raised}


def _ids(body: dict[str, Any]) -> list[int]:
    return [hit["userId"] for hit in body["results"]]


@pytest.mark.parametrize("hider", HIDERS)
def test_a_hidden_hit_gives_its_slot_to_the_next_of_the_pool(demo: Demo, hider: str) -> None:
    """Employer search: a page hydration hides a hit of stays full, in rank order,
    and offset and cursor pages neither repeat nor skip anyone."""
    headers = demo.headers["employer"]
    query = {"query": "python data", "mode": "hybrid"}
    before = demo.client.post("/v1/search", json={**query, "limit": 21}, headers=headers).json()
    ranked = _ids(before)
    assert len(ranked) == 21, "the demo ranks fewer than 21 students"
    hidden = ranked[3]
    before_ranks = {h["userId"]: h["explanation"] for h in before["results"]}
    with HIDERS[hider](demo, hidden):
        page = demo.client.post("/v1/search", json={**query, "limit": 10}, headers=headers).json()
        assert _ids(page) == [u for u in ranked if u != hidden][:10]
        # The hidden hit takes no rank from anyone: every rank below its own moves up.
        for hit in page["results"]:
            for field in ("keywordRank", "semanticRank"):
                was, gone = before_ranks[hit["userId"]][field], before_ranks[hidden][field]
                if was is not None:
                    below = gone is not None and gone < was
                    assert hit["explanation"][field] == was - below, (hit["userId"], field)
        second = demo.client.post(
            "/v1/search", json={**query, "limit": 10, "offset": page["nextOffset"]}, headers=headers
        ).json()
        # A pending removal is excluded inside the query (no slot); a hit hydration
        # hides takes its slot and the next of the pool fills it.
        assert page["nextOffset"] == (10 if hider == "pending-removal" else 11)
        assert _ids(second)[:10] == [u for u in ranked if u != hidden][10:20]
        by_cursor = demo.client.post(
            "/v1/search", json={**query, "limit": 10, "cursor": page["nextCursor"]}, headers=headers
        ).json()
        assert _ids(by_cursor) == _ids(second)
    restored = demo.client.post("/v1/search", json={**query, "limit": 10}, headers=headers).json()
    assert _ids(restored) == ranked[:10]


@pytest.mark.parametrize("hider", HIDERS)
def test_a_hidden_candidate_is_replaced_in_a_recommendation_list(demo: Demo, hider: str) -> None:
    """The same pipeline behind a gig's candidates: the page stays full."""
    url = f"/v1/gigs/{demo.gig_id}/candidates"
    headers = demo.headers["employer"]
    ranked = _ids(demo.client.get(url, params={"limit": 11}, headers=headers).json())
    assert len(ranked) == 11
    with HIDERS[hider](demo, ranked[0]):
        page = demo.client.get(url, params={"limit": 10}, headers=headers).json()
    assert _ids(page) == ranked[1:11]


HAND_OFFS = 2
"""Worker-thread hand-offs per ranked-list request, at most: authentication (a
``def`` dependency) and the handler's work, which commits in the same call so the
session's tear-down stays on the event loop."""


@pytest.mark.parametrize(
    ("method", "path", "role", "body"),
    [
        ("POST", "/v1/search", "employer", {"query": "python data"}),
        ("GET", "/v1/me/recommended-gigs", "student", None),
        ("GET", "/v1/gigs/{gig}/candidates", "employer", None),
    ],
    ids=["employer-search", "recommended-gigs", "candidates"],
)
def test_a_ranked_list_hands_off_to_worker_threads_at_most_twice(
    demo: Demo,
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    path: str,
    role: str,
    body: dict[str, Any] | None,
) -> None:
    calls: list[str] = []
    real = anyio.to_thread.run_sync

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(getattr(func, "__qualname__", repr(func)))
        return await real(func, *args, **kwargs)

    url = path.format(gig=demo.gig_id)
    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    r = demo.client.request(method, url, json=body, headers=demo.headers[role])
    monkeypatch.undo()
    assert r.status_code == 200, r.text
    assert r.json()["results"]
    assert len(calls) <= HAND_OFFS, calls


def test_a_point_awaiting_removal_off_the_page_takes_no_rank_from_the_page(demo: Demo) -> None:
    """A pending removal is excluded inside the query (read with the API key, no
    statement of its own): a point ranked above the page's hits in one retriever,
    but off the page, moves every hit below it up one rank."""
    headers = demo.headers["employer"]
    query = {"query": "python data", "mode": "hybrid"}
    before = demo.client.post("/v1/search", json={**query, "limit": 30}, headers=headers).json()
    shown = before["results"][:5]
    rank = {h["userId"]: h["explanation"] for h in before["results"]}

    def above_the_page(hit: dict[str, Any]) -> bool:
        ranks = [hit["explanation"][f] for f in ("keywordRank", "semanticRank")]
        page_worst = [
            max(rank[h["userId"]][f] or 0 for h in shown) for f in ("keywordRank", "semanticRank")
        ]
        return any(r is not None and r < worst for r, worst in zip(ranks, page_worst, strict=True))

    hidden = next(h for h in before["results"][5:] if above_the_page(h))
    gone = hidden["explanation"]
    with _pending_removal(demo, hidden["userId"]):
        page = demo.client.post("/v1/search", json={**query, "limit": 5}, headers=headers).json()
    assert [h["userId"] for h in page["results"]] == [h["userId"] for h in shown]
    moved = 0
    for hit in page["results"]:
        for field in ("keywordRank", "semanticRank"):
            was = rank[hit["userId"]][field]
            if was is not None:
                below = gone[field] is not None and gone[field] < was
                moved += below
                assert hit["explanation"][field] == was - below, (hit["userId"], field)
    assert moved, "the hidden point ranked above no shown hit"
