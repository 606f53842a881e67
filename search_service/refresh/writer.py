"""Keeping the vector index in step with SQL: the index write protocol, full reindex.

SQL is the source of truth; the index is derived and can be rebuilt at any time.
Every index write follows one protocol (ARCHITECTURE.md, "Index versions"):

1. lease the users in SQL (compare-and-set on the lease columns);
2. load their rows and build documents (version = ``visible_updated_at``);
3. upsert the points (the payload carries the version as ``updated_at``);
4. verify in SQL (:func:`~search_service.index.repository.confirm_indexed`):
   mark fresh only if the lease is still ours and SQL still holds that version,
   the user is searchable and the version is not below the privacy floor;
   otherwise remove the point, leave the user stale, or mark it not indexed.

Deletes outside a lease go through :func:`search_service.profiles.visibility.remove_points`,
which invalidates after deleting. Together no interleaving of refresh runs,
reindex, edits, deletes and webhooks leaves a point older than SQL, or a point of
someone not searchable, while SQL says the user is fresh.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tqdm import tqdm

from indexers import Bm25Encoder, FilterSpec, Indexer, IndexReport, ProfileDocument, build_document
from search_service.db import session_scope
from search_service.index.removals import remove_points
from search_service.index.repository import (
    active_user_ids,
    claim_users,
    confirm_indexed,
    invalidate_index,
    release_leases,
)
from search_service.index.state import set_state
from search_service.profiles.repository import load_profile_rows
from search_service.runtime import BM25_STATE_KEY, Runtime

__all__ = ["BatchOutcome", "index_leased", "reindex", "remove_from_index"]

log = logging.getLogger(__name__)

_CHUNK = 256


@dataclass(slots=True)
class BatchOutcome:
    """What :func:`index_leased` did with one batch of leased users.

    Attributes:
        fresh: users indexed and confirmed at their current version.
        retry: users written but not confirmed (content moved on, lease lost):
            still stale in SQL, the next run writes them again.
        removed: users whose point was deleted after the write (no longer
            searchable, or below their privacy floor).
        skipped: users not indexable any more (no profile, deleted, suspended).
        failed: user id -> the error of its upsert (one at a time after a batch failure).
        embedded: documents (re-)embedded; reused: documents whose vector was reused.
    """

    fresh: list[int] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    failed: dict[int, Exception] = field(default_factory=dict)
    embedded: int = 0
    reused: int = 0


def _documents(rt: Runtime, ids: Sequence[int]) -> tuple[list[ProfileDocument], list[int]]:
    with session_scope(rt.engine) as session:
        rows = load_profile_rows(session, ids)
    docs: list[ProfileDocument] = []
    skipped: list[int] = []
    for uid in ids:
        r = rows.get(uid)
        if r is None or r.profile is None or not r.user.is_searchable:
            skipped.append(uid)  # its removal event (or nothing) handles the point
        else:
            docs.append(build_document(r))
    return docs, skipped


def index_leased(
    rt: Runtime,
    indexer: Indexer,
    ids: Sequence[int],
    *,
    owner: str,
    on_upserted: Callable[[list[int]], None] | None = None,
) -> BatchOutcome:
    """Index users that ``owner`` has leased, then verify the writes (the protocol above).

    A failing batch is retried one document at a time, so one bad profile never
    blocks the others; failed users are marked not indexed (their write may still
    land) for the caller to back off; every lease is released here.

    Args:
        rt: the runtime.
        indexer: the encoding/upsert pipeline.
        ids: users leased to ``owner``.
        owner: the lease owner id.
        on_upserted: test hook, called with the ids written before verification.

    Raises:
        SQLAlchemyError: the database failed (leases expire; nothing is lost).
    """
    out = BatchOutcome()
    docs, out.skipped = _documents(rt, ids)
    done: list[ProfileDocument] = []
    try:
        report = indexer.index(docs)
        done = docs
        out.embedded, out.reused = report.embedded, report.reused
    except Exception as batch_exc:
        log.warning("index batch of %d failed (%r); retrying one by one", len(docs), batch_exc)
        for doc in docs:
            try:
                report = indexer.index([doc])
            except Exception as exc:
                out.failed[doc.user_id] = exc
                continue
            done.append(doc)
            out.embedded += report.embedded
            out.reused += report.reused
    if on_upserted is not None:
        on_upserted([d.user_id for d in done])
    with session_scope(rt.engine) as session:
        confirmation = confirm_indexed(session, {d.user_id: d.version for d in done}, owner=owner)
        if out.skipped:
            release_leases(session, owner=owner, ids=out.skipped)
        if out.failed:
            # A failed upsert may still land (a timeout after the server applied it):
            # treat it like a lost lease, so no verification can call the user fresh.
            invalidate_index(session, list(out.failed))
    out.fresh = confirmation.fresh
    lost = [u for u in confirmation.lost if u not in confirmation.remove]
    out.retry = confirmation.superseded + lost
    if confirmation.remove:
        remove_points(rt, confirmation.remove)
        out.removed = confirmation.remove
    return out


def reindex(rt: Runtime, *, recreate: bool = False, progress: bool = True) -> IndexReport:
    """Rebuild the index from SQL.

    Recomputes the BM25 average document length over the corpus (recorded in
    ``index_state``), re-encodes every indexable profile (reusing stored dense
    vectors of unchanged texts unless ``recreate``) through the leased write
    protocol, and deletes points of users that no longer belong in the index.
    Users leased to another live writer are left to it.

    Raises:
        EncoderError, VectorStoreError: as raised by the pipeline.
    """
    from search_service.refresh.freshness import worker_id

    with session_scope(rt.engine) as session:
        ids = active_user_ids(session)
    if recreate:
        # SQL first: a crash after the drop must leave everyone stale, not "fresh"
        # beside an empty index. And again after it: a writer that upserted into
        # the old collection meanwhile loses its lease, so it cannot confirm.
        with session_scope(rt.engine) as session:
            invalidate_index(session, ids)
        rt.store.recreate(rt.encoder.dim)
        with session_scope(rt.engine) as session:
            invalidate_index(session, ids)
    texts: list[str] = []
    for start in range(0, len(ids), _CHUNK):
        docs, _ = _documents(rt, ids[start : start + _CHUNK])
        texts += [d.text for d in docs]
    avg_len = Bm25Encoder.corpus_avg_len(texts)
    del texts
    with session_scope(rt.engine) as session:
        set_state(session, BM25_STATE_KEY, {"avg_len": avg_len, "documents": len(ids)})
    rt.set_bm25(Bm25Encoder(avg_len=avg_len))
    rt.store.ensure_collection(rt.encoder.dim)
    indexer = Indexer(rt.store, rt.encoder, rt.bm25, batch_size=rt.settings.index_batch_size)
    owner = worker_id()
    lease_ms = rt.settings.freshness.lease_s * 1000
    total = IndexReport()
    started = time.perf_counter()
    with tqdm(total=len(ids), desc="reindex", unit="profile", disable=not progress) as bar:
        for start in range(0, len(ids), _CHUNK):
            with session_scope(rt.engine) as session:
                leased = claim_users(
                    session, ids[start : start + _CHUNK], owner=owner, lease_ms=lease_ms
                )
            out = index_leased(rt, indexer, leased, owner=owner)
            if out.failed:
                with session_scope(rt.engine) as session:
                    release_leases(session, owner=owner, ids=list(out.failed))
                log.error("reindex failed for users %s; the refresh job retries", list(out.failed))
            total.indexed += len(out.fresh) + len(out.retry)
            total.embedded += out.embedded
            total.reused += out.reused
            bar.update(min(_CHUNK, len(ids) - start))
    total.seconds = time.perf_counter() - started
    _drop_orphans(rt)
    rt.store.flush()
    return total


def _drop_orphans(rt: Runtime) -> None:
    """Delete points whose user is not indexable now (deleted, suspended, no profile);
    each deletion also marks the user not indexed (:func:`remove_points`)."""
    total = rt.store.count()
    if total == 0:
        return
    with session_scope(rt.engine) as session:
        keep = set(active_user_ids(session))
    # Browsing everything by recency is the one listing both adapters share.
    hits = rt.store.browse(FilterSpec(), limit=total, offset=0)
    orphans = [h.id for h in hits if h.id not in keep]
    if orphans:
        remove_points(rt, orphans)
        log.info("removed %d orphaned points", len(orphans))



def remove_from_index(rt: Runtime, ids: Sequence[int]) -> None:
    """Delete users' points at once and mark them not indexed (see
    :func:`search_service.profiles.visibility.remove_points`)."""
    remove_points(rt, ids)
