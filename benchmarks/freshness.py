"""Edit-to-searchable latency through the API, on the embedded default.

Loads seeded demo students (``gigsy-search demo --if-empty``), creates an
employer key and one student key for each of the first few demo users, starts
``gigsy-search serve`` with the real model, then edits those students'
headlines round-robin, one edit at a time. Each edit adds a made-up token
(``zq`` + 8 lowercase letters, one BM25 term that no profile contains). The
clock starts just before the ``PATCH`` is sent and stops when a keyword search
for the token returns that student (polled every 20 ms, 30 s timeout): the
latency covers the write, waking the in-process refresh job, re-embedding the
profile, the Qdrant upsert and the search itself.
"""

from __future__ import annotations

import random
import re
import secrets
import socket
import string
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks.latency import _create_key, _server
from benchmarks.metrics import percentile

__all__ = [
    "HEADLINE_MAX",
    "REFRESH_METRICS",
    "TOKEN_PREFIX",
    "Edit",
    "FreshnessReport",
    "edited_headline",
    "free_port",
    "new_tokens",
    "parse_metrics",
    "run_freshness",
    "strip_tokens",
]

TOKEN_PREFIX = "zq"
"""Prefix of the made-up tokens; ``zq`` starts no English word, so no stemming."""
_TOKEN_LETTERS = 8
_TOKEN_RE = re.compile(rf"\b{TOKEN_PREFIX}[a-z]{{{_TOKEN_LETTERS}}}\b")
HEADLINE_MAX = 300
"""``ProfileWrite.headline`` max length."""

REFRESH_METRICS = (
    "gigsy_refresh_profiles_per_second",
    "gigsy_refresh_duration_seconds_count",
    "gigsy_refresh_duration_seconds_sum",
    "gigsy_profiles_indexed_total",
    "gigsy_profiles_embedded_total",
    "gigsy_refresh_failures_total",
    "gigsy_profiles_stale",
    "gigsy_outbox_pending",
)
"""The ``/metrics`` samples printed after a run."""


def new_tokens(n: int, rng: random.Random) -> list[str]:
    """``n`` distinct tokens ``zq`` + 8 random lowercase letters (26**8 ≈ 2e11 choices)."""
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        tok = TOKEN_PREFIX + "".join(rng.choices(string.ascii_lowercase, k=_TOKEN_LETTERS))
        if tok not in seen:
            seen.add(tok)
            out.append(tok)
    return out


def strip_tokens(text: str) -> str:
    """``text`` without benchmark tokens (left by an earlier run), spaces collapsed."""
    return " ".join(_TOKEN_RE.sub(" ", text).split())


def edited_headline(base: str, token: str) -> str:
    """``base`` plus `` token``, ``base`` cut so the result fits :data:`HEADLINE_MAX`."""
    room = HEADLINE_MAX - len(token) - 1
    return f"{base[:room].rstrip()} {token}".lstrip()


def parse_metrics(text: str, names: Iterable[str] = REFRESH_METRICS) -> dict[str, float]:
    """The unlabelled samples called ``names`` in Prometheus text format, in that order
    (names absent from ``text`` are left out)."""
    wanted = list(names)
    found: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#") or "{" in line:
            continue
        parts = line.split()
        if len(parts) >= 2 and parts[0] in wanted:
            try:
                found[parts[0]] = float(parts[1])
            except ValueError:
                continue
    return {n: found[n] for n in wanted if n in found}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(slots=True, frozen=True)
class Edit:
    """One timed edit.

    Attributes:
        user_id: the edited student.
        token: the made-up token the edit added.
        patch_ms: PATCH round trip, ms.
        latency_ms: PATCH sent to the student found by search, ms; ``None`` on timeout.
        searches: keyword searches sent before it was found (or gave up).
    """

    user_id: int
    token: str
    patch_ms: float
    latency_ms: float | None
    searches: int


@dataclass(slots=True)
class FreshnessReport:
    """The timed edits of a run and the server's refresh metrics after it."""

    edits: list[Edit]
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def failures(self) -> int:
        """Edits not searchable within the timeout."""
        return sum(1 for e in self.edits if e.latency_ms is None)

    def summary(self) -> str:
        """Lines: edits and failures, latency p50/p95/p99/max (ms), PATCH p50 (ms),
        then the ``/metrics`` refresh samples."""
        lat = [e.latency_ms for e in self.edits if e.latency_ms is not None]
        patch = [e.patch_ms for e in self.edits]
        lines = [f"edits={len(self.edits)}  failures={self.failures}"]
        if lat:
            lines.append(
                f"edit-to-searchable: p50={percentile(lat, 50):.1f} ms  "
                f"p95={percentile(lat, 95):.1f} ms  p99={percentile(lat, 99):.1f} ms  "
                f"max={max(lat):.1f} ms  "
                f"(searches/edit mean={sum(e.searches for e in self.edits) / len(self.edits):.1f})"
            )
        else:
            lines.append("edit-to-searchable: no edit became searchable")
        if patch:
            lines.append(
                f"PATCH response: p50={percentile(patch, 50):.1f} ms  "
                f"p95={percentile(patch, 95):.1f} ms"
            )
        if self.metrics:
            lines.append("/metrics after the run:")
            lines += [f"  {name} {value:g}" for name, value in self.metrics.items()]
            count = self.metrics.get("gigsy_refresh_duration_seconds_count", 0.0)
            total = self.metrics.get("gigsy_refresh_duration_seconds_sum", 0.0)
            if count:
                lines.append(f"  (mean refresh run that did work: {total / count * 1000:.1f} ms)")
        return "\n".join(lines)


