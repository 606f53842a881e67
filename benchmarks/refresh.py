"""Refresh throughput: profiles per second of the embedding refresh job, in-process.

Loads N seeded demo students into a fresh SQLite + Qdrant Edge data directory,
indexes them (not timed), then times :func:`refresh_stale` in two scenarios:

* ``text changed``: every profile's bio gets one more word through the API's
  own dual write (:func:`write_profile`), so every document is re-embedded;
* ``timestamp only``: ``users.visible_updated_at`` (the index version clock) is
  bumped with no text change, so the stored dense vectors are reused (only BM25
  and the payload are rewritten).

* ``one profile``: one user's ``visible_updated_at`` is bumped, the refresh
  of a single edit (what the edit-to-searchable path waits for);
* ``reindex unchanged``: :func:`reindex` of data unchanged since the previous
  (untimed) reindex, through the leased write protocol.

Each refresh scenario calls :func:`refresh_stale` until a run claims nothing and
sums the runs' wall times (seconds).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import update
from sqlmodel import col, select

from models import User, now_ms
from search_service.db import session_scope
from search_service.entities import ENTITIES
from search_service.index.entity import PROFILE_ROWS
from search_service.index.repository import staleness
from search_service.profiles.demo import load_demo
from search_service.profiles.repository import (
    load_profile_rows,
    profile_ids,
    profile_write_of,
    write_profile,
)
from search_service.refresh.freshness import RefreshReport, refresh_stale
from search_service.refresh.writer import reindex
from search_service.runtime import Runtime
from search_service.settings import Settings

__all__ = [
    "ScenarioResult",
    "format_results",
    "refresh_until_fresh",
    "run_refresh",
    "time_reindex",
    "touch_one",
    "touch_profile_texts",
    "touch_timestamps",
]

TOUCH_WORD = "refreshed"
"""The word appended to every bio in the ``text changed`` scenario."""

_CHUNK = 256


@dataclass(slots=True)
class ScenarioResult:
    """One timed scenario.

    Attributes:
        scenario: its name (``text changed`` or ``timestamp only``).
        touched: profiles made stale before timing.
        report: the refresh runs summed (``seconds`` is their wall time, in seconds).
        stale_after: indexable users still stale after the runs (0 unless some failed).
    """

    scenario: str
    touched: int
    report: RefreshReport
    stale_after: int

    @property
    def per_second(self) -> float:
        """Profiles indexed per second of refresh wall time."""
        return self.report.per_second


def touch_profile_texts(rt: Runtime, *, word: str = TOUCH_WORD, chunk: int = _CHUNK) -> int:
    """Append ``word`` to the bio of every profile, one transaction per ``chunk`` profiles,
    through :func:`write_profile` (version, snapshot, hash, ``updated_at``, outbox event).

    Returns:
        How many profiles changed.
    """
    with session_scope(rt.engine) as session:
        ids = profile_ids(session)
    changed = 0
    for start in range(0, len(ids), chunk):
        ts = now_ms()
        with session_scope(rt.engine) as session:
            rows = load_profile_rows(session, ids[start : start + chunk])
            for r in rows.values():
                doc = profile_write_of(r)
                if doc is None:
                    continue
                draft = doc.to_draft()
                draft = draft.model_copy(update={"bio": f"{draft.bio} {word}".strip()})
                if write_profile(session, r.user, draft, now=ts).changed:
                    changed += 1
    return changed


def touch_timestamps(rt: Runtime) -> int:
    """``UPDATE users SET visible_updated_at = visible_updated_at + 1`` (no text
    change); returns rows."""
    with session_scope(rt.engine) as session:
        result = session.execute(
            update(User)
            .values(visible_updated_at=col(User.visible_updated_at) + 1)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def touch_one(rt: Runtime) -> int:
    """Bump ``visible_updated_at`` of the user with the lowest id (no text change);
    returns rows (0 or 1)."""
    with session_scope(rt.engine) as session:
        first = session.exec(select(User.id).order_by(col(User.id)).limit(1)).first()
        if first is None:
            return 0
        result = session.execute(
            update(User)
            .where(col(User.id) == first)
            .values(visible_updated_at=col(User.visible_updated_at) + 1)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def time_reindex(rt: Runtime) -> RefreshReport:
    """Run :func:`reindex` (no ``--recreate``) and report it as a refresh run
    (``claimed`` = ``indexed`` = rows written and verified; seconds of wall time)."""
    rep = reindex(rt, progress=False)
    return RefreshReport(
        claimed=rep.indexed,
        indexed=rep.indexed,
        embedded=rep.embedded,
        reused=rep.reused,
        batches=1,
        seconds=rep.seconds,
    )


def refresh_until_fresh(rt: Runtime, *, limit: int) -> RefreshReport:
    """Call :func:`refresh_stale` (``limit`` users per run) until a run claims nothing.

    Returns:
        The runs that claimed something, summed (``seconds`` in seconds of wall time).
    """
    total = RefreshReport()
    while True:
        report = refresh_stale(rt, limit=limit)
        if report.claimed == 0:
            return total
        total.add(report)


def _stale(rt: Runtime) -> int:
    with session_scope(rt.engine) as session:
        return staleness(session, entity=PROFILE_ROWS).stale


def run_refresh(
    settings: Settings,
    *,
    profiles: int,
    seed: int = 42,
    progress: bool = False,
    on_step: Callable[[str], None] | None = None,
) -> list[ScenarioResult]:
    """Load ``profiles`` demo students into ``settings``' (empty) data directory, index
    them, then time the ``text changed`` and ``timestamp only`` refresh scenarios.

    Args:
        settings: where the data goes and which encoder embeds (its ``data_dir``
            should be empty: every profile there is touched).
        profiles: demo students to load.
        seed: demo data seed.
        progress: show the loader's and reindex's progress bars.
        on_step: called with a short message before each untimed step.

    Returns:
        The four scenarios, in the order above.

    Raises:
        RuntimeError: profiles were still stale before a timed scenario.
    """
    say = on_step or (lambda _msg: None)
    rt = Runtime.open(settings, entities=ENTITIES)
    try:
        say(f"loading {profiles} demo profiles")
        load_demo(rt, count=profiles, seed=seed, progress=progress)
        say("indexing them (untimed; also loads the model)")
        reindex(rt, progress=progress)
        if _stale(rt):
            raise RuntimeError("profiles are stale after reindex; cannot time a clean refresh")
        results: list[ScenarioResult] = []
        steps: list[tuple[str, Callable[[Runtime], int]]] = [
            ("text changed", touch_profile_texts),
            ("timestamp only", touch_timestamps),
            ("one profile", touch_one),
        ]
        for name, touch in steps:
            say(f"{name}: making profiles stale")
            touched = touch(rt)
            report = refresh_until_fresh(rt, limit=max(1, profiles))
            results.append(ScenarioResult(name, touched, report, _stale(rt)))
        # The edits above moved the corpus's BM25 average length: an untimed reindex
        # records it, so the timed one sees data unchanged since the last reindex.
        say("reindex (untimed, records the edited corpus)")
        reindex(rt, progress=progress)
        say("reindex unchanged")
        with session_scope(rt.engine) as session:
            rows = len(profile_ids(session))
        results.append(ScenarioResult("reindex unchanged", rows, time_reindex(rt), _stale(rt)))
        return results
    finally:
        rt.close()


def format_results(results: list[ScenarioResult]) -> str:
    """A table: scenario, profiles indexed, embedded, reused, failed, seconds, profiles/s."""
    lines = [
        f"{'scenario':<17} {'profiles':>8} {'embedded':>8} {'reused':>7} {'failed':>6} "
        f"{'seconds':>8} {'profiles/s':>10} {'stale after':>11}"
    ]
    for r in results:
        rep = r.report
        lines.append(
            f"{r.scenario:<17} {rep.indexed:>8} {rep.embedded:>8} {rep.reused:>7} "
            f"{len(rep.failed):>6} {rep.seconds:>8.2f} {r.per_second:>10.1f} {r.stale_after:>11}"
        )
    return "\n".join(lines)
