"""Search latency through HTTP against ``gigsy-search serve``.

:func:`run_latency` is the quick check on an existing data directory (or
``--url``): each query sent once (distinct queries, so the query embedding cache
does not flatter the numbers), client-side latency. :func:`serve_process` starts
the server; the full harness at a chosen scale is ``benchmarks/scale.py``, the
per-list CPU harness ``benchmarks/cpu.py``. The readers of ``/proc``
(:func:`peak_rss_mb`, :func:`process_cpu_s`, :func:`load_average`) follow proc(5).
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from benchmarks.metrics import percentile

__all__ = [
    "CLOCK_TICKS",
    "LatencyReport",
    "ServerProcess",
    "employer_queries",
    "load_average",
    "peak_rss_mb",
    "process_cpu_s",
    "run_latency",
    "serve_process",
]

_REPO_ROOT = Path(__file__).resolve().parent.parent

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
"""Clock ticks per second, the unit of ``utime`` and ``stime`` in
``/proc/<pid>/stat`` (proc(5); 100 on Linux x86-64, so one reading resolves 10 ms)."""
_UTIME_FIELD = 14
"""1-based field numbers of ``utime`` (then ``stime``) in ``/proc/<pid>/stat`` (proc(5))."""
_FIRST_FIELD_AFTER_COMM = 3

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


@dataclass(frozen=True, slots=True)
class ServerProcess:
    """A running ``serve``: its base URL and process id."""

    url: str
    pid: int


def peak_rss_mb(pid: int) -> float | None:
    """Peak resident set size of process ``pid`` in MiB (``VmHWM`` of
    ``/proc/<pid>/status``, proc(5)); ``None`` where there is no such file."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def process_cpu_s(pid: int) -> float:
    """CPU time process ``pid`` has used so far: ``utime + stime`` of
    ``/proc/<pid>/stat`` (fields 14 and 15, proc(5)) in seconds, at the resolution
    of one clock tick (:data:`CLOCK_TICKS`). The file of a process (thread-group
    leader) sums all its threads, live and exited; children are not included.

    Raises:
        OSError: no such process, or no ``/proc`` (not Linux).
        ValueError: the file is not in the proc(5) layout.
    """
    text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    # Field 2 (comm) is in parentheses and may itself hold spaces or parentheses:
    # the fields from 3 on start after the last ")".
    rest = text[text.rindex(")") + 1 :].split()
    at = _UTIME_FIELD - _FIRST_FIELD_AFTER_COMM
    utime, stime = int(rest[at]), int(rest[at + 1])
    return (utime + stime) / CLOCK_TICKS


def load_average() -> tuple[float, float, float]:
    """The 1-, 5- and 15-minute load averages of ``/proc/loadavg`` (proc(5)).

    Raises:
        OSError: no ``/proc/loadavg`` (not Linux).
    """
    one, five, fifteen = Path("/proc/loadavg").read_text(encoding="ascii").split()[:3]
    return float(one), float(five), float(fifteen)


@contextmanager
def serve_process(
    data_dir: Path,
    port: int,
    env: dict[str, str] | None = None,
    args: Sequence[str] = (),
    *,
    prefix: Sequence[str] = (),
    start_timeout_s: float = 120.0,
) -> Iterator[ServerProcess]:
    """Run ``gigsy-search serve`` (this checkout's code) in ``data_dir`` until the
    block ends; its log goes to ``data_dir/var/serve.log``.

    Args:
        data_dir: the working directory (the data is its ``./var``).
        port: TCP port on 127.0.0.1.
        env: extra environment variables for the server.
        args: extra ``serve`` options.
        prefix: a command the server runs under (e.g. ``valgrind --tool=callgrind``);
            the process's pid is then that command's.
        start_timeout_s: seconds the server may take to answer ``/healthz``.

    Raises:
        RuntimeError: the server exited or was not healthy within ``start_timeout_s``.
    """
    # The load generator is one key sending as fast as it can: the per-key rate
    # limits (meant for people) would measure themselves, not the service.
    path = os.pathsep.join(p for p in (str(_REPO_ROOT), os.environ.get("PYTHONPATH")) if p)
    env = {
        **os.environ,
        "PYTHONPATH": path,
        "HF_HUB_OFFLINE": "1",
        "GIGSY_RATE_LIMIT__ENABLED": "false",
        **(env or {}),
    }
    log_path = data_dir / "var" / "serve.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [
                *prefix,
                sys.executable,
                "-c",
                "from search_service.cli import app; app()",
                "serve",
                "--port",
                str(port),
                "--log-level",
                "warning",
                *args,
            ],
            cwd=data_dir,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
                raise RuntimeError(f"serve exited with {proc.returncode}: {tail}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            raise RuntimeError(f"serve did not become healthy within {start_timeout_s:g} s")
        yield ServerProcess(url, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def _server(data_dir: Path, port: int, env: dict[str, str] | None = None) -> Iterator[str]:
    with serve_process(data_dir, port, env) as server:
        yield server.url


def _create_key(data_dir: Path) -> str:
    path = os.pathsep.join(p for p in (str(_REPO_ROOT), os.environ.get("PYTHONPATH")) if p)
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from search_service.cli import app; app()",
            "create-api-key",
            "--role",
            "employer",
            "--name",
            "benchmark",
        ],
        cwd=data_dir,
        env={**os.environ, "PYTHONPATH": path},
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
