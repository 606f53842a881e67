"""Saved searches: save, list, delete, rerun on a schedule, and the alerts they raise.

A saved search is an employer's ``POST /v1/search`` body. The scheduler reruns
each one every interval (its own ``intervalS``, else
``GIGSY_SAVED_SEARCHES__INTERVAL_S``) through :func:`search_profiles`, so a run
ranks and hydrates exactly as an interactive search does. Each run compares the
top ``limit`` results with every candidate the search matched before:

* the first successful run stores its results as the baseline, not as alerts
  (the employer has just seen them when saving);
* a later run stores each candidate it has never matched as an alert.

A candidate who drops out of the results and comes back is not alerted again.
Alerts are created only for candidates search serves (searchable, no newer
privacy reduction), and every read of alerts goes through the same hydration
as search (:func:`hydrate_profiles`), so a candidate who is deleted, suspended
or reduces their profile after the alert was stored vanishes from it.

A failed run is logged, counted and retried at the next interval; nothing is
lost, because "new" is decided against the stored matches, not against the
previous run.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session

from indexers import Hit
from models import (
    STORED,
    SavedSearch,
    SavedSearchAlert,
    SavedSearchAlertList,
    SavedSearchMatch,
    SavedSearchView,
    SavedSearchWrite,
    SearchRequest,
    User,
    now_ms,
)
from search_service.errors import ConflictError, NotFoundError
from search_service.profiles.visibility import visible_to_employers
from search_service.runtime import Runtime
from search_service.saved.repository import (
    alerts_page,
    claim_run,
    count_owner_searches,
    delete_matches,
    due_searches,
    get_owned_search,
    indexed_versions,
    known_candidates,
    mark_seen,
    unseen_alerts,
)
from search_service.search.service import hydrate_profiles, search_profiles
from search_service.users.ledger_repository import lock_user_row
from search_service.users.repository import get_users

__all__ = [
    "RunReport",
    "create_saved_search",
    "delete_saved_search",
    "list_alerts",
    "mark_alerts_seen",
    "owned_search",
    "run_due_saved_searches",
    "run_saved_search",
    "saved_search_views",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunReport:
    """What one pass over the due saved searches did.

    Attributes:
        ran: runs that succeeded.
        failed: runs that raised (retried at their next interval).
        alerts: alerts created.
        skipped: due searches another worker claimed first.
    """

    ran: int = 0
    failed: int = 0
    alerts: int = 0
    skipped: int = 0


def _request(saved: SavedSearch) -> SearchRequest:
    """The stored search body (validated as stored: rules added later do not break it)."""
    return SearchRequest.model_validate(saved.request, context=STORED)


def create_saved_search(
    session: Session, owner: User, body: SavedSearchWrite, *, max_per_owner: int
) -> SavedSearch:
    """Save ``body`` for ``owner``; its first run (the baseline) is due at once.

    The owner's row is locked first, so concurrent saves cannot pass the limit
    together. The search is stored with ``offset`` 0, no ``cursor`` and no
    ``facets``: a run watches the top ``limit`` results.

    Raises:
        ConflictError: the owner already holds ``max_per_owner`` saved searches
            (409, code ``too_many_saved_searches``).
    """
    assert owner.id is not None
    lock_user_row(session, owner.id)
    held = count_owner_searches(session, owner.id)
    if held >= max_per_owner:
        raise ConflictError(
            f"an employer holds at most {max_per_owner} saved searches and {held} are saved;"
            " delete one first",
            code="too_many_saved_searches",
        )
    ts = now_ms()
    # A run watches the top ``limit`` results: no paging state and no facet counts.
    request = body.search.model_copy(update={"offset": 0, "cursor": None, "facets": []})
    saved = SavedSearch(
        owner_id=owner.id,
        name=body.name.strip(),
        request=request.model_dump(mode="json", by_alias=True),
        interval_s=body.interval_s,
        next_run_at=ts,
        created_at=ts,
        updated_at=ts,
    )
    session.add(saved)
    session.flush()
    return saved


def saved_search_views(
    session: Session, searches: Sequence[SavedSearch], *, default_interval_s: int
) -> list[SavedSearchView]:
    """API views of ``searches``, with their effective interval (seconds) and unseen
    alert counts.

    An alert counts only while its candidate may be shown (the rule of
    :func:`hydrate_profiles`, :func:`visible_to_employers`), so the count never
    reveals that a hidden candidate exists.
    """
    rows = unseen_alerts(session, [s.id for s in searches if s.id is not None])
    users = get_users(session, list({uid for _, uid, _ in rows}), servable=True)
    unseen: dict[int, int] = {}
    for sid, uid, version in rows:
        user = users.get(uid)
        if user is not None and visible_to_employers(user, version):
            unseen[sid] = unseen.get(sid, 0) + 1
    views = []
    for s in searches:
        assert s.id is not None
        views.append(
            SavedSearchView(
                id=s.id,
                name=s.name,
                search=_request(s),
                interval_s=s.interval_s or default_interval_s,
                custom_interval=s.interval_s is not None,
                created_at=s.created_at,
                next_run_at=s.next_run_at,
                last_run_at=s.last_run_at,
                last_success_at=s.last_success_at,
                last_error=s.last_error,
                unseen_alerts=unseen.get(s.id, 0),
            )
        )
    return views


def owned_search(session: Session, owner: User, search_id: int) -> SavedSearch:
    """The caller's own live saved search.

    Raises:
        NotFoundError: unknown, deleted, or someone else's (404, for admins too).
    """
    assert owner.id is not None
    found = get_owned_search(session, owner.id, search_id)
    if found is None:
        raise NotFoundError("no such saved search")
    return found


def delete_saved_search(session: Session, owner: User, search_id: int) -> None:
    """Soft-delete the caller's saved search: it stops running, and its matches
    (which name candidates) are deleted.

    Raises:
        NotFoundError: as :func:`owned_search`.
    """
    saved = owned_search(session, owner, search_id)
    assert saved.id is not None
    ts = now_ms()
    saved.deleted_at = ts
    saved.updated_at = max(ts, saved.updated_at)
    session.add(saved)
    delete_matches(session, saved.id)
    session.flush()


def run_saved_search(rt: Runtime, session: Session, saved: SavedSearch, *, now: int) -> int:
    """Run ``saved`` once in ``session``: store its new matches and record the success.

    Args:
        now: the run's time (epoch ms): the alerts' ``alertedAt`` and ``lastRunAt``.

    Returns:
        Alerts created (0 on the baseline run).

    Raises:
        EncoderError, VectorStoreError: the search failed (see :func:`search_profiles`).
    """
    assert saved.id is not None
    response = search_profiles(rt, session, _request(saved), counted=False)
    known = known_candidates(session, saved.id)
    baseline = saved.last_success_at is None
    fresh = [
        (rank, hit) for rank, hit in enumerate(response.results, 1) if hit.user_id not in known
    ]
    versions = indexed_versions(session, [hit.user_id for _, hit in fresh])
    created = 0
    for rank, hit in fresh:
        version = versions.get(hit.user_id)
        if version is None:
            continue  # left the index since the query; a later run finds them again
        session.add(
            SavedSearchMatch(
                saved_search_id=saved.id,
                user_id=hit.user_id,
                alert=not baseline,
                score=hit.score,
                rank=rank,
                indexed_version=version,
                created_at=now,
            )
        )
        created += 0 if baseline else 1
    saved.last_run_at = saved.last_success_at = now
    saved.runs += 1
    saved.failures = 0
    saved.last_error = None
    saved.updated_at = max(now, saved.updated_at)
    session.add(saved)
    session.flush()
    return created


def _record_failure(rt: Runtime, search_id: int, exc: Exception, *, now: int) -> None:
    with rt.session() as session:
        saved = session.get(SavedSearch, search_id)
        if saved is None:
            return
        saved.last_run_at = now
        saved.runs += 1
        saved.failures += 1
        # The class only: messages may quote a database statement or a server reply.
        saved.last_error = f"run failed ({type(exc).__name__}); retried at nextRunAt"
        saved.updated_at = max(now, saved.updated_at)
        session.add(saved)


def run_due_saved_searches(
    rt: Runtime, *, now: int | None = None, force: bool = False, limit: int | None = None
) -> RunReport:
    """Run the saved searches that are due (every live one with ``force``).

    Each search is first claimed by moving its ``next_run_at`` one interval on
    (compare-and-set, committed), so two workers never run it twice and a run
    that fails is retried at the next interval; then it runs in its own unit of
    work. A failure is logged, counted (``gigsy_saved_search_failures``) and
    recorded on the search (``lastError``); the other searches still run.
    Searches of owners who are deleted or suspended do not run.

    Args:
        now: the clock (epoch ms); default the wall clock.
        force: run every live saved search, due or not.
        limit: most searches this pass (default ``saved_searches.max_per_run``).
    """
    ts = now if now is not None else now_ms()
    cfg = rt.settings.saved_searches
    metrics = rt.metrics
    with rt.session() as session:
        due = [
            (s.id, s.next_run_at, s.interval_s or cfg.interval_s)
            for s in due_searches(session, now=ts, limit=limit or cfg.max_per_run, force=force)
            if s.id is not None
        ]
    ran = failed = alerts = skipped = 0
    for search_id, seen_next, interval_s in due:
        with rt.session() as session:
            won = claim_run(
                session, search_id, seen_next=seen_next, next_run_at=ts + interval_s * 1000
            )
        if not won:
            skipped += 1
            continue
        metrics.saved_search_runs.inc()
        try:
            with rt.session() as session:
                saved = session.get(SavedSearch, search_id)
                if saved is None or saved.deleted_at is not None:
                    continue
                created = run_saved_search(rt, session, saved, now=ts)
        except Exception as exc:
            log.exception("saved search %d failed; retrying in %d s", search_id, interval_s)
            metrics.saved_search_failures.inc()
            failed += 1
            _record_failure(rt, search_id, exc, now=ts)
            continue
        ran += 1
        alerts += created
        metrics.saved_search_alerts.inc(created)
    if due:
        log.info(
            "saved searches: %d ran, %d failed, %d skipped, %d alerts", ran, failed, skipped, alerts
        )
    return RunReport(ran=ran, failed=failed, alerts=alerts, skipped=skipped)


def list_alerts(
    session: Session, saved: SavedSearch, *, limit: int, offset: int
) -> SavedSearchAlertList:
    """A page of ``saved``'s alerts, unseen first, then newest.

    Every alert is hydrated as a search hit is (:func:`hydrate_profiles`): one whose
    candidate is no longer searchable (deleted, suspended) or reduced their profile
    after the match (privacy floor above the match's ``indexed_version``) is left
    out, and the page is filled from the following alerts. ``offset`` counts stored
    alerts, hidden ones included, so ``nextOffset`` is where the next page starts.
    """
    assert saved.id is not None
    out: list[SavedSearchAlert] = []
    position = offset
    while len(out) < limit:
        rows = alerts_page(session, saved.id, limit=limit, offset=position)
        if not rows:
            return SavedSearchAlertList(results=out, next_offset=None)
        page = [Hit(id=r.user_id, score=r.score, version=r.indexed_version) for r in rows]
        shown = {
            h.user_id: h
            for h in hydrate_profiles(session, page, dense=[], keyword=[], term_names={})
        }
        for row in rows:
            position += 1
            hit = shown.get(row.user_id)
            if hit is not None and row.id is not None:
                out.append(
                    SavedSearchAlert(
                        id=row.id,
                        alerted_at=row.created_at,
                        seen_at=row.seen_at,
                        rank=row.rank,
                        candidate=hit,
                    )
                )
                if len(out) == limit:
                    break
    more = bool(alerts_page(session, saved.id, limit=1, offset=position))
    return SavedSearchAlertList(results=out, next_offset=position if more else None)


def mark_alerts_seen(session: Session, saved: SavedSearch, alert_ids: Sequence[int] | None) -> int:
    """Mark ``saved``'s unseen alerts seen now: those in ``alert_ids`` (ids of other
    searches are ignored), or all of them. Returns how many were marked."""
    assert saved.id is not None
    return mark_seen(session, saved.id, alert_ids, now=now_ms())
