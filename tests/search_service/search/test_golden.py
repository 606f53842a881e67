"""Golden responses of every ranked list: employer search, gig search, recommended
gigs, a gig's candidates and applicants, similar students and similar gigs.

A fixed scenario of requests runs through the HTTP API on the seeded demo data
(2,000 students and 60 gigs, as ``gigsy-search demo`` loads them) and each
response is compared with the one recorded in ``golden/`` (one JSON file per
request): the hits' ids and order, every field of every hit (names, headlines,
explanations: matched terms and skills, missing skills, each retriever's rank
and score, boosts), ``nextOffset``, whether ``nextCursor`` is set, facets and
the zero-result suggestion. Floats are stored to 7 significant digits and
compared to 1e-6 (relative above 1); ``tookMs`` is left out. The requests that
follow a change of state (a dismissal, the owner's decisions, applications) come
after every request that must not see it, and their files list those changes
under ``after``.

The responses depend on nothing but the code: the deterministic hashing encoder
(never the real model, whose floats differ across CPUs), a fresh SQLite file
(ids repeat), the embedded Qdrant Edge store, a fixed cursor secret, and the
clock of :func:`models.now_ms` pinned, to :data:`BUILT_AT` while the demo is
written and indexed and to :data:`SERVED_AT` while requests are served (recency
boosts, deadlines and the content clock all read it), and points of equal score
in the store's candidate lists ordered by id (the adapters do it:
:func:`indexers.store.by_score`).

When a change is meant to alter results, re-record in that change's commit::

    GIGSY_RECORD_GOLDEN=1 .venv/bin/python -m pytest tests/search_service/search/test_golden.py
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

import models.common
from indexers import HashingEncoder
from models import now_ms
from search_service.app import create_app
from search_service.entities import ENTITIES
from search_service.gigs.demo import DEMO_EMPLOYER_CLERK_ID, DemoVocabulary, load_demo_gigs
from search_service.gigs.repository import owner_gigs
from search_service.index.entity import GIG_ROWS, PROFILE_ROWS
from search_service.profiles import demo_vocab
from search_service.profiles.demo import load_demo
from search_service.refresh.writer import reindex
from search_service.runtime import Runtime
from search_service.search.boosts import DAY_MS
from search_service.settings import EmbeddingSettings, QdrantSettings, SearchSettings, Settings
from search_service.users.api_keys import create_api_key
from search_service.users.repository import find_user_by_clerk_id
from tests.conftest import GENEROUS_RATE_LIMITS

GOLDEN_DIR = Path(__file__).parent / "golden"
RECORD = os.environ.get("GIGSY_RECORD_GOLDEN") == "1"
RECORD_COMMAND = (
    "GIGSY_RECORD_GOLDEN=1 .venv/bin/python -m pytest tests/search_service/search/test_golden.py"
)
BUILT_AT = 1_772_442_000_000
"""When the demo is written and indexed: 2026-03-02T09:00:00Z, epoch ms."""
SERVED_AT = BUILT_AT + 3 * DAY_MS
"""When every request is served, epoch ms: three days later, so the recency boost
has decayed a little (30-day half-life) and no demo gig is past its deadline
(14 days at the earliest)."""
DEMO_STUDENTS = 2000
DEMO_GIGS = 60
DEMO_SEED = 42
LIMIT = 10
"""Hits per recorded page."""
SIGNIFICANT_DIGITS = 7
TOLERANCE = 1e-6
"""Largest difference of a float from its recording: absolute up to 1, relative above."""
_DIFF_LINES = 25


class PinnedClock:
    """Stands in for the ``time`` module inside :mod:`models.common`, so that
    :func:`models.now_ms`, the one clock of the service, returns ``ms`` (epoch ms)."""

    def __init__(self, ms: int) -> None:
        self.ms = ms

    def time_ns(self) -> int:
        """``ms`` in nanoseconds since the epoch."""
        return self.ms * 1_000_000


@dataclass
class Demo:
    """The module's demo: the app's client, one ``Authorization`` header per role,
    the demo users' ids by clerk id and the demo employer's open gigs (ids, ascending)."""

    client: TestClient
    headers: dict[str, dict[str, str]]
    user_ids: dict[str, int]
    employer_gigs: list[int]


# Callers: the demo employer, two students asking for recommendations, three who apply.
STUDENTS = {
    "student-a": "demo_00000",
    "student-b": "demo_00001",
    "applicant-1": "demo_00002",
    "applicant-2": "demo_00003",
    "applicant-3": "demo_00004",
}


def _settings(tmp: Path) -> Settings:
    return Settings(
        data_dir=tmp / "var",
        database_url=f"sqlite:///{tmp / 'golden.db'}",
        embedding=EmbeddingSettings(model="hashing"),
        qdrant=QdrantSettings(url=None),
        search=SearchSettings(cursor_secret=SecretStr("golden-responses-cursor-secret-0123")),
        rate_limit=GENEROUS_RATE_LIMITS,
    )


def _load_demo(rt: Runtime) -> None:
    """What ``gigsy-search demo`` writes and indexes (``search_service/cli.py``)."""
    load_demo(rt, count=DEMO_STUDENTS, seed=DEMO_SEED, progress=False)
    vocab = DemoVocabulary(
        tracks=demo_vocab.TRACKS, cities=demo_vocab.CITIES, skill_labels=demo_vocab.SKILL_LABELS
    )
    load_demo_gigs(rt, vocab, count=DEMO_GIGS, seed=DEMO_SEED, progress=False)
    for entity in (PROFILE_ROWS, GIG_ROWS):
        reindex(rt, entities=[entity], progress=False)


def _callers(rt: Runtime) -> tuple[dict[str, dict[str, str]], dict[str, int], list[int]]:
    headers: dict[str, dict[str, str]] = {}
    user_ids: dict[str, int] = {}
    callers = [(role, clerk_id, "student") for role, clerk_id in STUDENTS.items()]
    callers.append(("employer", DEMO_EMPLOYER_CLERK_ID, "employer"))
    with rt.session() as session:
        for role, clerk_id, key_role in callers:
            user = find_user_by_clerk_id(session, clerk_id)
            assert user is not None and user.id is not None, clerk_id
            _, key = create_api_key(session, role=key_role, name="golden", user_id=user.id)
            headers[role] = {"Authorization": f"Bearer {key}"}
            user_ids[clerk_id] = user.id
        gigs = owner_gigs(
            session, user_ids[DEMO_EMPLOYER_CLERK_ID], status="open", limit=100, offset=0
        )
        employer_gigs = sorted(g.id for g in gigs if g.id is not None)
    return headers, user_ids, employer_gigs


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo on SQLite and Qdrant Edge with a 64-d hashing encoder, built at
    :data:`BUILT_AT` and served at :data:`SERVED_AT` (the clock stays pinned
    until the module's last test is done)."""
    tmp = tmp_path_factory.mktemp("golden")
    settings = _settings(tmp)
    clock = PinnedClock(BUILT_AT)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(models.common, "time", clock)
        assert now_ms() == BUILT_AT, "models.now_ms no longer reads models.common.time"
        rt = Runtime.open(settings, entities=ENTITIES, encoder=HashingEncoder(64))
        try:
            _load_demo(rt)
            headers, user_ids, employer_gigs = _callers(rt)
            clock.ms = SERVED_AT
            with TestClient(create_app(settings, runtime=rt)) as client:
                yield Demo(client, headers, user_ids, employer_gigs)
        finally:
            rt.close()


