"""Instructions per request of every ranked list: ``serve`` run under Valgrind's callgrind.

Why: CPU time per request (:mod:`benchmarks.cpu`) differs by 15-30% from one run to
the next on this shared machine, so a change worth 5% cannot be told from noise.
Callgrind counts the instructions the server executes in user space (Valgrind user
manual, "Callgrind: a call-graph generating cache and branch-prediction profiler"):
the same code, data and requests give the same count whatever else the machine
runs. Not counted: the kernel (system calls, the futex and epoll work of a hand-off
to a worker thread), cache misses and waiting; a change that saves system calls
shows in ``cpu``, not here. Valgrind runs the server about 50 times slower and one
thread at a time, so the counts are for comparing code side by side, never for
latency.

Method: build or reuse the data, create API keys (as ``cpu`` does), start ``serve``
under ``valgrind --tool=callgrind --instr-atstart=no`` with its scheduler off; for
each list, send its warm-up calls, zero the counters and switch instrumentation on
(``callgrind_control -z``, ``-i on``), send the timed calls one at a time, switch it
off, dump (``-d``) and read the dump's ``totals:`` line. The lists and their
requests are :func:`benchmarks.cpu.list_scenarios`'.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks.cpu import LISTS, ListScenario, apply_to_gigs, list_scenarios, prepare_actors
from benchmarks.freshness import free_port
from benchmarks.latency import employer_queries, load_average, serve_process
from benchmarks.loadgen import Call
from benchmarks.loadgen import send as send_call
from benchmarks.scale_build import build_data

__all__ = [
    "InstructionsReport",
    "callgrind_totals",
    "format_instructions_report",
    "run_instructions",
    "untimed_first",
    "write_json",
]

_START_TIMEOUT_S = 900.0
"""Seconds ``serve`` may take to start under Valgrind (loading the model is slow)."""

_DUMP_TIMEOUT_S = 300.0

_SERVE_ENV = {"GIGSY_SCHEDULER__ENABLED": "false"}
"""The scheduler is off: its jobs (the outbox poll every second) would be counted with
the requests, and under Valgrind they held SQLite's write lock for seconds."""

_DUMP_NAME = re.compile(r"callgrind\.out\.\d+\.\d+")
"""A dump's file name (``callgrind.out.<pid>.<n>``); the one written at exit has no ``.<n>``."""


def callgrind_totals(path: Path) -> int | None:
    """The event count of a callgrind dump: its ``totals:`` line (``Ir``, instructions
    executed), the file's last; ``None`` when it has none yet (a dump still being
    written). Format: Valgrind user manual, "Callgrind Format Specification"."""
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("totals:"):
                return int(line.split()[1])
    return None


@dataclass
class InstructionsReport:
    """What :func:`run_instructions` measured.

    Attributes:
        profiles: demo students in the data.
        requests: timed requests per list.
        warmup: untimed requests per list before them.
        rows: per list, ``name``, ``n`` and ``instructions`` per request.
        load: load averages (1/5/15 min) at ``start`` and ``end``.
    """

    profiles: int
    requests: int
    warmup: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    load: dict[str, tuple[float, float, float]] = field(default_factory=dict)


def _control(pid: int, *args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True)


def _dumped(out_dir: Path, seen: set[Path], timeout_s: float = _DUMP_TIMEOUT_S) -> int:
    """The total of the next dump to appear in ``out_dir``.

    Raises:
        RuntimeError: no complete dump within ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for path in sorted(out_dir.glob("callgrind.out.*")):
            if path in seen or not _DUMP_NAME.fullmatch(path.name):
                continue
            total = callgrind_totals(path)
            if total is not None:
                seen.add(path)
                return total
        time.sleep(0.5)
    raise RuntimeError(f"no callgrind dump in {out_dir} within {timeout_s:g} s")


def untimed_first(scenarios: Sequence[ListScenario], lists: Sequence[str]) -> list[Call]:
    """Calls to send, uncounted, before the counted lists: when ``search_cached`` is
    counted without ``search_uncached``, the latter's calls, which put the query
    embeddings in the server's cache (in :func:`benchmarks.cpu.list_scenarios` the
    cached search repeats the uncached one's texts)."""
    if "search_cached" not in lists or "search_uncached" in lists:
        return []
    return [c for sc in scenarios if sc.name == "search_uncached" for c in sc.calls]


