"""The collection-time hooks of the test suite, a pytest plugin that
``tests/conftest.py`` loads: every test whose prerequisite is missing
(``tests/prerequisites.py``) is marked skipped before any test runs, and the
session starts with how many selected tests will skip and why (printed once by
the controller under pytest-xdist); the long files are collected first.

A plugin of its own, with none of the fixtures' imports (FastAPI, the service),
so that ``tests/test_prerequisites.py`` can run it in a pytest of its own (and its
xdist workers) cheaply: ``-p tests.collection``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from _pytest.skipping import evaluate_skip_marks

from tests.prerequisites import unmet_prerequisite

_UNMET = pytest.StashKey[str]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test whose prerequisite is missing (``tests/prerequisites.py``)
    as skipped, with the reason, before any test runs; note the reason of every
    test a ``skip``/``skipif`` mark already skips."""
    for item in items:
        reason = unmet_prerequisite(item)
        if reason is not None:
            item.add_marker(pytest.mark.skip(reason=reason))
        else:
            reason = _skip_mark_reason(item)
        if reason is not None:
            item.stash[_UNMET] = reason
    # The long files first (stable: each file keeps its order): pytest-xdist hands
    # out files in collection order, so none of them starts last and leaves one
    # worker running alone at the end.
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


def _skip_mark_reason(item: pytest.Item) -> str | None:
    # pytest evaluates these marks again before the test runs (_pytest.skipping);
    # a condition that cannot be evaluated here is left to that evaluation.
    try:
        found = evaluate_skip_marks(item)
    except (Exception, pytest.fail.Exception):
        return None
    return found.reason if found is not None else None


def _skip_lines(items: list[pytest.Item]) -> list[str]:
    """How many of ``items`` will skip, for a missing prerequisite or by a
    ``skip``/``skipif`` mark, and why (one line per reason)."""
    reasons = Counter(item.stash[_UNMET] for item in items if _UNMET in item.stash)
    if not reasons:
        return [f"skips: none of the {len(items)} selected tests will skip (prerequisites met)"]
    total = sum(reasons.values())
    lines = [f"skips: {total} of the {len(items)} selected tests will skip:"]
    lines += [f"  {count:5d} × {reason}" for reason, count in reasons.most_common()]
    return lines


def pytest_report_collectionfinish(
    config: pytest.Config, start_path: Path, items: list[pytest.Item]
) -> list[str]:
    """At session start: :func:`_skip_lines`. Skips decided inside a test are not
    known yet; the summary (``-ra``) lists them."""
    return _skip_lines(items)


# Under pytest-xdist (``make test`` runs two workers) the workers collect and the
# controller, which prints, collects nothing: each worker writes its lines to a file
# the controller named, and the controller prints the first worker's once its
# collection is reported (every worker collects every test).
_SKIP_REPORT = "gigsy_skip_report"
_SKIP_REPORT_DIR = pytest.StashKey[Path]()
_SKIP_REPORT_SHOWN = pytest.StashKey[bool]()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist, on the controller: where worker ``node`` leaves its skip lines."""
    config: pytest.Config = node.config
    if _SKIP_REPORT_DIR not in config.stash:
        config.stash[_SKIP_REPORT_DIR] = Path(tempfile.mkdtemp(prefix="gigsy-skips-"))
    node.workerinput[_SKIP_REPORT] = str(config.stash[_SKIP_REPORT_DIR] / f"{node.gateway.id}")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """On an xdist worker: write :func:`_skip_lines` where the controller looks,
    before the worker reports its collection."""
    target = getattr(session.config, "workerinput", {}).get(_SKIP_REPORT)
    if target:
        Path(target).write_text("\n".join(_skip_lines(session.items)), encoding="utf-8")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """pytest-xdist, on the controller: print the first worker's skip lines."""
    config: pytest.Config = node.config
    if config.stash.get(_SKIP_REPORT_SHOWN, False):
        return
    report = Path(node.workerinput[_SKIP_REPORT])
    if not report.exists():
        return
    config.stash[_SKIP_REPORT_SHOWN] = True
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    if terminal is not None:
        for line in report.read_text(encoding="utf-8").splitlines():
            terminal.write_line(line)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _SKIP_REPORT_DIR in config.stash:
        shutil.rmtree(config.stash[_SKIP_REPORT_DIR], ignore_errors=True)