def _rounded(value: Any) -> Any:
    """``value`` with every non-integral float to :data:`SIGNIFICANT_DIGITS`."""
    if isinstance(value, float):
        return value if value.is_integer() else float(f"{value:.{SIGNIFICANT_DIGITS}g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def _response(body: dict[str, Any]) -> dict[str, Any]:
    """What a golden file keeps of a response body: all but ``tookMs``, and of
    ``nextCursor`` (opaque) only whether it is set."""
    kept = {k: v for k, v in body.items() if k not in ("tookMs", "nextCursor")}
    kept["nextCursorSet"] = body.get("nextCursor") is not None
    return kept


@dataclass
class Scenario:
    """Sends the requests and keeps, per recorded request, what a golden file holds."""

    demo: Demo
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    changes: list[dict[str, Any]] = field(default_factory=list)
    """State changes made since the last recorded request."""

    def record(
        self,
        name: str,
        method: str,
        path: str,
        role: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        shown: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Send a ranked-list request and keep it as ``name``; returns the body.
        ``shown`` replaces ``body`` or ``params`` in the record (a cursor is
        recorded as where it came from, not as its bytes)."""
        assert name not in self.records, name
        r = self.demo.client.request(
            method, path, json=body, params=params, headers=self.demo.headers[role]
        )
        assert r.status_code == 200, f"{name}: {r.status_code} {r.text}"
        request: dict[str, Any] = {"method": method, "path": path, "role": role}
        if body is not None:
            request["body"] = shown if shown is not None else body
        if params is not None:
            request["params"] = shown if shown is not None else params
        record: dict[str, Any] = {"request": request}
        if self.changes:
            record["after"], self.changes = self.changes, []
        found: dict[str, Any] = r.json()
        record["response"] = _rounded(_response(found))
        self.records[name] = record
        return found

    def change(self, method: str, path: str, role: str, body: dict[str, Any] | None = None) -> None:
        """Send a request that changes state (not recorded: listed by the next record)."""
        r = self.demo.client.request(method, path, json=body, headers=self.demo.headers[role])
        assert r.status_code == 200, f"{method} {path}: {r.status_code} {r.text}"
        sent = {"body": body} if body is not None else {}
        self.changes.append({"method": method, "path": path, "role": role, **sent})


PROFILE_SEARCHES: dict[str, dict[str, Any]] = {
    "search-filters": {
        "query": "frontend developer react",
        "filters": {"skills": ["javascript"], "availability": "part_time"},
    },
    "search-facets": {
        "query": "social media marketing",
        "facets": ["skills", "languages", "availability", "location"],
    },
    "search-boosts": {
        "query": "graphic design illustrator",
        "boosts": {"recency": True, "strength": True, "availability": "weekends"},
    },
    "search-diversity": {"query": "python data analyst", "diversity": 0.5},
    # Every demo profile has the same content clock, so a browse is ordered by id;
    # narrow filters keep every match (11) inside the pool the store returns (100),
    # leaving the store no choice among equal times.
    "search-browse": {
        "query": "",
        "filters": {"skills": ["python"], "location": "Berlin"},
        "facets": ["skills", "availability"],
    },
    "search-zero-results": {
        "query": "python data",
        "filters": {"skills": ["python", "figma"], "location": "Berlin"},
    },
}
"""Employer searches beyond the three modes and page 2, by name (``limit`` added)."""
GIG_SEARCHES: dict[str, dict[str, Any]] = {
    "gigs-filters": {
        "query": "developer",
        "filters": {"remote": False, "payMin": 2000, "currency": "EUR", "payUnit": "hour"},
    },
    "gigs-facets": {
        "query": "data analysis",
        "facets": ["skills", "availability", "location", "remote"],
    },
    "gigs-browse": {"query": "", "filters": {"remote": True}, "facets": ["skills"]},
    "gigs-zero-results": {
        "query": "developer",
        "filters": {"remote": True, "availability": "weekends", "skills": ["react"]},
    },
}
"""Students' gig searches beyond the three modes and page 2, by name (``limit`` added)."""


def _searches(
    s: Scenario, prefix: str, path: str, role: str, query: str, more: dict[str, dict[str, Any]]
) -> None:
    """``query`` in each mode, page 2 of the hybrid one by cursor (and, for employer
    search, by offset), then the ``more`` requests."""
    for mode in ("keyword", "semantic", "hybrid"):
        body = {"query": query, "mode": mode, "limit": LIMIT}
        first = s.record(f"{prefix}-{mode}", "POST", path, role, body=body)
    cursor = {**body, "cursor": first["nextCursor"]}
    shown = {**body, "cursor": f"nextCursor of {prefix}-hybrid"}
    s.record(f"{prefix}-page2-cursor", "POST", path, role, body=cursor, shown=shown)
    if prefix == "search":
        s.record("search-page2-offset", "POST", path, role, body={**body, "offset": LIMIT})
    for name, extra in more.items():
        s.record(name, "POST", path, role, body={**extra, "limit": LIMIT})


def _run(demo: Demo) -> dict[str, dict[str, Any]]:
    """The scenario: every request that must not see a change first, then each
    change followed by the lists it affects."""
    s = Scenario(demo)
    ids = demo.user_ids
    student_a, student_b = ids[STUDENTS["student-a"]], ids[STUDENTS["student-b"]]
    gig_1, gig_2 = demo.employer_gigs[:2]
    page = {"limit": LIMIT}
    _searches(s, "search", "/v1/search", "employer", "python data analyst", PROFILE_SEARCHES)
    _searches(s, "gigs", "/v1/gigs/search", "student-a", "frontend developer react", GIG_SEARCHES)
    s.record(
        "similar-profiles", "GET", f"/v1/profiles/{student_a}/similar", "employer", params=page
    )
    s.record(
        "similar-profiles-hybrid",
        "GET",
        f"/v1/profiles/{student_b}/similar",
        "employer",
        params={**page, "mode": "hybrid"},
    )
    s.record("similar-gigs", "GET", f"/v1/gigs/{gig_1}/similar", "student-a", params=page)
    recommended = s.record(
        "recommended-gigs-a", "GET", "/v1/me/recommended-gigs", "student-a", params=page
    )
    s.record("recommended-gigs-b", "GET", "/v1/me/recommended-gigs", "student-b", params=page)
    candidates = s.record(
        "candidates-gig-1", "GET", f"/v1/gigs/{gig_1}/candidates", "employer", params=page
    )
    s.record("candidates-gig-2", "GET", f"/v1/gigs/{gig_2}/candidates", "employer", params=page)

    s.change("PUT", f"/v1/gigs/{recommended['results'][0]['gigId']}/dismissal", "student-a")
    s.record(
        "recommended-gigs-a-dismissed", "GET", "/v1/me/recommended-gigs", "student-a", params=page
    )

    top = [hit["userId"] for hit in candidates["results"]]
    s.change("PUT", f"/v1/gigs/{gig_1}/decisions/{top[0]}", "employer", {"decision": "rejected"})
    s.change("PUT", f"/v1/gigs/{gig_1}/decisions/{top[2]}", "employer", {"decision": "shortlisted"})
    s.record(
        "candidates-gig-1-feedback", "GET", f"/v1/gigs/{gig_1}/candidates", "employer", params=page
    )

    for role in ("applicant-1", "applicant-2", "applicant-3"):
        s.change("PUT", f"/v1/gigs/{gig_1}/application", role)
    s.record("applicants-gig-1", "GET", f"/v1/gigs/{gig_1}/applicants", "employer", params=page)
    return s.records


@pytest.fixture(scope="module")
def recorded(demo: Demo) -> dict[str, dict[str, Any]]:
    """Every recorded request of the scenario, by name, in the order sent."""
    return _run(demo)


def _path(name: str) -> Path:
    return GOLDEN_DIR / f"{name}.json"


def _settled(old: Any, new: Any) -> Any:
    """``new``, keeping each float of ``old`` that it matches within :data:`TOLERANCE`,
    so that re-recording rewrites only what moved, not the last digit's noise."""
    if isinstance(old, float) and isinstance(new, float):
        return old if math.isclose(old, new, rel_tol=TOLERANCE, abs_tol=TOLERANCE) else new
    if isinstance(old, dict) and isinstance(new, dict):
        return {k: _settled(old[k], v) if k in old else v for k, v in new.items()}
    if isinstance(old, list) and isinstance(new, list):
        return [*(_settled(o, n) for o, n in zip(old, new, strict=False)), *new[len(old) :]]
    return new


def _write(records: dict[str, dict[str, Any]]) -> None:
    """Replace ``golden/`` with ``records``, one file per request (stale files removed)."""
    GOLDEN_DIR.mkdir(exist_ok=True)
    for stale in GOLDEN_DIR.glob("*.json"):
        if stale.stem not in records:
            stale.unlink()
    for name, record in records.items():
        path = _path(name)
        kept = _settled(json.loads(path.read_text("utf-8")), record) if path.exists() else record
        path.write_text(json.dumps(kept, indent=1, ensure_ascii=False) + "\n", "utf-8")


def _hit_id(item: Any) -> str | None:
    """``"userId 17"`` or ``"gigId 3"`` for a hit, ``None`` for anything else."""
    if isinstance(item, dict):
        for key in ("userId", "gigId"):
            if key in item:
                return f"{key} {item[key]}"
    return None


def _ids(hits: list[Any]) -> list[Any]:
    return [h.get("userId", h.get("gigId")) for h in hits]


def _differences(expected: Any, actual: Any, where: str = "") -> list[str]:
    """Where ``actual`` differs from ``expected``, one line each (floats within
    :data:`TOLERANCE`). Lists of hits whose ids changed order are reported as the
    two id lists, then compared hit by hit by id."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        lines: list[str] = []
        for key in [*expected, *(k for k in actual if k not in expected)]:
            here = f"{where}.{key}" if where else key
            if key not in actual:
                lines.append(f"{here}: missing, expected {expected[key]!r}")
            elif key not in expected:
                lines.append(f"{here}: unexpected {actual[key]!r}")
            else:
                lines += _differences(expected[key], actual[key], here)
        return lines
    if isinstance(expected, list) and isinstance(actual, list):
        hits = all(_hit_id(h) is not None for h in [*expected, *actual])
        if hits and _ids(expected) != _ids(actual):
            lines = [f"{where} ids: expected {_ids(expected)}, got {_ids(actual)}"]
            found = {_hit_id(a): a for a in actual}
            for e in expected:
                label = _hit_id(e)
                if label in found:
                    lines += _differences(e, found[label], f"{where}[{label}]")
            return lines
        lines = []
        if len(expected) != len(actual):
            lines.append(f"{where}: expected {len(expected)} items, got {len(actual)}")
        for i, (e, a) in enumerate(zip(expected, actual, strict=False)):
            label = _hit_id(e)
            lines += _differences(e, a, f"{where}[{i}]" + (f" ({label})" if label else ""))
        return lines
    numbers = (int, float)
    if (
        isinstance(expected, numbers)
        and isinstance(actual, numbers)
        and not isinstance(expected, bool)
        and not isinstance(actual, bool)
        and (isinstance(expected, float) or isinstance(actual, float))
    ):
        if math.isclose(expected, actual, rel_tol=TOLERANCE, abs_tol=TOLERANCE):
            return []
    elif expected == actual and type(expected) is type(actual):
        return []
    return [f"{where}: expected {expected!r}, got {actual!r}"]


def _report(name: str, record: dict[str, Any], lines: list[str]) -> str:
    request = record["request"]
    sent = request.get("body", request.get("params", {}))
    shown = lines[:_DIFF_LINES]
    if len(lines) > _DIFF_LINES:
        shown.append(f"... and {len(lines) - _DIFF_LINES} more")
    return "\n".join(
        [
            f"{name}: {request['method']} {request['path']} as {request['role']} "
            f"{json.dumps(sent, ensure_ascii=False)}",
            *(f"  {line}" for line in shown),
        ]
    )


def test_responses_match_golden(recorded: dict[str, dict[str, Any]]) -> None:
    """Every ranked list answers the scenario's requests as recorded (``golden/``)."""
    if RECORD:
        _write(recorded)
    stored = {p.stem for p in GOLDEN_DIR.glob("*.json")}
    missing = [name for name in recorded if name not in stored]
    stale = sorted(stored - set(recorded))
    if missing or stale:
        pytest.fail(
            f"golden files missing for {missing}, stale {stale}: re-record with {RECORD_COMMAND}",
            pytrace=False,
        )
    differing: list[tuple[str, list[str]]] = []
    for name, record in recorded.items():
        golden = json.loads(_path(name).read_text("utf-8"))
        lines = _differences(golden, record)
        if lines:
            differing.append((name, lines))
    if differing:
        first, lines = differing[0]
        pytest.fail(
            f"{len(differing)} of {len(recorded)} responses differ from golden/: "
            f"{', '.join(n for n, _ in differing)}\n"
            f"first: {_report(first, recorded[first], lines)}\n"
            "Re-record only in a change meant to alter results: " + RECORD_COMMAND,
            pytrace=False,
        )


def _hits(recorded: dict[str, dict[str, Any]], name: str) -> list[dict[str, Any]]:
    hits: list[dict[str, Any]] = recorded[name]["response"]["results"]
    return hits


def test_scenario_exercises_what_it_names(recorded: dict[str, dict[str, Any]]) -> None:
    """Each request shows what its name says (hits, facets, a suggestion, the effect
    of each change), so that no golden file holds an empty or vacuous answer."""
    empty = [n for n in recorded if not _hits(recorded, n) and not n.endswith("zero-results")]
    assert not empty
    for name in ("search-zero-results", "gigs-zero-results"):
        assert not _hits(recorded, name)
        assert recorded[name]["response"]["suggestion"] is not None, name
    for name in ("search-facets", "search-browse", "gigs-facets", "gigs-browse"):
        assert recorded[name]["response"]["facets"]["values"], name
    # With the index unchanged, page 2 by cursor is page 2 by offset.
    page_2 = _ids(_hits(recorded, "search-page2-cursor"))
    assert page_2 == _ids(_hits(recorded, "search-page2-offset"))
    assert not set(page_2) & set(_ids(_hits(recorded, "search-hybrid")))
    assert not set(_ids(_hits(recorded, "gigs-page2-cursor"))) & set(
        _ids(_hits(recorded, "gigs-hybrid"))
    )
    assert _ids(_hits(recorded, "search-diversity")) != _ids(_hits(recorded, "search-hybrid"))
    boosts = {
        b["name"] for h in _hits(recorded, "search-boosts") for b in h["explanation"]["boosts"]
    }
    assert boosts == {"recency", "strength", "availability"}

    dismissed = _ids(_hits(recorded, "recommended-gigs-a"))[0]
    assert dismissed not in _ids(_hits(recorded, "recommended-gigs-a-dismissed"))
    rejected, _, shortlisted = _ids(_hits(recorded, "candidates-gig-1"))[:3]
    after = {h["userId"]: h for h in _hits(recorded, "candidates-gig-1-feedback")}
    assert rejected not in after
    assert after[shortlisted]["decision"] == "shortlisted"
    applicants = _hits(recorded, "applicants-gig-1")
    assert len(applicants) == 3 and all(h["applied"] for h in applicants)
