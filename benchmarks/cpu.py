"""Server CPU per request for every ranked list, and QPS at 1, 2, 4 and 8 clients:
``python -m benchmarks cpu --profiles N``.

The service's performance goal is the server's CPU per request: ``utime + stime``
of the ``serve`` process, all its threads (:func:`benchmarks.latency.process_cpu_s`,
``/proc/<pid>/stat``), read before a list's first timed request and after its
last, divided by its requests. Wall time swings 2x on the shared 2-core machine;
CPU time leaves out waiting for a core, though contention for caches still moves
it (about a quarter between two runs under load 5-8, ``benchmarks/README.md``).

1. Build (or reuse) N demo profiles and N/10 demo gigs
   (:func:`benchmarks.scale_build.build_data`, without the fp32 comparison).
2. API keys (SQL only): an employer service account, every demo company (each
   owns some of the gigs) and the first indexed demo students
   (:func:`prepare_actors`). Start ``gigsy-search serve``; a few students apply
   to each subject gig through the API (:func:`apply_to_gigs`), so applicants
   lists are not empty.
3. Every list (:func:`list_scenarios`), one request at a time: every list's
   ``warmup`` untimed requests first, then list by list the same warm-up again and
   ``requests`` timed requests with distinct subjects where the list has one
   (gigs, students; cycled when the data has fewer).
4. QPS of the cached searches with 1, 2, 4 and 8 client threads, and the server's
   CPU per request at each (:func:`qps_curve`).
5. The query encoder's CPU per query, in this process after the server stopped,
   on the same query texts (:func:`query_encoder_cpu_ms`): the uncached budget. It
   is a hot loop (weights in the CPU's caches), a lower bound of what a query
   costs inside the server, where the report also gives uncached minus cached.

Each row is held to its budget (:func:`budgets_ms`, the service's performance
goals, ``benchmarks/README.md``); the load average is read at the start, when the
lists begin and at the end.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path
from typing import Any

import httpx

from benchmarks.freshness import free_port
from benchmarks.latency import employer_queries, load_average, process_cpu_s, serve_process
from benchmarks.loadgen import Call, CpuClock, QpsResult, ScenarioResult, measure_qps, run_scenario
from benchmarks.loadgen import send as send_call
from benchmarks.scale_build import BuildReport, build_data, data_settings
from indexers import load_encoder
from models import Role, User, now_ms
from search_service.db import session_scope
from search_service.gigs.demo import DEMO_COMPANIES, demo_employer_clerk_id
from search_service.gigs.repository import owner_gigs
from search_service.profiles.repository import profile_ids
from search_service.runtime import open_engine
from search_service.settings import Settings
from search_service.users.api_keys import create_api_key, create_service_user
from search_service.users.repository import find_user_by_clerk_id

__all__ = [
    "CLIENTS",
    "LISTS",
    "SEARCH_FILTERS",
    "Actors",
    "CpuReport",
    "ListScenario",
    "apply_to_gigs",
    "budgets_ms",
    "format_cpu_report",
    "list_scenarios",
    "measure_lists",
    "prepare_actors",
    "qps_curve",
    "query_encoder_cpu_ms",
    "run_cpu",
    "write_json",
]

SEARCH_FILTERS: dict[str, Any] = {"availability": "part_time", "languages": ["English"]}
"""The two filters of the employer searches: the commonest demo availability
(35% of students) and the language most demo students list."""

LISTS = (
    "search_uncached",
    "search_cached",
    "browse",
    "gig_search_cached",
    "candidates",
    "recommended",
    "applicants",
    "similar_profiles",
    "similar_gigs",
)
"""Every ranked list, in the order measured (the uncached searches fill the query
embedding cache the cached ones use)."""

CLIENTS = (1, 2, 4, 8)
"""Concurrent clients of the QPS curve."""

_LIMIT = 20


@dataclass(frozen=True, slots=True)
class Actors:
    """Who sends the requests, and the subjects of the lists that have one.

    Attributes:
        searcher: headers of an employer service account (searches, similar profiles).
        gigs: ``(gig id, headers of its owner)`` of live open demo gigs, the
            companies interleaved.
        students: ``(user id, headers)`` of indexed demo students.
    """

    searcher: dict[str, str]
    gigs: list[tuple[int, dict[str, str]]]
    students: list[tuple[int, dict[str, str]]]


@dataclass(frozen=True, slots=True)
class ListScenario:
    """One list's requests: ``calls[:warmup]`` untimed, then the rest timed;
    ``prime`` is sent untimed before them (fills the query embedding cache)."""

    name: str
    calls: list[Call]
    warmup: int
    subjects: int | None = None
    prime: list[Call] = field(default_factory=list)


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def prepare_actors(data_dir: Path, subjects: int) -> Actors:
    """Create fresh API keys in the data under ``data_dir`` (SQL only; no index needed):
    an employer service account, each demo company with live open gigs (up to
    ``subjects`` gigs in all) and up to ``subjects`` searchable students with a
    profile, in id order.

    Raises:
        RuntimeError: the data has no live open demo gig or no searchable student.
    """
    engine = open_engine(data_settings(data_dir))
    try:
        with session_scope(engine) as session:
            svc = create_service_user(session, role="employer", name="cpu benchmark")
            _, searcher = create_api_key(session, role="employer", name="bench", user_id=svc.id)
            ts = now_ms()
            per_company: list[list[tuple[int, dict[str, str]]]] = []
            for k in range(len(DEMO_COMPANIES)):
                owner = find_user_by_clerk_id(session, demo_employer_clerk_id(k))
                if owner is None or owner.id is None:
                    continue
                gigs = owner_gigs(session, owner.id, status="open", limit=subjects, offset=0)
                live = [g.id for g in gigs if g.id is not None and g.is_live(ts)]
                if live:
                    _, key = create_api_key(
                        session, role="employer", name="bench", user_id=owner.id
                    )
                    per_company.append([(gid, _bearer(key)) for gid in live])
            # Interleaved, so a short list still spans every company and track.
            gig_list = [g for row in zip_longest(*per_company) for g in row if g][:subjects]
            students: list[tuple[int, dict[str, str]]] = []
            for uid in profile_ids(session):
                user = session.get(User, uid)
                if user is None or not user.is_searchable or Role.STUDENT.value not in user.roles:
                    continue
                _, key = create_api_key(session, role="student", name="bench", user_id=uid)
                students.append((uid, _bearer(key)))
                if len(students) == subjects:
                    break
    finally:
        engine.dispose()
    if not gig_list or not students:
        raise RuntimeError(
            f"need live open demo gigs and searchable students: found {len(gig_list)} "
            f"gigs and {len(students)} students"
        )
    return Actors(_bearer(searcher), gig_list, students)


def apply_to_gigs(client: httpx.Client, actors: Actors, per_gig: int) -> int:
    """Make ``per_gig`` students apply to each of ``actors.gigs`` through the API
    (``PUT /v1/gigs/{id}/application``; applying again changes nothing), the
    students taken round-robin. Returns the applications sent.

    Raises:
        RuntimeError: a request did not return 200.
    """
    sent = 0
    for j, (gig_id, _) in enumerate(actors.gigs):
        for i in range(min(per_gig, len(actors.students))):
            _, headers = actors.students[(j * per_gig + i) % len(actors.students)]
            send_call(client, Call("PUT", f"/v1/gigs/{gig_id}/application", None, headers))
            sent += 1
    return sent


def list_scenarios(
    actors: Actors,
    search_texts: Sequence[str],
    gig_texts: Sequence[str],
    *,
    requests: int,
    warmup: int,
) -> list[ListScenario]:
    """The requests of every list of :data:`LISTS`, ``warmup + requests`` each.

    Employer searches are hybrid with :data:`SEARCH_FILTERS` (uncached: every text
    new to the server; cached: the same again), browse is the same filters with an
    empty query, students' gig searches are cached (their texts sent once before);
    candidates, applicants and similar gigs go round the gigs, recommended gigs and
    similar profiles round the students.

    Raises:
        ValueError: fewer than ``warmup + requests`` texts of either kind.
    """
    n = warmup + requests
    if len(search_texts) < n or len(gig_texts) < n:
        raise ValueError(
            f"need {n} search and gig texts, got {len(search_texts)}, {len(gig_texts)}"
        )
    gigs, students = actors.gigs, actors.students

    def calls(make: Callable[[int], Call]) -> list[Call]:
        return [make(i) for i in range(n)]

    def on_gigs(what: str, *, as_student: bool = False) -> list[Call]:
        def make(i: int) -> Call:
            gig_id, owner = gigs[i % len(gigs)]
            who = students[i % len(students)][1] if as_student else owner
            return Call("GET", f"/v1/gigs/{gig_id}/{what}", None, who)

        return calls(make)

    def subjects(pool: int) -> int:
        return len({i % pool for i in range(warmup, n)})

    def search(query: str) -> Call:
        body = {"query": query, "filters": SEARCH_FILTERS, "limit": _LIMIT}
        return Call("POST", "/v1/search", body, actors.searcher)

    texts = calls(lambda i: search(search_texts[i]))
    gig_search = calls(
        lambda i: Call(
            "POST",
            "/v1/gigs/search",
            {"query": gig_texts[i], "limit": _LIMIT},
            students[i % len(students)][1],
        )
    )
    recommended = calls(
        lambda i: Call("GET", "/v1/me/recommended-gigs", None, students[i % len(students)][1])
    )
    similar_profiles = calls(
        lambda i: Call(
            "GET", f"/v1/profiles/{students[i % len(students)][0]}/similar", None, actors.searcher
        )
    )
    on_gig, on_student = subjects(len(gigs)), subjects(len(students))
    return [
        ListScenario("search_uncached", texts, warmup),
        ListScenario("search_cached", texts, warmup),
        ListScenario("browse", [search("")] * n, warmup),
        ListScenario("gig_search_cached", gig_search, warmup, prime=gig_search),
        ListScenario("candidates", on_gigs("candidates"), warmup, on_gig),
        ListScenario("recommended", recommended, warmup, on_student),
        ListScenario("applicants", on_gigs("applicants"), warmup, on_gig),
        ListScenario("similar_profiles", similar_profiles, warmup, on_student),
        ListScenario("similar_gigs", on_gigs("similar", as_student=True), warmup, on_gig),
    ]


def measure_lists(
    client: httpx.Client,
    scenarios: Sequence[ListScenario],
    cpu_clock: CpuClock,
    say: Callable[[str], object] = print,
) -> list[ScenarioResult]:
    """Warm every list first (its warm-up calls, all lists in turn), so the first list
    timed does not pay for the server's first requests alone; then run each
    scenario: its ``prime`` and warm-up calls untimed, then the rest timed with the
    server's CPU (:func:`benchmarks.loadgen.run_scenario`).

    Raises:
        RuntimeError: a request did not return 200.
    """
    for sc in scenarios:
        for call in sc.calls[: sc.warmup]:
            send_call(client, call)
    out: list[ScenarioResult] = []
    for sc in scenarios:
        timed = sc.calls[sc.warmup :]
        say(f"{sc.name}: {len(timed)} requests after {sc.warmup + len(sc.prime)} untimed")
        for call in [*sc.prime, *sc.calls[: sc.warmup]]:
            send_call(client, call)
        out.append(run_scenario(client, sc.name, timed, cpu_clock=cpu_clock, subjects=sc.subjects))
    return out


def qps_curve(
    base_url: str,
    calls: Sequence[Call],
    *,
    clients: Sequence[int] = CLIENTS,
    duration_s: float,
    cpu_clock: CpuClock | None,
    say: Callable[[str], object] = print,
) -> list[QpsResult]:
    """:func:`benchmarks.loadgen.measure_qps` at each client count in turn.

    Raises:
        RuntimeError: a request did not return 200.
    """
    out: list[QpsResult] = []
    for c in clients:
        say(f"QPS with {c} client(s), {duration_s:g} s")
        out.append(
            measure_qps(base_url, calls, clients=c, duration_s=duration_s, cpu_clock=cpu_clock)
        )
    return out


def query_encoder_cpu_ms(settings: Settings, texts: Sequence[str], warmup: int = 5) -> float:
    """CPU ms per query of the service's query encoder (the settings' model and
    query backend, no cache), in this process: ``time.process_time`` (every thread
    of the process, as the server's figure counts them) over ``encode_query`` of each
    of ``texts`` after ``warmup`` untimed ones.

    Raises:
        ValueError: no ``texts``.
        EncoderError: the model cannot be loaded.
    """
    if not texts:
        raise ValueError("no texts")
    emb = settings.embedding
    encoder = load_encoder(
        emb.model,
        batch_size=emb.batch_size,
        query_cache_size=0,
        backend=emb.resolved_query_backend,
        cache_dir=emb.model_cache_dir,
        threads=emb.threads,
    )
    for text in texts[:warmup]:
        encoder.encode_query(f"{text} warm")
    started = time.process_time()
    for text in texts:
        encoder.encode_query(text)
    return (time.process_time() - started) * 1000 / len(texts)


def budgets_ms(profiles: int, encoder_ms: float | None) -> dict[str, float | None]:
    """The CPU budget of each list, ms per request (``None``: no budget known).

    Cached hybrid search with two filters: 5 ms up to 2,000 profiles (the demo),
    6 ms above (the 100,000-profile goal); uncached: the query encoder's CPU plus
    5 ms; browse 4 ms; candidates and recommended gigs 6 ms; the other lists twice
    the cached search's budget (the service's performance goals, listed in
    ``benchmarks/README.md``, "CPU per request"). A QPS run sends cached searches:
    its rows take ``search_cached``'s budget.
    """
    cached = 5.0 if profiles <= 2000 else 6.0
    out: dict[str, float | None] = {
        "search_uncached": encoder_ms + 5.0 if encoder_ms is not None else None,
        "search_cached": cached,
        "browse": 4.0,
        "candidates": 6.0,
        "recommended": 6.0,
    }
    for name in ("gig_search_cached", "applicants", "similar_profiles", "similar_gigs"):
        out[name] = 2 * cached
    return out


@dataclass(slots=True)
class CpuReport:
    """One run of :func:`run_cpu` (ms unless named otherwise).

    Attributes:
        build: the data's build report.
        requests, warmup: timed and untimed requests per list.
        applications: applications sent before the lists.
        scenarios: one per list of :data:`LISTS`.
        qps: the QPS curve of the cached searches.
        idle_cpu_ms_per_s: the idle server's CPU (background jobs), ms per second.
        encoder_cpu_ms: the query encoder's CPU per query, in process.
        load: ``/proc/loadavg`` (1, 5, 15 min) at ``start``, ``lists`` and ``end``.
        serve_args: extra ``serve`` options.
    """

    build: BuildReport
    requests: int
    warmup: int
    applications: int = 0
    scenarios: list[ScenarioResult] = field(default_factory=list)
    qps: list[QpsResult] = field(default_factory=list)
    idle_cpu_ms_per_s: float | None = None
    encoder_cpu_ms: float | None = None
    load: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    serve_args: list[str] = field(default_factory=list)

    def rows(self) -> list[dict[str, Any]]:
        """One row per list, then per QPS run: name, requests, subjects, CPU ms per
        request, its ratio to the cached search's, wall p50/p95 (lists), QPS (QPS
        runs), budget ms and ``ok``/``over`` (``-`` without a budget or a figure)."""
        budgets = budgets_ms(self.build.profiles, self.encoder_cpu_ms)
        cached = next(
            (s.cpu_ms_per_request for s in self.scenarios if s.name == "search_cached"), None
        )
        out: list[dict[str, Any]] = []
        for s in self.scenarios:
            out.append(
                _row(s.name, s.n, s.subjects, s.cpu_ms_per_request, cached, budgets.get(s.name))
                | {"wall_p50_ms": s.quantile("e2e", 50), "wall_p95_ms": s.quantile("e2e", 95)}
            )
        for q in self.qps:
            budget = budgets["search_cached"]
            out.append(
                _row(f"qps_{q.clients}", q.requests, None, q.cpu_ms_per_request, cached, budget)
                | {"clients": q.clients, "qps": q.qps}
            )
        return out

    def as_json(self) -> dict[str, Any]:
        """The rows, then the details."""
        return {
            "profiles": self.build.profiles,
            "gigs": self.build.gigs,
            "encoder": self.build.encoder,
            "requests": self.requests,
            "warmup": self.warmup,
            "applications": self.applications,
            "load": {k: list(v) for k, v in self.load.items()},
            "idle_cpu_ms_per_s": self.idle_cpu_ms_per_s,
            "encoder_cpu_ms": self.encoder_cpu_ms,
            "serve_args": self.serve_args,
            "rows": self.rows(),
            "scenarios": {s.name: s.as_json() for s in self.scenarios},
        }


def _row(
    name: str,
    n: int,
    subjects: int | None,
    cpu: float | None,
    cached: float | None,
    budget: float | None,
) -> dict[str, Any]:
    verdict = "-" if cpu is None or budget is None else ("ok" if cpu <= budget else "over")
    return {
        "name": name,
        "n": n,
        "subjects": subjects,
        "cpu_ms_per_request": cpu,
        "x_cached": cpu / cached if cpu is not None and cached else None,
        "budget_ms": budget,
        "verdict": verdict,
    }


def _idle_cpu_ms_per_s(cpu_clock: CpuClock, seconds: float) -> float | None:
    if seconds <= 0:
        return None
    before, started = cpu_clock(), time.perf_counter()
    time.sleep(seconds)
    return (cpu_clock() - before) * 1000 / (time.perf_counter() - started)


def run_cpu(
    data_dir: Path,
    *,
    profiles: int,
    requests: int = 200,
    warmup: int = 10,
    applicants: int = 3,
    qps_s: float = 15.0,
    clients: Sequence[int] = CLIENTS,
    idle_s: float = 3.0,
    seed: int = 42,
    jobs_csv: Path | None = None,
    serve_args: Sequence[str] = (),
    say: Callable[[str], object] = print,
) -> CpuReport:
    """Build or reuse the data in ``data_dir`` and measure (see the module docstring).

    Args:
        data_dir: directory whose ``./var`` holds (or will hold) the data.
        profiles: demo students (gigs: a tenth of that).
        requests: timed requests per list.
        warmup: untimed requests per list before them.
        applicants: applications per subject gig.
        qps_s: seconds per QPS measurement.
        clients: client counts of the QPS curve.
        idle_s: seconds the idle server's CPU is read over (0: skip).
        seed: demo data seed.
        jobs_csv: real job titles used as query texts (else a built-in list).
        serve_args: extra ``gigsy-search serve`` options.

    Raises:
        RuntimeError: the server failed or a request failed.
        ValueError: ``data_dir`` holds another build.
        OSError: no ``/proc`` (not Linux).
    """
    load_start = load_average()
    build = build_data(data_dir, profiles=profiles, seed=seed, fp32_sample=0, say=say)
    report = CpuReport(build, requests, warmup, serve_args=list(serve_args))
    report.load["start"] = load_start
    n = warmup + requests
    actors = prepare_actors(data_dir, n)
    texts = employer_queries(2 * n, jobs_csv)
    search_texts, gig_texts = texts[:n], texts[n:]
    scenarios = list_scenarios(actors, search_texts, gig_texts, requests=requests, warmup=warmup)
    env = {"GIGSY_METRICS__TOKEN": secrets.token_urlsafe(32)}
    with (
        serve_process(data_dir, free_port(), env, report.serve_args) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):

        def cpu_clock() -> float:
            return process_cpu_s(server.pid)

        say(f"applications: {applicants} per gig, {len(actors.gigs)} gigs")
        report.applications = apply_to_gigs(client, actors, applicants)
        report.idle_cpu_ms_per_s = _idle_cpu_ms_per_s(cpu_clock, idle_s)
        report.load["lists"] = load_average()
        report.scenarios = measure_lists(client, scenarios, cpu_clock, say)
        cached = scenarios[LISTS.index("search_cached")].calls
        report.qps = qps_curve(
            server.url, cached, clients=clients, duration_s=qps_s, cpu_clock=cpu_clock, say=say
        )
    say(f"query encoder CPU: {len(search_texts)} queries in process")
    report.encoder_cpu_ms = query_encoder_cpu_ms(data_settings(data_dir), search_texts)
    report.load["end"] = load_average()
    return report


def _num(v: float | None, fmt: str = ".1f") -> str:
    return format(v, fmt) if v is not None else "-"


def format_cpu_report(rep: CpuReport) -> str:
    """The report as text: the load, then one line per list and per QPS run."""
    b = rep.build
    load = "  ".join(f"{k} {' '.join(f'{x:.2f}' for x in v)}" for k, v in rep.load.items())
    cpu = {s.name: s.cpu_ms_per_request for s in rep.scenarios}
    unc, cached = cpu.get("search_uncached"), cpu.get("search_cached")
    delta = unc - cached if unc is not None and cached is not None else None
    lines = [
        f"{b.profiles} profiles, {b.gigs} gigs, encoder {b.encoder}"
        + (f", serve {' '.join(rep.serve_args)}" if rep.serve_args else ""),
        f"load average (1/5/15 min): {load}",
        f"{rep.requests} timed requests per list after {rep.warmup} untimed; "
        f"{rep.applications} applications; idle serve CPU {_num(rep.idle_cpu_ms_per_s)} ms/s",
        f"query encoder CPU {_num(rep.encoder_cpu_ms, '.2f')} ms/query (in process, hot loop); "
        f"search_uncached - search_cached {_num(delta, '.2f')} ms",
        "cpu = server utime+stime per request, ms; wall = round trip, ms; "
        "x cached = cpu / search_cached cpu",
        f"{'list':<18} {'n':>5} {'subj':>5} {'cpu':>7} {'x cached':>8} {'wall p50':>8} "
        f"{'wall p95':>8} {'QPS':>6} {'budget':>7} {'verdict':>7}",
    ]
    for r in rep.rows():
        lines.append(
            f"{r['name']:<18} {r['n']:>5} {_num(r['subjects'], 'd'):>5} "
            f"{_num(r['cpu_ms_per_request'], '.2f'):>7} {_num(r['x_cached'], '.2f'):>8} "
            f"{_num(r.get('wall_p50_ms')):>8} {_num(r.get('wall_p95_ms')):>8} "
            f"{_num(r.get('qps')):>6} {_num(r['budget_ms']):>7} {r['verdict']:>7}"
        )
    return "\n".join(lines)


def write_json(rep: CpuReport, path: Path) -> None:
    """Write :meth:`CpuReport.as_json` to ``path`` (parents created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rep.as_json(), indent=2) + "\n", encoding="utf-8")
