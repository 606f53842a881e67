"""HTTP load for the latency harness: timed requests with their server-side stages.

Every response of the search routes carries a ``Server-Timing`` header
(:class:`search_service.metrics.StageTimingMiddleware`): the time of each stage
(query embedding, vector-store query, SQL hydration, explanation, JSON
serialisation) and ``app``, the whole time inside the application. The client
measures the round trip; ``http`` is the round trip minus ``app`` (the socket,
HTTP parsing in uvicorn and the client itself).

Given a CPU clock of the server (seconds of CPU it has used, e.g.
:func:`benchmarks.latency.process_cpu_s` of its pid), a scenario and a QPS run
also record the server's CPU over their requests: read before the first request
and after the last, so it covers everything the server did meanwhile (its
background jobs included).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from benchmarks.metrics import percentile
from search_service.metrics import STAGES, TOTAL_STAGE, parse_server_timing

__all__ = [
    "COLUMNS",
    "Call",
    "CpuClock",
    "QpsResult",
    "ScenarioResult",
    "measure_qps",
    "run_scenario",
    "send",
]

COLUMNS = (*STAGES, "other", TOTAL_STAGE, "http", "e2e")
"""The per-stage columns of a scenario: the server's stages, ``other`` (``app``
minus the stages: middleware, authentication, the session and its commit, thread
pool hops, paging and boosts), ``app`` (all of the server's time), ``http``
(round trip minus ``app``) and ``e2e`` (round trip)."""


CpuClock = Callable[[], float]
"""Seconds of CPU the server has used so far (monotonic; only differences count)."""


@dataclass(frozen=True, slots=True)
class Call:
    """One request: method, path, JSON body (or ``None``) and headers."""

    method: str
    path: str
    body: dict[str, Any] | None
    headers: dict[str, str]


@dataclass(slots=True)
class ScenarioResult:
    """The timed requests of one scenario, ms per column of :data:`COLUMNS`.

    Attributes:
        name: the scenario.
        columns: ms per request, one list per column of :data:`COLUMNS`.
        results: results returned per request.
        wall_s: wall time of the whole scenario, seconds.
        cpu_s: the server's CPU over the scenario, seconds (``None``: not measured).
        subjects: distinct subjects (gigs, students) its requests were about
            (``None``: the list has no subject).
    """

    name: str
    columns: dict[str, list[float]] = field(default_factory=dict)
    results: list[int] = field(default_factory=list)
    wall_s: float = 0.0
    cpu_s: float | None = None
    subjects: int | None = None

    @property
    def n(self) -> int:
        """Requests timed."""
        return len(self.columns.get("e2e", []))

    @property
    def cpu_ms_per_request(self) -> float | None:
        """The server's CPU per request, ms (``None``: not measured, or no request)."""
        if self.cpu_s is None or not self.n:
            return None
        return self.cpu_s * 1000 / self.n

    def quantile(self, column: str, q: float) -> float | None:
        """The ``q``-th percentile (0-100) of ``column`` in ms (``None`` when no request
        had that stage)."""
        values = self.columns.get(column)
        return percentile(values, q) if values else None

    def as_json(self) -> dict[str, Any]:
        """``{n, subjects, mean_results, cpu_ms_per_request, stages: {column: {p50, p95,
        p99, mean}}}`` in ms."""
        stages: dict[str, dict[str, float]] = {}
        for col, values in self.columns.items():
            if values:
                stages[col] = {
                    "p50": percentile(values, 50),
                    "p95": percentile(values, 95),
                    "p99": percentile(values, 99),
                    "mean": sum(values) / len(values),
                }
        mean_results = sum(self.results) / len(self.results) if self.results else 0.0
        return {
            "n": self.n,
            "subjects": self.subjects,
            "mean_results": mean_results,
            "cpu_ms_per_request": self.cpu_ms_per_request,
            "stages": stages,
        }


@dataclass(frozen=True, slots=True)
class QpsResult:
    """One QPS run.

    Attributes:
        clients: concurrent client threads.
        qps: requests completed per second of wall time.
        requests: requests completed.
        wall_s: wall time, seconds.
        cpu_s: the server's CPU over the run, seconds (``None``: not measured).
    """

    clients: int
    qps: float
    requests: int
    wall_s: float
    cpu_s: float | None = None

    @property
    def cpu_ms_per_request(self) -> float | None:
        """The server's CPU per request, ms (``None``: not measured)."""
        if self.cpu_s is None or not self.requests:
            return None
        return self.cpu_s * 1000 / self.requests


def send(client: httpx.Client, call: Call) -> httpx.Response:
    """Send one call; its response.

    Raises:
        RuntimeError: the response was not 200.
    """
    r = client.request(call.method, call.path, json=call.body, headers=call.headers)
    if r.status_code != 200:
        raise RuntimeError(f"{call.method} {call.path}: {r.status_code}: {r.text[:500]}")
    return r


def run_scenario(
    client: httpx.Client,
    name: str,
    calls: Sequence[Call],
    *,
    cpu_clock: CpuClock | None = None,
    subjects: int | None = None,
) -> ScenarioResult:
    """Send ``calls`` one after another; record each round trip and its stages, and
    with ``cpu_clock`` the server's CPU from before the first request to after the
    last.

    A stage a request did not run counts as 0 ms for it (a cached query embedding
    still runs ``embed``: the cache look-up), so every column has one value per
    request and the columns' percentiles are comparable.

    Raises:
        RuntimeError: a request did not return 200.
    """
    out = ScenarioResult(name, {c: [] for c in COLUMNS}, subjects=subjects)
    cpu_before = cpu_clock() if cpu_clock is not None else None
    started = time.perf_counter()
    for call in calls:
        t0 = time.perf_counter()
        r = send(client, call)
        e2e = (time.perf_counter() - t0) * 1000
        timing = parse_server_timing(r.headers.get("Server-Timing", ""))
        for stage in STAGES:
            out.columns[stage].append(timing.get(stage, 0.0))
        app = timing.get(TOTAL_STAGE, 0.0)
        out.columns["other"].append(max(0.0, app - sum(timing.get(s, 0.0) for s in STAGES)))
        out.columns[TOTAL_STAGE].append(app)
        out.columns["http"].append(max(0.0, e2e - app))
        out.columns["e2e"].append(e2e)
        out.results.append(len(r.json().get("results", [])))
    out.wall_s = time.perf_counter() - started
    if cpu_clock is not None and cpu_before is not None:
        out.cpu_s = cpu_clock() - cpu_before
    return out


def measure_qps(
    base_url: str,
    calls: Sequence[Call],
    *,
    clients: int,
    duration_s: float,
    cpu_clock: CpuClock | None = None,
) -> QpsResult:
    """Requests per second completed by ``clients`` threads, each with its own
    connection, cycling through ``calls`` for ``duration_s`` seconds. Every client
    sends at least one request, even when it starts after the deadline (a starved
    machine), so a run never reports a rate from nothing and a failing server
    always raises. With ``cpu_clock``, the server's CPU from before the threads
    start to after the last one ends.

    Raises:
        RuntimeError: a request did not return 200.
    """
    lock = threading.Lock()
    done = [0]
    errors: list[BaseException] = []
    stop = time.perf_counter() + duration_s

    def worker(k: int) -> None:
        i = k
        with httpx.Client(base_url=base_url, timeout=60) as client:
            while not errors:
                try:
                    send(client, calls[i % len(calls)])
                except BaseException as exc:  # reported by the caller's thread
                    errors.append(exc)
                    return
                i += clients
                with lock:
                    done[0] += 1
                if time.perf_counter() >= stop:
                    return

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    cpu_before = cpu_clock() if cpu_clock is not None else None
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    cpu_s = cpu_clock() - cpu_before if cpu_clock is not None and cpu_before is not None else None
    if errors:
        raise RuntimeError(f"QPS run failed: {errors[0]}") from errors[0]
    return QpsResult(clients, done[0] / wall, done[0], wall, cpu_s)