def run_instructions(
    data_dir: Path,
    *,
    profiles: int,
    requests: int = 20,
    warmup: int = 5,
    applicants: int = 3,
    lists: Sequence[str] = LISTS,
    seed: int = 42,
    jobs_csv: Path | None = None,
    say: Callable[[str], object] = print,
) -> InstructionsReport:
    """Build or reuse the data in ``data_dir`` and count (see the module docstring).

    Args:
        data_dir: directory whose ``./var`` holds (or will hold) the data.
        profiles: demo students (gigs: a tenth of that).
        requests: timed requests per list.
        warmup: untimed requests per list before them.
        applicants: applications per subject gig (so applicants lists are not empty).
        lists: names of :data:`benchmarks.cpu.LISTS` to count.
        seed: demo data seed.
        jobs_csv: real job titles used as query texts (else a built-in list).

    Raises:
        RuntimeError: Valgrind is not installed, the server failed or a request failed.
        ValueError: an unknown list name, or ``data_dir`` holds another build.
    """
    unknown = sorted(set(lists) - set(LISTS))
    if unknown:
        raise ValueError(f"unknown lists {unknown}; known: {', '.join(LISTS)}")
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise RuntimeError("needs valgrind and callgrind_control (Debian: apt install valgrind)")
    report = InstructionsReport(profiles, requests, warmup)
    report.load["start"] = load_average()
    build_data(data_dir, profiles=profiles, seed=seed, fp32_sample=0, say=say)
    n = warmup + requests
    actors = prepare_actors(data_dir, n)
    texts = employer_queries(2 * n, jobs_csv)
    scenarios = list_scenarios(actors, texts[:n], texts[n:], requests=requests, warmup=warmup)
    out_dir = data_dir / "var" / "callgrind"
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    prefix = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={out_dir / 'callgrind.out.%p'}",
    ]
    say("starting serve under callgrind (several minutes: Valgrind runs it ~50x slower)")
    with (
        serve_process(
            data_dir, free_port(), _SERVE_ENV, prefix=prefix, start_timeout_s=_START_TIMEOUT_S
        ) as server,
        httpx.Client(base_url=server.url, timeout=600) as client,
    ):
        apply_to_gigs(client, actors, applicants)
        for call in untimed_first(scenarios, lists):
            send_call(client, call)
        seen: set[Path] = set()
        for sc in scenarios:
            if sc.name not in lists:
                continue
            timed = sc.calls[sc.warmup :]
            say(f"{sc.name}: {len(timed)} requests after {sc.warmup + len(sc.prime)} untimed")
            for call in [*sc.prime, *sc.calls[: sc.warmup]]:
                send_call(client, call)
            _control(server.pid, "-z")
            _control(server.pid, "-i", "on")
            for call in timed:
                send_call(client, call)
            _control(server.pid, "-i", "off")
            _control(server.pid, "-d", sc.name)
            total = _dumped(out_dir, seen)
            report.rows.append(
                {"name": sc.name, "n": len(timed), "instructions": total / len(timed)}
            )
    report.load["end"] = load_average()
    return report


def format_instructions_report(rep: InstructionsReport) -> str:
    """The report as a table: millions of instructions per request, and each list's
    ratio to a cached search when that list was counted."""
    cached = next((r["instructions"] for r in rep.rows if r["name"] == "search_cached"), None)
    lines = [
        f"{rep.profiles} profiles; {rep.requests} timed requests per list after "
        f"{rep.warmup} untimed; load {rep.load['start'][0]:.1f} -> {rep.load['end'][0]:.1f}",
        "Minstr = millions of user-space instructions the server executed per request",
        f"{'list':20s} {'n':>4s} {'Minstr':>8s} {'x cached':>9s}",
    ]
    for r in rep.rows:
        ratio = f"{r['instructions'] / cached:9.2f}" if cached else f"{'-':>9s}"
        lines.append(f"{r['name']:20s} {r['n']:4d} {r['instructions'] / 1e6:8.2f} {ratio}")
    return "\n".join(lines)


def write_json(rep: InstructionsReport, path: Path) -> None:
    """Write ``rep`` as JSON to ``path`` (parents created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(rep), indent=2), encoding="utf-8")
