"""The per-list CPU benchmark: reading a process's CPU from ``/proc``, the budgets and
their verdicts, the lists' requests, and ``python -m benchmarks cpu`` end to end on a
few demo profiles with the hashing encoder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchmarks.__main__ import app
from benchmarks.cpu import (
    CLIENTS,
    LISTS,
    Actors,
    CpuReport,
    ListScenario,
    budgets_ms,
    format_cpu_report,
    list_scenarios,
)
from benchmarks.latency import CLOCK_TICKS, load_average, process_cpu_s
from benchmarks.loadgen import QpsResult, ScenarioResult
from benchmarks.scale_build import BuildReport

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")

TICK_S = 1 / CLOCK_TICKS

# The work is on a second thread while the main thread sleeps: only a reading that
# sums every thread of the process sees it. hashlib releases the GIL on large buffers.
_BUSY_THREAD = """
import hashlib, sys, threading, time
def spin():
    buf = b"x" * 1_000_000
    while True:
        hashlib.sha256(buf).digest()
threading.Thread(target=spin, daemon=True).start()
print("ready", flush=True)
time.sleep(60)
"""


@contextmanager
def _child(code: str) -> Iterator[int]:
    """A Python child running ``code``, once it printed ``ready``: its pid."""
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) as child:
        try:
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
            yield child.pid
        finally:
            child.kill()


class TestProcessCpu:
    def test_a_busy_thread_of_a_child_counts_and_stays_within_wall_time_times_cores(
        self,
    ) -> None:
        with _child(_BUSY_THREAD) as pid:
            cpu0, wall0 = process_cpu_s(pid), time.perf_counter()
            # At least a few ticks of CPU, however loaded the machine (bounded wait).
            while process_cpu_s(pid) - cpu0 < 5 * TICK_S and time.perf_counter() < wall0 + 10:
                time.sleep(0.05)
            cpu1, wall1 = process_cpu_s(pid), time.perf_counter()
        used = cpu1 - cpu0
        assert used >= 5 * TICK_S
        # One tick of rounding at each end of the interval.
        assert used <= (wall1 - wall0) * (os.cpu_count() or 1) + 2 * TICK_S

    def test_this_process_agrees_with_process_time(self) -> None:
        cpu0, clock0 = process_cpu_s(os.getpid()), time.process_time()
        while time.process_time() - clock0 < 0.3:
            sum(range(1000))
        used, clock = process_cpu_s(os.getpid()) - cpu0, time.process_time() - clock0
        # Both are the kernel's accounting of every thread; /proc truncates to ticks.
        assert used == pytest.approx(clock, abs=3 * TICK_S)

    def test_a_sleeping_child_uses_almost_none(self) -> None:
        with _child("import time; print('ready', flush=True); time.sleep(60)") as pid:
            cpu0 = process_cpu_s(pid)
            time.sleep(0.5)
            used = process_cpu_s(pid) - cpu0
        assert 0 <= used <= 2 * TICK_S

    def test_no_such_process_raises(self) -> None:
        with pytest.raises(OSError):
            process_cpu_s(2**22 + 12345)

    def test_load_average_is_the_kernels(self) -> None:
        before, theirs, after = load_average(), os.getloadavg(), load_average()
        assert len(before) == 3 and all(x >= 0 for x in before)
        # /proc/loadavg moves every 5 s: the kernel's figure is one of our two readings.
        assert any(theirs == pytest.approx(ours, abs=0.005) for ours in (before, after))


def _scenario(name: str, cpu_s: float, n: int = 10) -> ScenarioResult:
    return ScenarioResult(name, {"e2e": [20.0] * n}, cpu_s=cpu_s)


class TestBudgets:
    def test_the_goals_at_the_demo_scale_and_at_100k(self) -> None:
        small, large = budgets_ms(2000, 6.5), budgets_ms(100_000, None)
        assert small["search_cached"] == 5.0 and large["search_cached"] == 6.0
        assert small["search_uncached"] == 11.5 and large["search_uncached"] is None
        assert small["browse"] == large["browse"] == 4.0
        assert small["candidates"] == small["recommended"] == 6.0
        for name in ("gig_search_cached", "applicants", "similar_profiles", "similar_gigs"):
            assert small[name] == 10.0 and large[name] == 12.0
        assert set(small) == set(LISTS)

    def test_every_row_gets_a_verdict_against_its_budget(self) -> None:
        rep = CpuReport(BuildReport(profiles=2000, gigs=200, seed=42), requests=10, warmup=0)
        rep.encoder_cpu_ms = 4.0
        rep.scenarios = [
            _scenario("search_uncached", 0.080),  # 8 ms <= 4 + 5
            _scenario("search_cached", 0.051),  # 5.1 ms > 5
            _scenario("browse", 0.040),  # 4 ms, at the budget
        ]
        rep.qps = [QpsResult(1, 50.0, 100, 2.0, cpu_s=0.4), QpsResult(3, 60.0, 100, 2.0, 0.6)]
        rows = {r["name"]: r for r in rep.rows()}
        assert rows["search_uncached"]["verdict"] == "ok"
        assert rows["search_cached"]["verdict"] == "over"
        assert rows["browse"]["verdict"] == "ok"
        # QPS runs send cached searches: 4 ms and 6 ms against 5.
        assert rows["qps_1"]["verdict"] == "ok" and rows["qps_1"]["qps"] == 50.0
        assert rows["qps_3"]["verdict"] == "over" and rows["qps_3"]["budget_ms"] == 5.0
        assert rows["search_uncached"]["x_cached"] == pytest.approx(8.0 / 5.1)
        text = format_cpu_report(rep)
        assert "search_cached" in text and "over" in text

    def test_a_row_without_a_figure_has_no_verdict(self) -> None:
        rep = CpuReport(BuildReport(profiles=2000, gigs=200, seed=42), requests=10, warmup=0)
        rep.scenarios = [ScenarioResult("search_uncached", {"e2e": [1.0]})]  # no CPU read
        (row,) = rep.rows()
        assert row["verdict"] == "-" and row["budget_ms"] is None


class TestListScenarios:
    ACTORS = Actors(
        searcher={"Authorization": "Bearer e"},
        gigs=[(100 + i, {"Authorization": f"Bearer o{i}"}) for i in range(3)],
        students=[(i, {"Authorization": f"Bearer s{i}"}) for i in range(50)],
    )

    def _lists(self, requests: int = 20, warmup: int = 2) -> dict[str, ListScenario]:
        texts = [f"query {i}" for i in range(requests + warmup)]
        gig_texts = [f"gig query {i}" for i in range(requests + warmup)]
        found = list_scenarios(self.ACTORS, texts, gig_texts, requests=requests, warmup=warmup)
        return {s.name: s for s in found}

    def test_every_list_has_warmup_plus_requests_calls(self) -> None:
        lists = self._lists()
        assert list(lists) == list(LISTS)
        for sc in lists.values():
            assert len(sc.calls) == 22 and sc.warmup == 2

    def test_cached_lists_repeat_texts_the_server_has_seen(self) -> None:
        lists = self._lists()
        unc, cached = lists["search_uncached"], lists["search_cached"]
        bodies = [c.body for c in unc.calls]
        assert len({json.dumps(b) for b in bodies}) == 22  # every text new to the server
        assert cached.calls == unc.calls
        gig = lists["gig_search_cached"]
        assert gig.prime == gig.calls
        browse = lists["browse"].calls
        assert browse[0].body is not None
        assert browse[0].body["query"] == "" and browse[0].body["filters"]

    def test_subjects_are_distinct_up_to_what_the_data_has(self) -> None:
        lists = self._lists()
        recommended = lists["recommended"].calls[2:]
        assert len({c.headers["Authorization"] for c in recommended}) == 20
        assert lists["recommended"].subjects == 20
        similar = {c.path for c in lists["similar_profiles"].calls[2:]}
        assert len(similar) == 20
        assert lists["candidates"].subjects == 3
        owners = {c.path: c.headers for c in lists["candidates"].calls}
        assert owners["/v1/gigs/101/candidates"] == {"Authorization": "Bearer o1"}

    def test_too_few_texts_raise(self) -> None:
        with pytest.raises(ValueError, match="texts"):
            list_scenarios(self.ACTORS, ["a"], ["b"], requests=2, warmup=0)


def test_the_command_prints_every_lists_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("DATABASE_URL", "GIGSY_DATABASE_URL", "QDRANT_URL", "GIGSY_QDRANT__URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GIGSY_EMBEDDING__MODEL", "hashing")
    report = tmp_path / "cpu.json"
    args = ["cpu", "--profiles", "30", "--data-dir", str(tmp_path), "--json", str(report)]
    args += ["--requests", "3", "--warmup", "1", "--applicants", "2"]
    args += ["--qps-seconds", "0.2", "--idle-seconds", "0.2", "--jobs-csv", str(tmp_path / "no")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split() for line in result.output.splitlines() if line.strip()}
    for name in (*LISTS, *(f"qps_{c}" for c in CLIENTS)):
        assert name in rows, result.output
        cpu, verdict = rows[name][3], rows[name][-1]
        assert float(cpu) >= 0 and verdict in ("ok", "over"), rows[name]
    assert "load average (1/5/15 min): start" in result.output and " end " in result.output
    found = json.loads(report.read_text())
    assert found["applications"] == 2 * 3  # 3 gigs at 30 profiles, each applied to twice
    for name in LISTS:
        scenario = found["scenarios"][name]
        assert scenario["n"] == 3 and scenario["cpu_ms_per_request"] is not None
        assert scenario["mean_results"] > 0, name  # every list returned something
    assert found["scenarios"]["applicants"]["mean_results"] == 2
