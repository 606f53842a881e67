"""Keeping the vector index in step with SQL: the index write protocol, full reindex.

One mechanism serves every indexed entity (``search_service.index.entity``:
profiles, gigs); the functions take the entity (``entity=``) and reach its
store, BM25 encoder and document loader through ``Runtime.index(entity)``.

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

from indexers import Bm25Encoder, Document, FilterSpec, Indexer, IndexReport
from search_service.db import session_scope
from search_service.index.entity import IndexedEntity
from search_service.index.removals import remove_points
from search_service.index.repository import (
    active_user_ids,
    claim_users,
    confirm_indexed,
    invalidate_index,
    release_leases,
)
from search_service.index.state import get_state, set_state
from search_service.runtime import Runtime

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


def _documents(
    rt: Runtime, ids: Sequence[int], entity: IndexedEntity
) -> tuple[list[Document], list[int]]:
    """The documents of leased ``ids`` and the ids with nothing to index, built by
    the entity's loader (``IndexedEntity.loader``) in a unit of work of its own."""
    full = rt.index(entity).entity
    with session_scope(rt.engine) as session:
        return full.documents(session, ids)


def index_leased(
    rt: Runtime,
    indexer: Indexer,
    ids: Sequence[int],
    *,
    owner: str,
    on_upserted: Callable[[list[int]], None] | None = None,
    on_documents: Callable[[list[Document]], None] | None = None,
    entity: IndexedEntity,
) -> BatchOutcome:
    """Index rows of ``entity`` that ``owner`` has leased, then verify the writes
    (the protocol above).

    A failing batch is retried one document at a time, so one bad profile never
    blocks the others; failed users are marked not indexed (their write may still
    land) for the caller to back off; every lease is released here.

    Args:
        rt: the runtime.
        indexer: the encoding/upsert pipeline (on ``entity``'s store).
        ids: rows leased to ``owner``.
        owner: the lease owner id.
        on_upserted: test hook, called with the ids written before verification.
        on_documents: called with the documents built, before the upsert
            (``reindex`` measures their BM25 lengths).
        entity: the indexed entity.

    Raises:
        SQLAlchemyError: the database failed (leases expire; nothing is lost).
    """
    out = BatchOutcome()
    docs, out.skipped = _documents(rt, ids, entity)
    if on_documents is not None:
        on_documents(docs)
    done: list[Document] = []
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
                out.failed[doc.id] = exc
                continue
            done.append(doc)
            out.embedded += report.embedded
            out.reused += report.reused
    if on_upserted is not None:
        on_upserted([d.id for d in done])
    with session_scope(rt.engine) as session:
        confirmation = confirm_indexed(
            session, {d.id: d.version for d in done}, owner=owner, entity=entity
        )
        if out.skipped:
            release_leases(session, owner=owner, ids=out.skipped, entity=entity)
        if out.failed:
            # A failed upsert may still land (a timeout after the server applied it):
            # treat it like a lost lease, so no verification can call the user fresh.
            invalidate_index(session, list(out.failed), entity=entity)
    out.fresh = confirmation.fresh
    lost = [u for u in confirmation.lost if u not in confirmation.remove]
    out.retry = confirmation.superseded + lost
    if confirmation.remove:
        remove_points(rt, confirmation.remove, entity=entity)
        out.removed = confirmation.remove
    return out


def reindex(
    rt: Runtime,
    *,
    recreate: bool = False,
    progress: bool = True,
    entities: Sequence[IndexedEntity] | None = None,
) -> IndexReport:
    """Rebuild the index of each entity (default: every entity of ``rt``) from SQL.

    Per entity: recomputes the BM25 average document length over its corpus
    (recorded in ``index_state``; without ``recreate`` it writes with the
    recorded length and measures on the way, writing everything again only if
    the length changed, so unchanged data builds each document once),
    re-encodes every indexable row (reusing stored
    dense vectors of unchanged texts unless ``recreate``) through the leased
    write protocol, and deletes points of rows that no longer belong in the
    index. Rows leased to another live writer are left to it.

    Returns:
        The totals over the entities.

    Raises:
        EncoderError, VectorStoreError: as raised by the pipeline.
    """
    total = IndexReport()
    started = time.perf_counter()
    for entity in rt.entities if entities is None else entities:
        report = _reindex_entity(rt, entity, recreate=recreate, progress=progress)
        total.indexed += report.indexed
        total.embedded += report.embedded
        total.reused += report.reused
    total.seconds = time.perf_counter() - started
    return total


def _reindex_entity(
    rt: Runtime, entity: IndexedEntity, *, recreate: bool, progress: bool
) -> IndexReport:
    index = rt.index(entity)
    store = index.store
    key = index.entity.bm25_key
    with session_scope(rt.engine) as session:
        ids = active_user_ids(session, entity=entity)
        previous = get_state(session, key)
    if recreate:
        # SQL first: a crash after the drop must leave everyone stale, not "fresh"
        # beside an empty index. And again after it: a writer that upserted into
        # the old collection meanwhile loses its lease, so it cannot confirm.
        with session_scope(rt.engine) as session:
            invalidate_index(session, ids, entity=entity)
        store.recreate(rt.encoder.dim)
        with session_scope(rt.engine) as session:
            invalidate_index(session, ids, entity=entity)
    store.ensure_collection(rt.encoder.dim)
    old_avg = previous.get("avg_len") if previous else None
    if recreate or not isinstance(old_avg, int | float):
        avg_len = _corpus_avg_len(rt, ids, entity)
        _set_bm25(rt, entity, avg_len, len(ids))
        return _write_all(rt, entity, ids, progress=progress)[0]
    # Unchanged data keeps the corpus's average length: write with the recorded
    # one and measure the corpus on the way, instead of building every document
    # twice. Only if the measure differs is everything written again with it.
    index.set_bm25(Bm25Encoder(avg_len=float(old_avg)))
    report, measured = _write_all(rt, entity, ids, progress=progress)
    if measured is None:  # a row was leased to another writer: not measured
        measured = _corpus_avg_len(rt, ids, entity)
    _set_bm25(rt, entity, measured, len(ids))
    if measured != old_avg:
        log.info(
            "%s BM25 average length %.4f -> %.4f: writing again", entity.name, old_avg, measured
        )
        again, _ = _write_all(rt, entity, ids, progress=progress)
        report.embedded += again.embedded
        report.reused += again.reused
        report.seconds += again.seconds
    return report


