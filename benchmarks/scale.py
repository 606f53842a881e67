"""The latency harness at a chosen scale: ``python -m benchmarks latency --profiles N``.

1. Build (or reuse) N demo profiles and N/10 demo gigs, timing indexing
   (:mod:`benchmarks.scale_build`).
2. Start ``gigsy-search serve`` on that data (embedded default: SQLite + Qdrant
   Edge) and time every ranked list, sequentially over HTTP, with each response's
   server stages (:mod:`benchmarks.loadgen`) and the server's CPU per request:
   the lists of :mod:`benchmarks.cpu` (employer hybrid search with two filters,
   uncached and cached; browse; students' gig search, cached; candidates;
   recommended gigs; applicants; similar profiles; similar gigs), then QPS of the
   cached searches with 1, 2, 4 and 8 concurrent clients, the edit-to-searchable
   latency through the API (the method of :mod:`benchmarks.freshness`), the
   query-embedding cache hit ratio from ``/metrics`` and the server's peak RSS
   (``VmHWM``).
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
from benchmarks.cpu import (
    LISTS,
    Actors,
    apply_to_gigs,
    list_scenarios,
    measure_lists,
    prepare_actors,
    qps_curve,
)
from benchmarks.freshness import Edit, free_port, new_tokens, parse_metrics, timed_edits
from benchmarks.latency import employer_queries, peak_rss_mb, process_cpu_s, serve_process
from benchmarks.loadgen import COLUMNS, QpsResult, ScenarioResult
from benchmarks.metrics import percentile
from benchmarks.scale_build import (
    FP32_SAMPLE,
    BuildReport,
    build_data,
    data_settings,
    profile_texts,
)
from search_service.entities import ENTITIES
from search_service.runtime import Runtime

__all__ = ["ScaleReport", "format_report", "run_scale", "write_json"]

_WARMUP = 10
"""Untimed requests per list before its timed ones."""
_APPLICANTS = 3
"""Applications per subject gig (the applicants lists)."""
_EDITED_STUDENTS = 10
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
    qps: list[QpsResult] = field(default_factory=list)
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

    def qps_at(self, clients: int) -> float | None:
        """QPS of the cached searches with ``clients`` clients (``None``: not run)."""
        return next((q.qps for q in self.qps if q.clients == clients), None)

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
            "qps_1_client": self.qps_at(1),
            "qps_8_clients": self.qps_at(8),
            "qps": {
                str(q.clients): {"qps": q.qps, "cpu_ms_per_request": q.cpu_ms_per_request}
                for q in self.qps
            },
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


def _edits(client: httpx.Client, actors: Actors, edits: int) -> list[Edit]:
    """Timed edit-to-searchable edits round-robin over the first demo students (one
    untimed first), with :func:`benchmarks.freshness.timed_edits`."""
    tokens = new_tokens(edits + 1, random.Random())
    students = [headers for _, headers in actors.students[:_EDITED_STUDENTS]]
    return timed_edits(
        client, students, actors.searcher, tokens, warmup=1, poll_s=0.02, timeout_s=30.0
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
        queries: timed requests per list (after a few untimed ones).
        baseline_queries: queries per baseline.
        edits: timed edit-to-searchable edits.
        qps_s: seconds per QPS measurement (1, 2, 4 and 8 clients).
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
    n = _WARMUP + queries
    actors = prepare_actors(data_dir, n)
    texts = employer_queries(2 * n, jobs_csv)
    scenarios = list_scenarios(actors, texts[:n], texts[n:], requests=queries, warmup=_WARMUP)
    token = secrets.token_urlsafe(32)
    env = {"GIGSY_METRICS__TOKEN": token}
    with (
        serve_process(data_dir, free_port(), env, report.serve_args) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):

        def cpu_clock() -> float:
            return process_cpu_s(server.pid)

        say(f"applications: {_APPLICANTS} per gig, {len(actors.gigs)} gigs")
        apply_to_gigs(client, actors, _APPLICANTS)
        report.scenarios = measure_lists(client, scenarios, cpu_clock, say)
        cached = scenarios[LISTS.index("search_cached")].calls
        report.qps = qps_curve(server.url, cached, duration_s=qps_s, cpu_clock=cpu_clock, say=say)
        say(f"edit-to-searchable: {edits} edits")
        report.edits = _edits(client, actors, edits)
        scrape = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        report.cache = parse_metrics(scrape.text, _CACHE_METRICS)
        report.peak_rss_mb = peak_rss_mb(server.pid)
    if baselines:
        rt = Runtime.open(data_settings(data_dir), entities=ENTITIES)
        try:
            ids, docs = profile_texts(rt)
            base_q = texts[_WARMUP : _WARMUP + baseline_queries]
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
    """The report as text: per-list server CPU and stage percentiles, the QPS
    curve, then the headline figures."""
    b = rep.build
    lines = [
        f"{b.profiles} profiles, {b.gigs} gigs, encoder {b.encoder}"
        + (f", serve {' '.join(rep.serve_args)}" if rep.serve_args else ""),
        "cpu = server utime+stime per request, ms; per stage, ms (p50 / p95 / p99); "
        "http = round trip - app; e2e = round trip",
        f"{'list':<18} {'n':>4} {'cpu':>6} " + " ".join(f"{c:>17}" for c in COLUMNS),
    ]
    for s in rep.scenarios:
        cells = [
            f"{_ms(s.quantile(c, 50))}/{_ms(s.quantile(c, 95))}/{_ms(s.quantile(c, 99))}"
            for c in COLUMNS
        ]
        cpu = _ms(s.cpu_ms_per_request)
        lines.append(f"{s.name:<18} {s.n:>4} {cpu:>6} " + " ".join(f"{c:>17}" for c in cells))
    lines.append(
        "QPS of cached searches: "
        + ", ".join(
            f"{q.clients} client(s) {q.qps:.1f} (cpu {_ms(q.cpu_ms_per_request)} ms)"
            for q in rep.qps
        )
    )
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