def _cli(data_dir: Path, *args: str) -> str:
    """Run ``gigsy-search *args`` in ``data_dir``; its stdout.

    Raises:
        RuntimeError: the command failed (its stderr tail is in the message).
    """
    exe = Path(sys.executable).with_name("gigsy-search")
    out = subprocess.run(
        [str(exe), *args], cwd=data_dir, capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"gigsy-search {' '.join(args)} failed: {out.stderr[-2000:]}")
    return out.stdout


def _student_key(data_dir: Path, clerk_id: str) -> str:
    out = _cli(data_dir, "create-api-key", "--role", "student", "--user", clerk_id)
    return out.split()[-1]


def _timed_edit(
    client: httpx.Client,
    *,
    student: dict[str, str],
    employer: dict[str, str],
    user_id: int,
    headline: str,
    token: str,
    poll_s: float,
    timeout_s: float,
) -> Edit:
    """PATCH the headline, then search for ``token`` until ``user_id`` is a hit."""
    headers = {**student, "Content-Type": "application/merge-patch+json"}
    body = {"headline": edited_headline(headline, token)}
    t0 = time.perf_counter()
    r = client.patch("/v1/me/profile", json=body, headers=headers)
    patch_ms = (time.perf_counter() - t0) * 1000
    if r.status_code != 200:
        raise RuntimeError(f"PATCH /v1/me/profile: {r.status_code}: {r.text}")
    query = {"query": token, "mode": "keyword", "limit": 5}
    searches = 0
    while True:
        s = client.post("/v1/search", json=query, headers=employer)
        searches += 1
        now = time.perf_counter()
        if s.status_code != 200:
            raise RuntimeError(f"POST /v1/search: {s.status_code}: {s.text}")
        if any(hit.get("userId") == user_id for hit in s.json()["results"]):
            return Edit(user_id, token, patch_ms, (now - t0) * 1000, searches)
        if now - t0 >= timeout_s:
            return Edit(user_id, token, patch_ms, None, searches)
        time.sleep(poll_s)


def timed_edits(
    client: httpx.Client,
    students: list[dict[str, str]],
    employer: dict[str, str],
    tokens: list[str],
    *,
    warmup: int,
    poll_s: float,
    timeout_s: float,
    pause_s: float = 0.0,
) -> list[Edit]:
    """One timed edit per token, round-robin over ``students`` (their auth
    headers), each polled until ``employer``'s keyword search finds it; the first
    ``warmup`` edits are made but not returned.

    Raises:
        RuntimeError: a request failed.
    """
    who: list[tuple[dict[str, str], int, str]] = []
    for auth in students:
        r = client.get("/v1/me/profile", headers=auth)
        if r.status_code != 200:
            raise RuntimeError(f"GET /v1/me/profile: {r.status_code}: {r.text}")
        view = r.json()
        who.append((auth, int(view["userId"]), strip_tokens(view["headline"])))
    done: list[Edit] = []
    for i, token in enumerate(tokens):
        auth, user_id, headline = who[i % len(who)]
        edit = _timed_edit(
            client,
            student=auth,
            employer=employer,
            user_id=user_id,
            headline=headline,
            token=token,
            poll_s=poll_s,
            timeout_s=timeout_s,
        )
        if i >= warmup:
            done.append(edit)
        if pause_s:
            time.sleep(pause_s)
    return done


def run_freshness(
    *,
    data_dir: Path,
    profiles: int = 500,
    edits: int = 50,
    students: int = 10,
    port: int | None = None,
    seed: int = 42,
    warmup: int = 1,
    poll_s: float = 0.02,
    timeout_s: float = 30.0,
    pause_s: float = 0.2,
    rng: random.Random | None = None,
) -> FreshnessReport:
    """Time ``edits`` sequential edits, round-robin over the first ``students`` demo users.

    Args:
        data_dir: directory whose ``./var`` holds (or will hold) the data.
        profiles: demo students loaded when ``data_dir`` has none (``demo --if-empty``).
        edits: timed edits.
        students: demo users edited (``demo_00000`` ...), one student key each.
        port: port for ``serve`` (default: a free one).
        seed: demo data seed.
        warmup: untimed edits first (the first edit pays one-off costs).
        poll_s: seconds between searches.
        timeout_s: seconds after which an edit counts as a failure.
        pause_s: seconds between edits.
        rng: token source (default: seeded from the OS, so tokens never repeat
            across runs on the same data).

    Raises:
        RuntimeError: a command or request failed, or ``serve`` did not start.
    """
    if students < 1 or profiles < students:
        raise ValueError("need 1 <= students <= profiles")
    rng = rng or random.Random()
    data_dir.mkdir(parents=True, exist_ok=True)
    _cli(data_dir, "demo", "--count", str(profiles), "--seed", str(seed), "--if-empty")
    employer = {"Authorization": f"Bearer {_create_key(data_dir)}"}
    keys = [_student_key(data_dir, f"demo_{i:05d}") for i in range(students)]
    tokens = new_tokens(warmup + edits, rng)
    # /metrics on the API port needs a bearer token; a fresh one per run.
    metrics_token = secrets.token_urlsafe(32)
    server_env = {"GIGSY_METRICS__TOKEN": metrics_token}
    with (
        _server(data_dir, port or free_port(), server_env) as base,
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        students_auth = [{"Authorization": f"Bearer {key}"} for key in keys]
        done = timed_edits(
            client,
            students_auth,
            employer,
            tokens,
            warmup=warmup,
            poll_s=poll_s,
            timeout_s=timeout_s,
            pause_s=pause_s,
        )
        scrape = client.get("/metrics", headers={"Authorization": f"Bearer {metrics_token}"})
        if scrape.status_code != 200:
            raise RuntimeError(f"GET /metrics: {scrape.status_code}: {scrape.text}")
        metrics = parse_metrics(scrape.text)
    return FreshnessReport(edits=done, metrics=metrics)
