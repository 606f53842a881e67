"""The latency harness at a chosen scale: ``python -m benchmarks latency --profiles N``.

1. Build (or reuse) N demo profiles and N/10 demo gigs, timing indexing
   (:mod:`benchmarks.scale_build`).
2. Start ``gigsy-search serve`` on that data (embedded default: SQLite + Qdrant
   Edge) and time, sequentially over HTTP, with each response's server stages
   (:mod:`benchmarks.loadgen`):

   * ``search_uncached``: employer hybrid searches with two filters
     (availability and a language), every query text new to the server;
   * ``search_cached``: the same searches again (query embeddings cached);
   * ``gig_search``: students' hybrid gig searches (new query texts);
   * ``candidates``: ``GET /v1/gigs/{id}/candidates`` over the demo employer's
     open gigs;
   * ``recommended``: ``GET /v1/me/recommended-gigs`` over demo students;

   then QPS of the cached searches with 1 and 8 concurrent clients, the
   edit-to-searchable latency through the API (the method of
   :mod:`benchmarks.freshness`), the query-embedding cache hit ratio from
   ``/metrics`` and the server's peak RSS (``VmHWM``).
3. Baselines on the same documents and queries (:mod:`benchmarks.baselines`).

Prints a table and writes a JSON report.
"""

from __future__ import annotations

import json
import random
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks.baselines import BaselineResult, qdrant_local, rank_bm25_scan
from benchmarks.freshness import Edit, free_port, new_tokens, parse_metrics, timed_edits
from benchmarks.latency import employer_queries, peak_rss_mb, serve_process
from benchmarks.loadgen import COLUMNS, Call, ScenarioResult, measure_qps, run_scenario
from benchmarks.metrics import percentile
from benchmarks.scale_build import (
    FP32_SAMPLE,
    BuildReport,
    build_data,
    data_settings,
    profile_texts,
)
from search_service.db import session_scope
from search_service.gigs.demo import DEMO_EMPLOYER_CLERK_ID
from search_service.gigs.repository import owner_gigs
from search_service.runtime import Runtime, open_engine
from search_service.users.api_keys import create_api_key, create_service_user
from search_service.users.repository import find_user_by_clerk_id

__all__ = ["SEARCH_FILTERS", "ScaleReport", "format_report", "run_scale"]

SEARCH_FILTERS: dict[str, Any] = {"availability": "part_time", "languages": ["English"]}
"""The two filters of the employer searches: the commonest demo availability
(35% of students) and the language most demo students list."""

_STUDENTS = 20
_CACHE_METRICS = (
    "gigsy_query_embedding_cache_hits_total",
    "gigsy_query_embedding_cache_misses_total",
    "gigsy_query_embedding_cache_hit_ratio",
)


@dataclass(slots=True)
class ScaleReport:
    """Everything one run measured (ms unless named otherwise)."""

    build: BuildReport
    scenarios: list[ScenarioResult] = field(default_factory=list)
    qps: dict[int, float] = field(default_factory=dict)
    edits: list[Edit] = field(default_factory=list)
    peak_rss_mb: float | None = None
    cache: dict[str, float] = field(default_factory=dict)
    baselines: list[BaselineResult] = field(default_factory=list)
    serve_args: list[str] = field(default_factory=list)

    def scenario(self, name: str) -> ScenarioResult:
        """The scenario called ``name``.

        Raises:
            KeyError: no such scenario.
        """
        for s in self.scenarios:
            if s.name == name:
                return s
        raise KeyError(name)

    def as_json(self) -> dict[str, Any]:
        """The headline figures at the top level, then the details."""
        unc, cached = self.scenario("search_uncached"), self.scenario("search_cached")
        edit_ms = [e.latency_ms for e in self.edits if e.latency_ms is not None]
        base = {b.name: b for b in self.baselines}
        b = self.build
        return {
            "profiles": b.profiles,
            "gigs": b.gigs,
            "encoder": b.encoder,
            "e2e_uncached_p50_ms": unc.quantile("e2e", 50),
            "e2e_uncached_p95_ms": unc.quantile("e2e", 95),
            "e2e_cached_p50_ms": cached.quantile("e2e", 50),
            "e2e_cached_p95_ms": cached.quantile("e2e", 95),
            "qps_1_client": self.qps.get(1),
            "qps_8_clients": self.qps.get(8),
            "peak_rss_mb": self.peak_rss_mb,
            "index_profiles_per_s": b.index_profiles_per_s,
            "index_fp32_profiles_per_s": b.index_fp32_profiles_per_s,
            "reindex_unchanged_s": b.reindex_unchanged_s,
            "refresh_one_ms": b.refresh_one_ms,
            "edit_to_searchable_p50_ms": percentile(edit_ms, 50) if edit_ms else None,
            "edit_to_searchable_p95_ms": percentile(edit_ms, 95) if edit_ms else None,
            "edit_failures": sum(1 for e in self.edits if e.latency_ms is None),
            "baseline_rank_bm25_p95_ms": base["rank_bm25"].p95_ms if "rank_bm25" in base else None,
            "baseline_qdrant_local_p95_ms": (
                base["qdrant_local"].p95_ms if "qdrant_local" in base else None
            ),
            "query_cache": self.cache,
            "serve_args": self.serve_args,
            "build": b.as_json(),
            "scenarios": {s.name: s.as_json() for s in self.scenarios},
            "baselines": {
                x.name: {
                    "documents": x.documents,
                    "queries": len(x.latencies_ms),
                    "p50_ms": x.p50_ms,
                    "p95_ms": x.p95_ms,
                    "build_s": x.build_s,
                }
                for x in self.baselines
            },
        }


