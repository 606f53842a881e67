"""Keeping the vector index in step with SQL: full reindex, stale refresh, removal.

SQL is the source of truth; the index is derived and can be rebuilt at any time.
After a successful upsert each user's ``embedding_updated_at`` is set, by
compare-and-set, to the ``updated_at`` that was indexed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from tqdm import tqdm

from indexers import Bm25Encoder, FilterSpec, Indexer, IndexReport, build_document
from search_service.db import session_scope
from search_service.repositories.index_state import set_state
from search_service.repositories.profiles import load_profile_rows
from search_service.repositories.users import active_user_ids, mark_indexed
from search_service.runtime import BM25_STATE_KEY, Runtime

__all__ = ["flush_index", "reindex", "remove_from_index"]

log = logging.getLogger(__name__)

_CHUNK = 256


def _index_ids(rt: Runtime, ids: Sequence[int], *, progress: bool, desc: str) -> IndexReport:
    """Build, encode and upsert the documents of ``ids``, then mark them indexed."""
    rt.store.ensure_collection(rt.encoder.dim)
    indexer = Indexer(rt.store, rt.encoder, rt.bm25, batch_size=rt.settings.index_batch_size)
    total = IndexReport()
    with tqdm(total=len(ids), desc=desc, unit="profile", disable=not progress) as bar:
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            with session_scope(rt.engine) as session:
                rows = load_profile_rows(session, chunk)
            docs = [build_document(rows[i]) for i in chunk if i in rows]
            report = indexer.index(docs)
            with session_scope(rt.engine) as session:
                mark_indexed(session, {d.user_id: d.version for d in docs})
            total.indexed += report.indexed
            total.embedded += report.embedded
            total.reused += report.reused
            total.seconds += report.seconds
            bar.update(len(chunk))
    return total


def reindex(rt: Runtime, *, recreate: bool = False, progress: bool = True) -> IndexReport:
    """Rebuild the index from SQL.

    Recomputes the BM25 average document length over the corpus (recorded in
    ``index_state``), re-encodes every indexable profile (reusing stored dense
    vectors of unchanged texts unless ``recreate``), and deletes points of users
    that no longer belong in the index.

    Raises:
        EncoderError, VectorStoreError: as raised by the pipeline.
    """
    with session_scope(rt.engine) as session:
        ids = active_user_ids(session)
    if recreate:
        rt.store.recreate(rt.encoder.dim)
    texts: list[str] = []
    for start in range(0, len(ids), _CHUNK):
        with session_scope(rt.engine) as session:
            rows = load_profile_rows(session, ids[start : start + _CHUNK])
        texts += [build_document(r).text for r in rows.values()]
    avg_len = Bm25Encoder.corpus_avg_len(texts)
    del texts
    with session_scope(rt.engine) as session:
        set_state(session, BM25_STATE_KEY, {"avg_len": avg_len, "documents": len(ids)})
    rt.set_bm25(Bm25Encoder(avg_len=avg_len))
    report = _index_ids(rt, ids, progress=progress, desc="reindex")
    _drop_orphans(rt, set(ids))
    flush_index(rt)
    return report


def _drop_orphans(rt: Runtime, keep: set[int]) -> None:
    """Delete points whose user is no longer indexable (deleted, suspended, no profile)."""
    # Browsing everything by recency is the one listing both adapters share.
    total = rt.store.count()
    if total <= len(keep):
        return
    hits = rt.store.browse(FilterSpec(), limit=total, offset=0)
    orphans = [h.id for h in hits if h.id not in keep]
    if orphans:
        rt.store.delete(orphans)
        log.info("removed %d orphaned points", len(orphans))


def flush_index(rt: Runtime) -> None:
    """Make the store's recent writes durable, for stores that buffer (Qdrant Edge)."""
    flush = getattr(rt.store, "flush", None)
    if callable(flush):
        flush()


def remove_from_index(rt: Runtime, ids: Sequence[int]) -> None:
    """Delete users' points at once (soft delete, suspension)."""
    rt.store.delete(list(ids))
