"""Search latency through HTTP: p50/p95/p99 and QPS of N searches against ``serve``.

Starts ``gigsy-search serve`` in the given data directory (or uses ``--url``),
creates an employer key, sends each query once (distinct queries, so the query
embedding cache does not flatter the numbers), and reports client-side latency.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from benchmarks.metrics import percentile

__all__ = ["LatencyReport", "employer_queries", "run_latency"]

_FALLBACK_QUERIES = (
    "react developer with figma",
    "certified public accountant",
    "pastry chef for weekend events",
    "python data analyst sql",
    "social media marketing intern",
    "math tutor for high school",
    "video editor premiere pro",
    "customer support english spanish",
    "ux designer prototypes",
    "mechanical engineering cad",
    "bookkeeping quickbooks",
    "personal trainer nutrition",
)


def employer_queries(n: int, jobs_csv: Path | None) -> list[str]:
    """``n`` distinct employer-style queries: real job titles when the CSV exists.

    Titles come from ``../shared/data/jobs/linkedin_jobs_2023_sample.csv`` (column
    ``title``), lowercased and de-duplicated; otherwise a built-in list is cycled
    with a numeric suffix.
    """
    out: list[str] = []
    if jobs_csv is not None and jobs_csv.is_file():
        csv.field_size_limit(sys.maxsize)
        with jobs_csv.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                title = " ".join(row.get("title", "").lower().split())[:200]
                if title and title not in out:
                    out.append(title)
                if len(out) == n:
                    return out
    i = 0
    while len(out) < n:
        q = _FALLBACK_QUERIES[i % len(_FALLBACK_QUERIES)]
        out.append(q if i < len(_FALLBACK_QUERIES) else f"{q} {i}")
        i += 1
    return out


@dataclass(slots=True)
class LatencyReport:
    """Client-side latencies (ms) and server-reported ``tookMs``."""

    mode: str
    latencies_ms: list[float]
    server_ms: list[float]
    wall_s: float

    def summary(self) -> str:
        """One line: count, p50/p95/p99, mean, QPS, server p50."""
        lat = self.latencies_ms
        return (
            f"{self.mode:<8} n={len(lat)}  p50={percentile(lat, 50):.1f} ms  "
            f"p95={percentile(lat, 95):.1f} ms  p99={percentile(lat, 99):.1f} ms  "
            f"mean={sum(lat) / len(lat):.1f} ms  QPS={len(lat) / self.wall_s:.1f}  "
            f"(server tookMs p50={percentile(self.server_ms, 50):.1f} ms)"
        )


@contextmanager
def _server(data_dir: Path, port: int, env: dict[str, str] | None = None) -> Iterator[str]:
    exe = Path(sys.executable).with_name("gigsy-search")
    # The load generator is one key sending as fast as it can: the per-key rate
    # limits (meant for people) would measure themselves, not the service.
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "GIGSY_RATE_LIMIT__ENABLED": "false",
        **(env or {}),
    }
    proc = subprocess.Popen(
        [str(exe), "serve", "--port", str(port), "--log-level", "warning"],
        cwd=data_dir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"serve exited with {proc.returncode}: {err[-2000:]}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            raise RuntimeError("serve did not become healthy within 120 s")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _create_key(data_dir: Path) -> str:
    exe = Path(sys.executable).with_name("gigsy-search")
    out = subprocess.run(
        [str(exe), "create-api-key", "--role", "employer", "--name", "benchmark"],
        cwd=data_dir,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.split()[-1]


def run_latency(
    *,
    data_dir: Path,
    queries: list[str],
    modes: list[str],
    url: str | None = None,
    key: str | None = None,
    port: int = 8765,
    warmup: int = 5,
) -> list[LatencyReport]:
    """Split ``queries`` evenly over ``modes``; send each once, sequentially, timed.

    Raises:
        RuntimeError: the server could not be started or a request failed.
    """
    reports: list[LatencyReport] = []
    key = key or _create_key(data_dir)
    headers = {"Authorization": f"Bearer {key}"}

    def _run(base: str) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            for i in range(warmup):
                client.post("/v1/search", json={"query": f"warm up query {i}", "limit": 20})
            per_mode = len(queries) // len(modes)
            for m, mode in enumerate(modes):
                lat: list[float] = []
                server: list[float] = []
                started = time.perf_counter()
                # A fresh slice per mode: no query embedding is served from the cache.
                for q in queries[m * per_mode : (m + 1) * per_mode]:
                    t0 = time.perf_counter()
                    r = client.post("/v1/search", json={"query": q, "mode": mode, "limit": 20})
                    lat.append((time.perf_counter() - t0) * 1000)
                    if r.status_code != 200:
                        raise RuntimeError(f"{r.status_code}: {r.text}")
                    server.append(float(r.json()["tookMs"]))
                reports.append(LatencyReport(mode, lat, server, time.perf_counter() - started))

    if url:
        _run(url)
    else:
        with _server(data_dir, port) as base:
            _run(base)
    return reports
