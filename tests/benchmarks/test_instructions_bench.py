"""The instruction-count benchmark's own parts: reading callgrind dumps, picking the
next dump, refusing unknown lists and the report table (the run itself needs
Valgrind and minutes; ``benchmarks/README.md`` shows one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.cpu import Actors, list_scenarios
from benchmarks.instructions import (
    InstructionsReport,
    _dumped,
    callgrind_totals,
    format_instructions_report,
    run_instructions,
    untimed_first,
)

_DUMP = """# callgrind format
version: 1
creator: callgrind-3.19.0
cmd: python
part: 1
events: Ir
summary: 0
fn=(1) main
0 5
totals: 921148098
"""


def test_totals_come_from_the_totals_line(tmp_path: Path) -> None:
    done, partial = tmp_path / "done", tmp_path / "partial"
    done.write_text(_DUMP)
    partial.write_text(_DUMP.split("totals:")[0])  # still being written
    assert callgrind_totals(done) == 921148098
    assert callgrind_totals(partial) is None


def test_the_next_dump_is_a_numbered_one_not_seen_before(tmp_path: Path) -> None:
    (tmp_path / "callgrind.out.77").write_text(_DUMP.replace("921148098", "1"))  # at exit
    (tmp_path / "callgrind.out.77.1").write_text(_DUMP.replace("921148098", "2"))
    (tmp_path / "callgrind.out.77.2").write_text(_DUMP.replace("921148098", "3"))
    seen: set[Path] = set()
    assert _dumped(tmp_path, seen, timeout_s=1) == 2
    assert _dumped(tmp_path, seen, timeout_s=1) == 3
    with pytest.raises(RuntimeError, match="no callgrind dump"):
        _dumped(tmp_path, seen, timeout_s=0.1)


def test_an_unknown_list_is_refused_before_anything_runs(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown lists \\['nope'\\]"):
        run_instructions(tmp_path, profiles=10, lists=["search_cached", "nope"])
    assert not (tmp_path / "var").exists()


def test_the_table_gives_millions_and_the_ratio_to_a_cached_search() -> None:
    rep = InstructionsReport(profiles=2000, requests=20, warmup=5)
    rep.load = {"start": (1.0, 1.0, 1.0), "end": (2.0, 1.0, 1.0)}
    rep.rows = [
        {"name": "search_cached", "n": 20, "instructions": 18_400_000.0},
        {"name": "candidates", "n": 20, "instructions": 27_600_000.0},
    ]
    lines = format_instructions_report(rep).splitlines()
    assert lines[-2].split() == ["search_cached", "20", "18.40", "1.00"]
    assert lines[-1].split() == ["candidates", "20", "27.60", "1.50"]


def test_a_cached_search_counted_alone_has_its_texts_sent_first() -> None:
    actors = Actors(
        searcher={"Authorization": "Bearer e"},
        gigs=[(100, {"Authorization": "Bearer o"})],
        students=[(1, {"Authorization": "Bearer s"})],
    )
    texts = [f"text {i}" for i in range(7)]
    scenarios = list_scenarios(actors, texts, texts, requests=5, warmup=2)
    uncached = next(sc for sc in scenarios if sc.name == "search_uncached")
    assert untimed_first(scenarios, ["search_cached", "browse"]) == uncached.calls
    assert untimed_first(scenarios, ["search_uncached", "search_cached"]) == []
    assert untimed_first(scenarios, ["browse"]) == []