def _corpus_avg_len(rt: Runtime, ids: Sequence[int], entity: IndexedEntity) -> float:
    """BM25 average document length over the documents of ``ids`` (built from SQL)."""
    texts: list[tuple[str, str]] = []
    for start in range(0, len(ids), _CHUNK):
        docs, _ = _documents(rt, ids[start : start + _CHUNK], entity)
        texts += [(d.text, d.title) for d in docs]
    return Bm25Encoder.corpus_avg_titled_len(texts)


def _set_bm25(rt: Runtime, entity: IndexedEntity, avg_len: float, documents: int) -> None:
    """Record ``entity``'s BM25 average length in ``index_state`` and use it."""
    index = rt.index(entity)
    with session_scope(rt.engine) as session:
        set_state(session, index.entity.bm25_key, {"avg_len": avg_len, "documents": documents})
    index.set_bm25(Bm25Encoder(avg_len=avg_len))


def _write_all(
    rt: Runtime, entity: IndexedEntity, ids: Sequence[int], *, progress: bool
) -> tuple[IndexReport, float | None]:
    """Write every row of ``ids`` through the leased protocol, ``_CHUNK`` at a time,
    with the runtime's current BM25 encoder; drop orphaned points.

    Returns:
        The report, and the BM25 average length of the documents built
        (:meth:`Bm25Encoder.corpus_avg_titled_len`'s formula), or None when some rows
        were leased to another writer and so not built here.
    """
    from search_service.refresh.freshness import worker_id

    index = rt.index(entity)
    store = index.store
    indexer = Indexer(store, rt.encoder, index.bm25, batch_size=rt.settings.index_batch_size)
    probe = Bm25Encoder()
    lengths = [0.0, 0]  # total BM25 length (titles weighted), documents

    def measure(docs: list[Document]) -> None:
        lengths[0] += sum(probe.titled_length(d.text, d.title) for d in docs)
        lengths[1] += len(docs)

    owner = worker_id()
    lease_ms = rt.settings.freshness.lease_s * 1000
    total = IndexReport()
    started = time.perf_counter()
    unit = entity.name.rstrip("s")
    complete = True
    with tqdm(
        total=len(ids), desc=f"reindex {entity.name}", unit=unit, disable=not progress
    ) as bar:
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            with session_scope(rt.engine) as session:
                leased = claim_users(session, chunk, owner=owner, lease_ms=lease_ms, entity=entity)
            complete = complete and len(leased) == len(chunk)
            bar.update(len(chunk) - len(leased))
            # One indexer batch at a time, so the bar moves every few seconds, not
            # once per chunk: 256 documents took ~50 s to embed on a loaded 2-core machine.
            for part in range(0, len(leased), indexer.batch_size):
                batch = leased[part : part + indexer.batch_size]
                out = index_leased(
                    rt, indexer, batch, owner=owner, on_documents=measure, entity=entity
                )
                if out.failed:
                    with session_scope(rt.engine) as session:
                        release_leases(session, owner=owner, ids=list(out.failed), entity=entity)
                    log.error(
                        "reindex failed for %s %s; the refresh job retries",
                        entity.name,
                        list(out.failed),
                    )
                total.indexed += len(out.fresh) + len(out.retry)
                total.embedded += out.embedded
                total.reused += out.reused
                bar.update(len(batch))
    total.seconds = time.perf_counter() - started
    _drop_orphans(rt, entity)
    store.flush()
    total_len, count = lengths
    # Bm25Encoder.corpus_avg_titled_len: total length / documents, at least 1.0.
    measured = (max(total_len / count, 1.0) if count else 1.0) if complete else None
    return total, measured


def _drop_orphans(rt: Runtime, entity: IndexedEntity) -> None:
    """Delete points whose row is not indexable now (deleted, suspended, no profile;
    a gig closed or expired); each deletion also marks the row not indexed
    (:func:`remove_points`)."""
    store = rt.index(entity).store
    total = store.count()
    if total == 0:
        return
    with session_scope(rt.engine) as session:
        keep = set(active_user_ids(session, entity=entity))
    # Browsing everything by recency is the one listing both adapters share.
    hits = store.browse(FilterSpec(), limit=total, offset=0)
    orphans = [h.id for h in hits if h.id not in keep]
    if orphans:
        remove_points(rt, orphans, entity=entity)
        log.info("removed %d orphaned %s points", len(orphans), entity.name)


def remove_from_index(rt: Runtime, ids: Sequence[int], *, entity: IndexedEntity) -> None:
    """Delete points of ``entity`` at once and mark them not indexed (see
    :func:`search_service.index.removals.remove_points`)."""
    remove_points(rt, ids, entity=entity)
