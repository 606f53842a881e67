"""The session-start report of ``tests/collection.py`` (a plugin
``tests/conftest.py`` loads): before any test runs, it says how many selected
tests will skip, for a missing prerequisite or by a skip mark, and why; and those
tests then skip with that reason. The sample runs load the plugin alone
(``-p tests.collection``), not the fixtures' conftest with its imports."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

MISSING_TOOL = "gigsy-test-no-such-tool"

TESTS = f"""
import pytest

@pytest.mark.needs_tool("{MISSING_TOOL}")
def test_needs_a_missing_tool():
    raise AssertionError("must not run")

@pytest.mark.needs_tool("{MISSING_TOOL}")
@pytest.mark.parametrize("n", [1, 2])
def test_needs_it_twice(n):
    raise AssertionError("must not run")

@pytest.mark.needs_tool("sh")
def test_needs_a_present_tool():
    pass

def test_needs_nothing():
    pass

@pytest.mark.skipif("sys.platform != 'gigsy'", reason="skipped by its own mark")
def test_marked_to_skip():
    raise AssertionError("must not run")
"""


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makeini("[pytest]\nmarkers =\n    needs_tool(name): needs an executable\n")
    pytester.makepyfile(test_sample=TESTS)
    return pytester.runpytest_inprocess("-p", "tests.collection", "-p", "no:randomly", *args)


def test_the_header_counts_the_skips_and_names_the_reason(pytester: pytest.Pytester) -> None:
    result = _run(pytester, "-rs")
    result.assert_outcomes(passed=2, skipped=4)
    result.stdout.fnmatch_lines(
        [
            "skips: 4 of the 6 selected tests will skip:",
            f"*3 × `{MISSING_TOOL}` is not installed (not found on PATH)",
            "*1 × skipped by its own mark",
        ]
    )
    result.stdout.fnmatch_lines(
        [f"SKIPPED [[]1[]] test_sample.py:3: *{MISSING_TOOL}*", f"SKIPPED [[]2[]] *{MISSING_TOOL}*"]
    )


def test_the_header_counts_only_the_selected_tests(pytester: pytest.Pytester) -> None:
    result = _run(pytester, "-k", "present or nothing")
    result.assert_outcomes(passed=2, deselected=4)
    result.stdout.fnmatch_lines(
        ["skips: none of the 2 selected tests will skip (prerequisites met)"]
    )


def test_the_header_is_printed_under_xdist(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``make test`` runs two pytest-xdist workers: they collect, the controller
    prints."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    # Three processes start (the controller, two workers): each loads only xdist and
    # the plugin under test, not every installed plugin (hypothesis, schemathesis).
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makeini("[pytest]\nmarkers =\n    needs_tool(name): needs an executable\n")
    pytester.makepyfile(test_sample=TESTS)
    result = pytester.runpytest_subprocess(
        "-p", "xdist.plugin", "-p", "tests.collection", "-n", "2", "--dist", "worksteal"
    )
    result.assert_outcomes(passed=2, skipped=4)
    result.stdout.fnmatch_lines(
        ["skips: 4 of the 6 selected tests will skip:", "*3 × `gigsy-test-no-such-tool`*"]
    )
    assert result.stdout.str().count("selected tests will skip") == 1


def test_every_collected_test_has_its_own_node_id(request: pytest.FixtureRequest) -> None:
    """pytest-xdist's ``--dist loadfile`` keys its work by node id: two tests with one
    id run once (schemathesis's per-operation tests had one id under pytest 9.2)."""
    ids = Counter(item.nodeid for item in request.session.items)
    assert [nodeid for nodeid, count in ids.items() if count > 1] == []
