"""HTTP load for the latency harness: timed requests with their server-side stages.

Every response of the search routes carries a ``Server-Timing`` header
(:class:`search_service.metrics.StageTimingMiddleware`): the time of each stage
(query embedding, vector-store query, SQL hydration, explanation, JSON
serialisation) and ``app``, the whole time inside the application. The client
measures the round trip; ``http`` is the round trip minus ``app`` (the socket,
HTTP parsing in uvicorn and the client itself).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from benchmarks.metrics import percentile
from search_service.metrics import STAGES, TOTAL_STAGE, parse_server_timing

__all__ = [
    "COLUMNS",
    "Call",
    "ScenarioResult",
    "measure_qps",
    "run_scenario",
]

COLUMNS = (*STAGES, "other", TOTAL_STAGE, "http", "e2e")
"""The per-stage columns of a scenario: the server's stages, ``other`` (``app``
minus the stages: middleware, authentication, the session and its commit, thread
pool hops, paging and boosts), ``app`` (all of the server's time), ``http``
(round trip minus ``app``) and ``e2e`` (round trip)."""


@dataclass(frozen=True, slots=True)
class Call:
    """One request: method, path, JSON body (or ``None``) and headers."""

    method: str
    path: str
    body: dict[str, Any] | None
    headers: dict[str, str]


@dataclass(slots=True)
class ScenarioResult:
    """The timed requests of one scenario, ms per column of :data:`COLUMNS`."""

    name: str
    columns: dict[str, list[float]] = field(default_factory=dict)
    results: list[int] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def n(self) -> int:
        """Requests timed."""
        return len(self.columns.get("e2e", []))

    def quantile(self, column: str, q: float) -> float | None:
        """The ``q``-th percentile (0-100) of ``column`` in ms (``None`` when no request
        had that stage)."""
        values = self.columns.get(column)
        return percentile(values, q) if values else None

    def as_json(self) -> dict[str, Any]:
        """``{n, mean_results, stages: {column: {p50, p95, p99, mean}}}`` in ms."""
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
        return {"n": self.n, "mean_results": mean_results, "stages": stages}


def _send(client: httpx.Client, call: Call) -> httpx.Response:
    r = client.request(call.method, call.path, json=call.body, headers=call.headers)
    if r.status_code != 200:
        raise RuntimeError(f"{call.method} {call.path}: {r.status_code}: {r.text[:500]}")
    return r


def run_scenario(client: httpx.Client, name: str, calls: Sequence[Call]) -> ScenarioResult:
    """Send ``calls`` one after another; record each round trip and its stages.

    A stage a request did not run counts as 0 ms for it (a cached query embedding
    still runs ``embed``: the cache look-up), so every column has one value per
    request and the columns' percentiles are comparable.

    Raises:
        RuntimeError: a request did not return 200.
    """
    out = ScenarioResult(name, {c: [] for c in COLUMNS})
    started = time.perf_counter()
    for call in calls:
        t0 = time.perf_counter()
        r = _send(client, call)
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
    return out


def measure_qps(
    base_url: str, calls: Sequence[Call], *, clients: int, duration_s: float
) -> tuple[float, int]:
    """Requests per second completed by ``clients`` threads, each with its own
    connection, cycling through ``calls`` for ``duration_s`` seconds. Every client
    sends at least one request, even when it starts after the deadline (a starved
    machine), so a run never reports a rate from nothing and a failing server
    always raises.

    Returns:
        ``(QPS, requests completed)``.

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
                    _send(client, calls[i % len(calls)])
                except BaseException as exc:  # reported by the caller's thread
                    errors.append(exc)
                    return
                i += clients
                with lock:
                    done[0] += 1
                if time.perf_counter() >= stop:
                    return

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"QPS run failed: {errors[0]}") from errors[0]
    return done[0] / wall, done[0]
