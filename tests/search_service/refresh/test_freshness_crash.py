"""Crash safety and concurrency of the refresh job: kill -9, and two workers at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from sqlmodel import col, func, select

from indexers import HashingEncoder
from models import GigSearchRequest, GigStatus, GigWrite, SearchMode, SearchRequest, User
from search_service.db import session_scope
from search_service.entities import ENTITIES
from search_service.gigs.service import create_gig
from search_service.index.entity import GIG_ROWS, PROFILE_ROWS
from search_service.index.repository import claim_stale, staleness
from search_service.refresh.freshness import refresh_stale
from search_service.runtime import PROFILES, Runtime
from search_service.scheduler import build_scheduler
from search_service.search.gigs import search_gigs
from search_service.search.service import search_profiles
from search_service.settings import Settings
from tests.factories import make_student

REPO = Path(__file__).resolve().parents[3]


def _word(i: int) -> str:
    return "zq" + chr(97 + i // 26) + chr(97 + i % 26) + "x"


def _found(rt: Runtime, word: str) -> list[int]:
    with session_scope(rt.engine) as session:
        res = search_profiles(rt, session, SearchRequest(query=word, mode=SearchMode.KEYWORD))
    return [h.user_id for h in res.results]


def _kill_9_at_marker(
    module: str, args: list[str], *, marker: Path, log: Path, waiting_for: str
) -> int | None:
    """Run ``python -m module args`` (stderr to ``log``), SIGKILL it once it has
    created ``marker`` (within 120 s), and return its exit code."""
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, waiting_for
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    return proc.returncode


def test_kill_9_mid_refresh_then_restart_converges(settings: Settings, tmp_path: Path) -> None:
    rt = Runtime.open(settings, entities=ENTITIES, encoder=HashingEncoder(64))
    users = [make_student(rt, clerk_id=f"k{i}", headline=_word(i)) for i in range(60)]
    rt.close()
    marker = tmp_path / "in-batch-2"
    log = tmp_path / "child.log"
    returncode = _kill_9_at_marker(
        "tests.search_service.refresh.refresh_child",
        [str(settings.data_dir), settings.sqlalchemy_url, str(marker)],
        marker=marker,
        log=log,
        waiting_for="the child never reached its second batch",
    )
    assert returncode == -signal.SIGKILL

    rt = Runtime.open(settings, entities=ENTITIES, encoder=HashingEncoder(64))  # the restart
    try:
        with session_scope(rt.engine) as session:
            assert (
                staleness(session, entity=PROFILE_ROWS).stale == 50
            )  # batch 1 was committed, the rest not
            leased = session.exec(
                select(func.count()).where(col(User.index_lease_owner).is_not(None))
            ).one()
        assert leased == 10  # batch 2 died holding its lease
        build_scheduler(rt)  # start-up of the embedded default releases dead leases
        report = refresh_stale(rt)
        assert report.indexed == 50 and report.failed == []
        with session_scope(rt.engine) as session:
            assert staleness(session, entity=PROFILE_ROWS).stale == 0
        assert rt.index(PROFILES).store.count() == 60
        for i, u in enumerate(users):
            assert _found(rt, _word(i)) == [u.id]
    finally:
        rt.close()


class RecordingEncoder(HashingEncoder):
    """Records which thread embedded which text; slow enough for workers to overlap."""

    def __init__(self) -> None:
        super().__init__(64)
        self.log: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def encode_documents(
        self, texts: Sequence[str], *, progress: bool = False
    ) -> NDArray[np.float32]:
        time.sleep(0.02)
        with self._lock:
            # A text equal to its title (a headline-only profile) is one embedding.
            self.log += [(threading.current_thread().name, t) for t in dict.fromkeys(texts)]
        return super().encode_documents(texts, progress=progress)


def test_two_workers_never_embed_the_same_user(runtime: Runtime) -> None:
    runtime.settings.freshness.batch_size = 5
    enc = RecordingEncoder()
    runtime._encoder = enc
    for i in range(80):
        make_student(runtime, clerk_id=f"w{i}", headline=_word(i))
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def work(owner: str) -> None:
        try:
            barrier.wait()
            refresh_stale(runtime, owner=owner)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"w{n}",), name=f"w{n}") for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    per_text = Counter(t for _, t in enc.log)
    assert len(per_text) == 80 and max(per_text.values()) == 1  # nobody embedded twice
    by_worker = Counter(name for name, _ in enc.log)
    if runtime.engine.dialect.name == "postgresql":
        # Row locks let both work in parallel (on SQLite one writer may take it all).
        assert set(by_worker) == {"w1", "w2"}
    with session_scope(runtime.engine) as session:
        assert staleness(session, entity=PROFILE_ROWS).stale == 0


def test_concurrent_claims_are_disjoint(runtime: Runtime) -> None:
    for i in range(60):
        make_student(runtime, clerk_id=f"c{i}", headline="x")
    claims: dict[str, list[int]] = {}
    barrier = threading.Barrier(4)

    def claim(owner: str) -> None:
        mine: list[int] = []
        barrier.wait()
        while True:
            with session_scope(runtime.engine) as session:
                got = claim_stale(
                    session, owner=owner, limit=4, lease_ms=60_000, entity=PROFILE_ROWS
                )
            if not got:
                break
            mine += got
        claims[owner] = mine

    threads = [threading.Thread(target=claim, args=(f"o{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    everything = [i for ids in claims.values() for i in ids]
    assert len(everything) == len(set(everything)) == 60


def test_kill_9_between_upsert_and_verification_leaves_no_point_of_a_deleted_user(
    settings: Settings, tmp_path: Path
) -> None:
    # The account is deleted while its batch is embedded: the removal finds no point
    # yet, the worker then upserts it and dies before its verification would have
    # removed it again. After the restart nothing in SQL may forget that point.
    rt = Runtime.open(settings, entities=ENTITIES, encoder=HashingEncoder(64))
    gone = make_student(rt, clerk_id="late_gone", headline=_word(1))
    kept = make_student(rt, clerk_id="late_kept", headline=_word(2))
    rt.close()
    marker = tmp_path / "upserted"
    log = tmp_path / "child.log"
    _kill_9_at_marker(
        "tests.search_service.refresh.late_write_child",
        [str(settings.data_dir), settings.sqlalchemy_url, str(marker), "late_gone"],
        marker=marker,
        log=log,
        waiting_for="the child never upserted",
    )

    rt = Runtime.open(settings, entities=ENTITIES, encoder=HashingEncoder(64))  # the restart
    try:
        assert gone.id is not None and kept.id is not None
        assert gone.id in rt.index(PROFILES).store.payloads(
            [gone.id]
        )  # the dead worker's late write
        build_scheduler(rt)
        refresh_stale(rt)
        assert rt.index(PROFILES).store.payloads([gone.id, kept.id]).keys() == {kept.id}
    finally:
        rt.close()


def test_kill_9_mid_gig_refresh_then_restart_converges(settings: Settings, tmp_path: Path) -> None:
    # Gigs go through the same leased protocol: a worker killed while embedding
    # their second batch loses nothing, and its lease is released at start-up.
    rt = Runtime.open(settings, entities=ENTITIES, encoder=HashingEncoder(64))
    with rt.session() as session:
        owner = User(clerk_id="emp_crash", roles=["employer"], name="Crash Co")
        session.add(owner)
        session.flush()
        gig_ids = [
            create_gig(session, None, owner, GigWrite(title=_word(i), status=GigStatus.OPEN)).id
            for i in range(30)
        ]
    rt.close()
    marker = tmp_path / "in-batch-2"
    returncode = _kill_9_at_marker(
        "tests.search_service.refresh.refresh_child",
        [str(settings.data_dir), settings.sqlalchemy_url, str(marker)],
        marker=marker,
        log=tmp_path / "child.log",
        waiting_for="the child never reached its second batch",
    )
    assert returncode == -signal.SIGKILL

    rt = Runtime.open(settings, entities=ENTITIES, encoder=HashingEncoder(64))  # the restart
    try:
        with session_scope(rt.engine) as session:
            assert staleness(session, entity=GIG_ROWS).stale == 20
        build_scheduler(rt)
        report = refresh_stale(rt)
        assert report.indexed == 20 and report.failed == []
        with session_scope(rt.engine) as session:
            assert staleness(session, entity=GIG_ROWS).stale == 0
            for i, gid in enumerate(gig_ids):
                found = search_gigs(
                    rt, session, GigSearchRequest(query=_word(i), mode=SearchMode.KEYWORD)
                )
                assert [h.gig_id for h in found.results] == [gid]
    finally:
        rt.close()
