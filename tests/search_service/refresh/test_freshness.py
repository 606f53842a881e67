"""The embedding refresh job: compare-and-set, failures and backoff, leases, wake-ups."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from fastapi.testclient import TestClient
from numpy.typing import NDArray
from sqlalchemy import update
from sqlmodel import col, select

from indexers import HashingEncoder
from models import OutboxEvent, ProfileWrite, SearchMode, SearchRequest, User, now_ms
from search_service.db import session_scope
from search_service.index.entity import PROFILE_ROWS
from search_service.index.repository import claim_stale, staleness
from search_service.profiles.service import save_profile
from search_service.refresh.freshness import FreshnessJob, backoff_s, refresh_stale
from search_service.runtime import PROFILES, Runtime
from search_service.search.service import search_profiles
from tests.factories import make_student
from tests.search_service.profile_helpers import student_with_key


class HookedEncoder(HashingEncoder):
    """A hashing encoder that records document texts and can run a hook or fail."""

    def __init__(self, dim: int = 64) -> None:
        super().__init__(dim)
        self.seen: list[str] = []
        self.hook: Any = None
        self.poison: str | None = None
        self._lock = threading.Lock()

    def encode_documents(
        self, texts: Sequence[str], *, progress: bool = False
    ) -> NDArray[np.float32]:
        with self._lock:
            self.seen += list(texts)
        if self.poison is not None and any(self.poison in t for t in texts):
            raise RuntimeError("encoder exploded")
        if self.hook is not None:
            hook, self.hook = self.hook, None
            hook(texts)
        return super().encode_documents(texts, progress=progress)


@pytest.fixture
def hooked(runtime: Runtime) -> HookedEncoder:
    enc = HookedEncoder(64)
    runtime._encoder = enc  # the runtime's encoder is swapped for this test only
    return enc


def _keyword_ids(rt: Runtime, word: str) -> list[int]:
    with session_scope(rt.engine) as session:
        res = search_profiles(rt, session, SearchRequest(query=word, mode=SearchMode.KEYWORD))
    return [h.user_id for h in res.results]


def _user(rt: Runtime, uid: int) -> User:
    with session_scope(rt.engine) as session:
        user = session.get(User, uid)
    assert user is not None
    return user


def test_refresh_indexes_stale_users_and_sets_embedding_updated_at(
    runtime: Runtime, hooked: HookedEncoder
) -> None:
    a = make_student(runtime, clerk_id="f_a", headline="quokka wrangler")
    b = make_student(runtime, clerk_id="f_b", headline="numbat keeper")
    report = refresh_stale(runtime)
    assert (report.claimed, report.indexed, report.failed) == (2, 2, [])
    for u in (a, b):
        fresh = _user(runtime, u.id or 0)
        assert fresh.embedding_updated_at == fresh.visible_updated_at
        assert fresh.index_lease_owner is None
    assert _keyword_ids(runtime, "quokka") == [a.id]
    assert refresh_stale(runtime).claimed == 0  # nothing stale: nothing done


def test_an_edit_made_while_embedding_is_embedded_again(
    runtime: Runtime, hooked: HookedEncoder
) -> None:
    a = make_student(runtime, clerk_id="f_race", headline="first wombat")

    def edit_during_embedding(_: Sequence[str]) -> None:
        with runtime.session() as session:
            doc = ProfileWrite(headline="second echidna")
            save_profile(session, runtime, a, doc, expected_version=None)

    hooked.hook = edit_during_embedding
    report = refresh_stale(runtime)
    # The first embedding was of the old text; its verification failed (and, the
    # edit having replaced the headline, a privacy reduction removed the old point),
    # so the same run claimed the user again and embedded the edit.
    assert report.claimed == 2 and report.indexed == 1 and report.removed == 1
    # Each embedding call holds the text and, after it, the headline (the title).
    assert list(dict.fromkeys(t.splitlines()[0] for t in hooked.seen)) == [
        "first wombat",
        "second echidna",
    ]
    fresh = _user(runtime, a.id or 0)
    assert fresh.embedding_updated_at == fresh.visible_updated_at
    assert _keyword_ids(runtime, "echidna") == [a.id]
    assert _keyword_ids(runtime, "wombat") == []


def test_cas_keeps_the_user_stale_when_the_edit_lands_after_the_run(
    runtime: Runtime, hooked: HookedEncoder
) -> None:
    a = make_student(runtime, clerk_id="f_cas", headline="first")

    def edit(_: Sequence[str]) -> None:
        with runtime.session() as session:
            doc = ProfileWrite(headline="second")
            save_profile(session, runtime, a, doc, expected_version=None)

    hooked.hook = edit
    refresh_stale(runtime, limit=1)  # budget of one claim: the edit is left over
    fresh = _user(runtime, a.id or 0)
    assert fresh.embedding_updated_at is None  # the embedded version was not the latest
    with session_scope(runtime.engine) as session:
        assert staleness(session, entity=PROFILE_ROWS).stale == 1


def test_a_failing_profile_is_logged_counted_and_backs_off_without_blocking_others(
    runtime: Runtime, hooked: HookedEncoder, caplog: pytest.LogCaptureFixture
) -> None:
    good = [make_student(runtime, clerk_id=f"f_ok{i}", headline=f"fine {i}") for i in range(3)]
    bad = make_student(runtime, clerk_id="f_bad", headline="POISON pill")
    hooked.poison = "POISON"
    with caplog.at_level(logging.ERROR, logger="search_service.refresh.freshness"):
        report = refresh_stale(runtime)
    assert report.failed == [bad.id]
    assert report.indexed == 3
    assert any(f"user {bad.id} failed" in r.getMessage() for r in caplog.records)
    assert runtime.metrics.refresh_failures._value.get() == 1
    for u in good:
        assert _user(runtime, u.id or 0).embedding_updated_at is not None
    failed = _user(runtime, bad.id or 0)
    assert failed.index_attempts == 1 and failed.index_lease_owner is None
    assert failed.index_retry_at is not None and failed.index_retry_at > now_ms()
    # In backoff: the next run does not touch it.
    assert refresh_stale(runtime).claimed == 0
    # After the backoff, with the cause fixed, it is indexed and the count resets.
    with session_scope(runtime.engine) as session:
        session.execute(update(User).where(col(User.id) == bad.id).values(index_retry_at=1))
    hooked.poison = None
    assert refresh_stale(runtime).indexed == 1
    healed = _user(runtime, bad.id or 0)
    assert healed.index_attempts == 0 and healed.embedding_updated_at == healed.visible_updated_at


def test_backoff_doubles_and_is_capped() -> None:
    waits = [backoff_s(n, base_s=5, max_s=60) for n in range(1, 7)]
    assert waits == [5, 10, 20, 40, 60, 60]


def test_leases_are_exclusive_until_they_expire(runtime: Runtime) -> None:
    for i in range(5):
        make_student(runtime, clerk_id=f"f_lease{i}", headline="x")
    t = now_ms()
    with session_scope(runtime.engine) as session:
        first = claim_stale(
            session, owner="w1", limit=3, lease_ms=60_000, now=t, entity=PROFILE_ROWS
        )
    with session_scope(runtime.engine) as session:
        second = claim_stale(
            session, owner="w2", limit=10, lease_ms=60_000, now=t, entity=PROFILE_ROWS
        )
    assert len(first) == 3 and len(second) == 2 and not set(first) & set(second)
    with session_scope(runtime.engine) as session:
        assert (
            claim_stale(session, owner="w3", limit=10, lease_ms=60_000, now=t, entity=PROFILE_ROWS)
            == []
        )
    with session_scope(runtime.engine) as session:
        # a minute later, w1 and w2 look dead: their users can be taken over
        later = claim_stale(
            session, owner="w3", limit=10, lease_ms=60_000, now=t + 60_001, entity=PROFILE_ROWS
        )
    assert sorted(later) == sorted(first + second)


def test_deleted_users_leave_the_index_through_the_outbox(
    runtime: Runtime, hooked: HookedEncoder
) -> None:
    from search_service.users.repository import soft_delete_user

    a = make_student(runtime, clerk_id="f_del", headline="platypus")
    refresh_stale(runtime)
    assert runtime.index(PROFILES).store.count() == 1
    with session_scope(runtime.engine) as session:
        user = session.get(User, a.id)
        assert user is not None
        soft_delete_user(session, user)
    report = refresh_stale(runtime)
    assert report.removed == 1 and runtime.index(PROFILES).store.count() == 0
    with session_scope(runtime.engine) as session:
        pending = session.exec(
            select(OutboxEvent).where(col(OutboxEvent.processed_at).is_(None))
        ).all()
    assert pending == []


def test_outbox_events_close_once_their_version_is_indexed(
    runtime: Runtime, hooked: HookedEncoder
) -> None:
    make_student(runtime, clerk_id="f_ob", headline="one")
    with session_scope(runtime.engine) as session:
        assert len(session.exec(select(OutboxEvent)).all()) == 1
    refresh_stale(runtime)
    with session_scope(runtime.engine) as session:
        events = session.exec(select(OutboxEvent)).all()
    assert [e.processed_at is not None for e in events] == [True]


def test_an_api_edit_wakes_the_scheduled_job(
    client: TestClient, runtime: Runtime, hooked: HookedEncoder
) -> None:
    s = student_with_key(runtime, "f_wake", headline="before")
    refresh_stale(runtime)
    runtime.settings.freshness.interval_s = 3600.0  # only a wake-up can run it in time
    runtime.settings.freshness.outbox_poll_s = 3600.0
    scheduler = BackgroundScheduler()
    FreshnessJob(runtime).attach(scheduler)
    scheduler.start()
    try:
        time.sleep(0.2)  # let the start-up run finish
        r = client.patch(
            "/v1/me/profile",
            json={"headline": "after kookaburra"},
            headers={**s.headers, "Content-Type": "application/merge-patch+json"},
        )
        assert r.status_code == 200
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not _keyword_ids(runtime, "kookaburra"):
            time.sleep(0.02)
        assert _keyword_ids(runtime, "kookaburra") == [s.id]
        assert client.get("/v1/me/profile", headers=s.headers).json()["searchable"] is True
    finally:
        scheduler.shutdown(wait=True)
        runtime.on_profile_change = None


def test_the_outbox_poll_wakes_the_job_for_edits_from_other_processes(
    runtime: Runtime, hooked: HookedEncoder
) -> None:
    job = FreshnessJob(runtime)
    job.poll_outbox()
    assert not job._wake.is_set()  # nothing pending
    make_student(runtime, clerk_id="f_poll", headline="x")  # another process's write
    job.poll_outbox()
    assert job._wake.is_set()


def test_metrics_report_backlog_and_throughput(
    client: TestClient, runtime: Runtime, hooked: HookedEncoder, metrics_headers: dict[str, str]
) -> None:
    for i in range(3):
        make_student(runtime, clerk_id=f"f_m{i}", headline="x")
    before = client.get("/metrics", headers=metrics_headers).text
    assert "gigsy_profiles_stale 3.0" in before
    assert "gigsy_outbox_pending 3.0" in before
    refresh_stale(runtime)
    after = client.get("/metrics", headers=metrics_headers).text
    assert "gigsy_profiles_stale 0.0" in after
    assert "gigsy_profiles_oldest_staleness_seconds 0.0" in after
    assert "gigsy_profiles_indexed_total 3.0" in after
    assert "gigsy_profiles_embedded_total 3.0" in after
    assert "gigsy_refresh_duration_seconds_count 1.0" in after
    assert "gigsy_refresh_profiles_per_second" in after


def test_scheduler_has_every_job_and_worker_mode_blocks(runtime: Runtime) -> None:
    from apscheduler.schedulers.blocking import BlockingScheduler

    from search_service.scheduler import build_scheduler

    scheduler = build_scheduler(runtime, blocking=True)
    assert isinstance(scheduler, BlockingScheduler)
    assert {j.id for j in scheduler.get_jobs()} == {
        "refresh-embeddings",
        "outbox-poll",
        "reconcile-balances",
        "snapshot-drift",
        "retention-purge",
        "gig-expiry",
        "saved-searches",
    }
    assert runtime.on_profile_change is not None  # edits wake this scheduler's job
    runtime.on_profile_change = None


def test_refreshing_one_profile_scans_the_stale_rows_once_per_entity(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    import search_service.refresh.freshness as freshness

    claims: list[str] = []

    def counting(session: Any, **kwargs: Any) -> list[int]:
        claims.append(kwargs["entity"].name)
        return claim_stale(session, **kwargs)

    monkeypatch.setattr(freshness, "claim_stale", counting)
    make_student(runtime, clerk_id="f_one", headline="lone axolotl")
    report = refresh_stale(runtime)
    assert (report.claimed, report.indexed) == (1, 1)
    # The short claim drained profiles; gigs had nothing: no third scan.
    assert claims == ["profiles", "gigs"]
    assert _keyword_ids(runtime, "axolotl") != []


class _CountingFlush:
    """Wraps a store's flush to count calls."""

    def __init__(self, runtime: Runtime) -> None:
        self.calls = 0
        self._stores = [runtime.index(e).store for e in runtime.entities]
        self._orig = [s.flush for s in self._stores]
        for store, orig in zip(self._stores, self._orig, strict=True):
            store.flush = self._counted(orig)  # type: ignore[method-assign]

    def _counted(self, orig: Any) -> Any:
        def flush() -> None:
            self.calls += 1
            orig()

        return flush


def test_a_run_leaves_the_flush_to_the_jobs_interval(
    runtime: Runtime, hooked: HookedEncoder
) -> None:
    counter = _CountingFlush(runtime)
    runtime.settings.freshness.flush_interval_s = 3600.0
    job = FreshnessJob(runtime)
    s = make_student(runtime, clerk_id="f_flush", headline="durable kakapo")
    assert job.run().indexed == 1
    assert counter.calls == 0  # an edit is searchable and durable without a flush
    assert _keyword_ids(runtime, "kakapo") == [s.id]
    runtime.settings.freshness.flush_interval_s = 0.0
    job.run()
    assert counter.calls == len(runtime.entities)  # due: every store once
    job.run()
    assert counter.calls == 2 * len(runtime.entities)
