"""Kill -9 under load, again and again, in the manner of Qdrant's ``crasher``.

The real service (``python -m search_service.cli serve``, SQLite and the embedded
Qdrant Edge shard, its refresh job running) takes profile edits, visibility
changes, account deletions and signed Clerk bans, unbans and deletions from a few
client threads, and is killed with SIGKILL at a random moment, mid-request and
mid-index-write, at least 20 times. A last ``serve`` catches up and stops
cleanly; then the index must equal SQL, SQL must hold every acknowledged
request, and no private word may be findable (``crasher_checks.verify``).
ARCHITECTURE.md, "Index versions", has the protocol this exercises; the load
and its bookkeeping are in ``crasher_load``.

Set ``CRASHER_SEED`` to replay a run's random choices (timing still varies).
"""

from __future__ import annotations

import base64
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from search_service.entities import ENTITIES
from search_service.runtime import Runtime
from search_service.settings import EmbeddingSettings, QdrantSettings, Settings
from tests.search_service.index.crasher_checks import verify
from tests.search_service.index.crasher_load import LoadClient, Student, Tally, prepare

REPO = Path(__file__).resolve().parents[3]
STUDENTS = 30
THREADS = 3
KILLS = 20
LOAD_BUDGET_S = 100.0
"""Wall time for the kill loop: on a slow machine fewer kills, never a hang."""
MIN_KILLS = 5
READY_S = 30.0
CATCH_UP_S = 40.0
METRICS_TOKEN = "crasher-metrics-token-0123456789"

pytestmark = [
    pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)"),
    pytest.mark.long,
]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """``serve`` as a child process in its own process group, logging to a file."""

    def __init__(self, env: dict[str, str], cwd: Path, log: Path) -> None:
        self.env, self.cwd, self.log = env, cwd, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.base_url = ""

    def start(self) -> str:
        """Start ``serve`` on a free loopback port and wait for ``/healthz``; returns
        the base URL. A port taken meanwhile by someone else means another port."""
        for _ in range(3):
            if self._start(_free_port()):
                return self.base_url
        raise AssertionError(f"serve found no free port:\n{self.tail()}")

    def _start(self, port: int) -> bool:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "search_service.cli", "serve"]
                + ["--host", "127.0.0.1", "--port", str(port)],
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        self.base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + READY_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                if "address already in use" in self.tail(10):
                    return False
                raise AssertionError(f"serve exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1.0).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"serve not ready within {READY_S} s:\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL, as a power cut would, and reap it."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.proc = None

    def stop(self) -> int:
        """SIGTERM (a graceful shutdown) and wait; returns the exit status."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        self.proc = None
        return code

    def cleanup(self) -> None:
        """Leave nothing running: kill the whole process group."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.proc = None

    def tail(self, lines: int = 40) -> str:
        """The end of the server log."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _settings(data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'gigsy.db'}",
        embedding=EmbeddingSettings(model="hashing"),
        qdrant=QdrantSettings(url=None),
    )


def _env(settings: Settings, webhook_secret: str) -> dict[str, str]:
    plain = {"DATABASE_URL", "QDRANT_URL", "EMBEDDING_MODEL"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIGSY_") and k not in plain}
    return env | {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "GIGSY_DATA_DIR": str(settings.data_dir),
        "GIGSY_DATABASE_URL": settings.sqlalchemy_url,
        "GIGSY_EMBEDDING__MODEL": "hashing",
        "GIGSY_RATE_LIMIT__ENABLED": "false",
        "GIGSY_METRICS__TOKEN": METRICS_TOKEN,
        "GIGSY_METRICS__CACHE_S": "0",
        "GIGSY_FRESHNESS__OUTBOX_POLL_S": "0.2",
        "GIGSY_FRESHNESS__INTERVAL_S": "1",
        "GIGSY_CLERK__WEBHOOK_SECRET": webhook_secret,
    }


def _gauge(metrics: str, name: str) -> float | None:
    m = re.search(rf"^{name} (\S+)$", metrics, re.MULTILINE)
    return float(m.group(1)) if m else None


def _wait_caught_up(base_url: str) -> bool:
    """Poll ``/metrics`` until no profile is stale and no outbox event is pending."""
    headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    deadline = time.monotonic() + CATCH_UP_S
    while time.monotonic() < deadline:
        text = httpx.get(f"{base_url}/metrics", headers=headers, timeout=5.0).text
        if _gauge(text, "gigsy_profiles_stale") == 0 and _gauge(text, "gigsy_outbox_pending") == 0:
            return True
        time.sleep(0.2)
    return False


def _load_until_killed(
    server: Server,
    students: list[Student],
    employer_key: str,
    secret: str,
    tally: Tally,
    rng: random.Random,
) -> None:
    """One cycle: start serve, load it from THREADS threads, SIGKILL it at a random moment."""
    base_url = server.start()
    stop = threading.Event()
    groups = [students[i::THREADS] for i in range(THREADS)]
    clients = [
        LoadClient(base_url, secret, employer_key, tally, seed=rng.randrange(2**32)) for _ in groups
    ]
    threads = [
        threading.Thread(target=c.run, args=(g, stop), daemon=True)
        for c, g in zip(clients, groups, strict=True)
    ]
    for t in threads:
        t.start()
    time.sleep(rng.uniform(0.3, 1.5))
    server.kill()  # requests are in flight: their answers never come
    stop.set()
    for t in threads:
        t.join(timeout=30)
        assert not t.is_alive(), "a client thread hung after the kill"
    tally.kills += 1


def test_kill_9_under_load_loses_nothing_and_leaks_nothing(tmp_path: Path) -> None:
    seed = int(os.environ.get("CRASHER_SEED") or secrets.randbits(32))
    rng = random.Random(seed)
    settings = _settings(tmp_path / "var")
    rt = Runtime.open(settings, entities=ENTITIES)
    try:
        students, employer_key = prepare(rt, STUDENTS)
    finally:
        rt.close()
    webhook_secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    server = Server(_env(settings, webhook_secret), tmp_path, tmp_path / "serve.log")
    tally = Tally()
    started = time.monotonic()
    try:
        cycle_s = 0.0
        while tally.kills < KILLS and time.monotonic() - started + cycle_s < LOAD_BUDGET_S:
            began = time.monotonic()
            _load_until_killed(server, students, employer_key, webhook_secret, tally, rng)
            cycle_s = time.monotonic() - began
        caught_up = _wait_caught_up(server.start())
        exit_code = server.stop()
    finally:
        server.cleanup()
    assert caught_up, f"serve did not catch up within {CATCH_UP_S} s:\n{server.tail()}"
    assert exit_code in (0, -signal.SIGTERM), server.tail()

    rt = Runtime.open(settings, entities=ENTITIES)
    try:
        mismatches = tally.problems + verify(rt, students)
    finally:
        rt.close()
    summary = (
        f"crasher (seed {seed}): {tally.kills} kills, {tally.requests} requests, "
        f"{tally.acked_edits} acked edits, {tally.acked_deletes} deletes, "
        f"{tally.webhooks} webhooks, {tally.searches} secret searches, "
        f"{len(mismatches)} mismatches, {time.monotonic() - started:.0f} s"
    )
    print(summary)
    assert tally.kills >= MIN_KILLS, summary
    assert not mismatches, summary + "\n" + "\n".join(mismatches[:40])