@dataclass(frozen=True, slots=True)
class _Keys:
    searcher: dict[str, str]
    owner: dict[str, str]
    gig_ids: list[int]
    students: list[dict[str, str]]


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _keys(data_dir: Path) -> _Keys:
    """Fresh API keys (SQL only; no index needed): an employer service account, the
    demo employer (owner of the demo gigs) and the first demo students."""
    engine = open_engine(data_settings(data_dir))
    try:
        with session_scope(engine) as session:
            svc = create_service_user(session, role="employer", name="latency benchmark")
            _, searcher = create_api_key(session, role="employer", name="bench", user_id=svc.id)
            owner = find_user_by_clerk_id(session, DEMO_EMPLOYER_CLERK_ID)
            if owner is None or owner.id is None:
                raise RuntimeError(f"no {DEMO_EMPLOYER_CLERK_ID} in the data")
            _, owner_key = create_api_key(session, role="employer", name="bench", user_id=owner.id)
            gigs = owner_gigs(session, owner.id, status="open", limit=100, offset=0)
            students: list[dict[str, str]] = []
            for i in range(_STUDENTS):
                user = find_user_by_clerk_id(session, f"demo_{i:05d}")
                if user is not None and user.id is not None:
                    _, key = create_api_key(session, role="student", name="bench", user_id=user.id)
                    students.append(_bearer(key))
    finally:
        engine.dispose()
    if not students:
        raise RuntimeError("no demo students in the data")
    gig_ids = [g.id for g in gigs if g.id is not None]
    return _Keys(_bearer(searcher), _bearer(owner_key), gig_ids, students)


def _scenarios(keys: _Keys, queries: list[str], n: int) -> list[tuple[str, list[Call]]]:
    employer = queries[:n]
    student = queries[n : 2 * n]
    search = [
        Call(
            "POST",
            "/v1/search",
            {"query": q, "filters": SEARCH_FILTERS, "limit": 20},
            keys.searcher,
        )
        for q in employer
    ]
    return [
        ("search_uncached", search),
        ("search_cached", search),
        (
            "gig_search",
            [
                Call("POST", "/v1/gigs/search", {"query": q, "limit": 20}, keys.students[i % 2])
                for i, q in enumerate(student)
            ],
        ),
        (
            "candidates",
            [
                Call(
                    "GET",
                    f"/v1/gigs/{keys.gig_ids[i % len(keys.gig_ids)]}/candidates",
                    None,
                    keys.owner,
                )
                for i in range(n)
            ]
            if keys.gig_ids
            else [],
        ),
        (
            "recommended",
            [
                Call("GET", "/v1/me/recommended-gigs", None, keys.students[i % len(keys.students)])
                for i in range(n)
            ],
        ),
    ]


def _edits(client: httpx.Client, keys: _Keys, employer: dict[str, str], edits: int) -> list[Edit]:
    """Timed edit-to-searchable edits round-robin over the demo students (one
    untimed first), with :func:`benchmarks.freshness.timed_edits`."""
    tokens = new_tokens(edits + 1, random.Random())
    return timed_edits(
        client, keys.students[:10], employer, tokens, warmup=1, poll_s=0.02, timeout_s=30.0
    )


def run_scale(
    data_dir: Path,
    *,
    profiles: int,
    queries: int = 200,
    baseline_queries: int = 50,
    edits: int = 30,
    qps_s: float = 15.0,
    seed: int = 42,
    jobs_csv: Path | None = None,
    serve_args: list[str] | None = None,
    baselines: bool = True,
    fp32_sample: int = FP32_SAMPLE,
    say: Any = print,
) -> ScaleReport:
    """Build or reuse the data in ``data_dir`` and measure (see the module docstring).

    Args:
        data_dir: directory whose ``./var`` holds (or will hold) the data.
        profiles: demo students (gigs: a tenth of that).
        queries: requests per timed scenario.
        baseline_queries: queries per baseline.
        edits: timed edit-to-searchable edits.
        qps_s: seconds per QPS measurement.
        seed: demo data seed.
        jobs_csv: real job titles used as query texts (else a built-in list).
        serve_args: extra ``gigsy-search serve`` options (server settings under test).
        baselines: also run the in-process baselines.
        fp32_sample: documents of the plain fp32 sentence-transformers comparison (0: skip).

    Raises:
        RuntimeError: the server failed or a request failed.
        ValueError: ``data_dir`` holds another build.
    """
    build = build_data(data_dir, profiles=profiles, seed=seed, fp32_sample=fp32_sample, say=say)
    report = ScaleReport(build=build)
    report.serve_args = list(serve_args or [])
    keys = _keys(data_dir)
    texts = employer_queries(2 * queries + 20, jobs_csv)
    warm, texts = texts[:20], texts[20:]
    token = secrets.token_urlsafe(32)
    env = {"GIGSY_METRICS__TOKEN": token}
    with (
        serve_process(data_dir, free_port(), env, report.serve_args) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        for q in warm:
            client.post("/v1/search", json={"query": q, "limit": 20}, headers=keys.searcher)
        for name, calls in _scenarios(keys, texts, queries):
            if not calls:
                say(f"{name}: skipped (nothing to request)")
                continue
            say(f"{name}: {len(calls)} requests")
            report.scenarios.append(run_scenario(client, name, calls))
        cached = _scenarios(keys, texts, queries)[1][1]
        for clients in (1, 8):
            say(f"QPS with {clients} client(s), {qps_s:.0f} s")
            report.qps[clients], _ = measure_qps(
                server.url, cached, clients=clients, duration_s=qps_s
            )
        say(f"edit-to-searchable: {edits} edits")
        report.edits = _edits(client, keys, keys.searcher, edits)
        scrape = client.get("/metrics", headers=_bearer(token))
        report.cache = parse_metrics(scrape.text, _CACHE_METRICS)
        report.peak_rss_mb = peak_rss_mb(server.pid)
    if baselines:
        rt = Runtime.open(data_settings(data_dir))
        try:
            ids, docs = profile_texts(rt)
            base_q = texts[:baseline_queries]
            say(f"baselines: {len(docs)} documents, {len(base_q)} queries")
            report.baselines.append(rank_bm25_scan(rt, docs, base_q))
            del docs
            report.baselines.append(qdrant_local(rt, ids, base_q))
        finally:
            rt.close()
    return report


def _ms(v: float | None) -> str:
    return f"{v:.1f}" if v is not None else "-"


def format_report(rep: ScaleReport) -> str:
    """The report as text: per-scenario stage percentiles, then the headline figures."""
    b = rep.build
    lines = [
        f"{b.profiles} profiles, {b.gigs} gigs, encoder {b.encoder}"
        + (f", serve {' '.join(rep.serve_args)}" if rep.serve_args else ""),
        "per stage, ms (p50 / p95 / p99); http = round trip - app; e2e = round trip",
        f"{'scenario':<16} {'n':>4} " + " ".join(f"{c:>17}" for c in COLUMNS),
    ]
    for s in rep.scenarios:
        cells = [
            f"{_ms(s.quantile(c, 50))}/{_ms(s.quantile(c, 95))}/{_ms(s.quantile(c, 99))}"
            for c in COLUMNS
        ]
        lines.append(f"{s.name:<16} {s.n:>4} " + " ".join(f"{c:>17}" for c in cells))
    j = rep.as_json()
    for key in (
        "e2e_uncached_p50_ms",
        "e2e_uncached_p95_ms",
        "e2e_cached_p95_ms",
        "qps_1_client",
        "qps_8_clients",
        "peak_rss_mb",
        "index_profiles_per_s",
        "index_fp32_profiles_per_s",
        "reindex_unchanged_s",
        "refresh_one_ms",
        "edit_to_searchable_p50_ms",
        "edit_to_searchable_p95_ms",
        "edit_failures",
        "baseline_rank_bm25_p95_ms",
        "baseline_qdrant_local_p95_ms",
    ):
        value = j[key]
        lines.append(f"{key:<30} {value:.1f}" if isinstance(value, float) else f"{key:<30} {value}")
    if rep.cache:
        lines.append("query cache: " + ", ".join(f"{k} {v:g}" for k, v in rep.cache.items()))
    return "\n".join(lines)


def write_json(rep: ScaleReport, path: Path) -> None:
    """Write :meth:`ScaleReport.as_json` to ``path`` (parents created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rep.as_json(), indent=2) + "\n", encoding="utf-8")
