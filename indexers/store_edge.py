"""Qdrant Edge adapter: the Qdrant engine in-process, one shard directory.

One process owns a shard directory; one ``EdgeShard`` is safe to use from many
threads (DESIGN.md, "Engines"). Pinned to qdrant-edge-py 0.9.0, whose API is beta.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

import numpy as np
import numpy.typing as npt
import qdrant_edge as qe

from indexers.bm25 import SparseVec
from indexers.errors import StoreUnavailableError, VectorStoreError
from indexers.fusion import FusionSpec, fuse
from indexers.store import (
    BROWSE_ORDER_FIELD,
    DENSE,
    SCAN_PAGE,
    SPARSE,
    CollectionSchema,
    FilterSpec,
    Hit,
    IndexPoint,
    SearchResult,
    by_score,
)

__all__ = ["EdgeStore"]


def _filter(spec: FilterSpec) -> qe.Filter | None:
    conds: list[Any] = [
        qe.FieldCondition(key, match=qe.MatchValue(value)) for key, value in spec.keywords
    ]
    conds += [
        qe.FieldCondition(r.field, range=qe.RangeFloat(gte=r.gte, lte=r.lte)) for r in spec.ranges
    ]
    excluded: list[Any] | None = (
        [qe.HasIdCondition(set(spec.exclude_ids))] if spec.exclude_ids else None
    )
    if not conds and not excluded:
        return None
    return qe.Filter(must=conds or None, must_not=excluded)


def _indexes(schema: CollectionSchema) -> list[tuple[str, qe.PayloadSchemaType]]:
    return (
        [(name, qe.PayloadSchemaType.Keyword) for name in schema.keyword_fields]
        + [(name, qe.PayloadSchemaType.Integer) for name in schema.integer_fields]
        + [(name, qe.PayloadSchemaType.Float) for name in schema.float_fields]
    )


def _sparse_config() -> dict[str, qe.EdgeSparseVectorParams]:
    # BM25 term weights with the IDF modifier: the engine computes IDF at query time.
    return {SPARSE: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)}


def _sparse(vec: SparseVec) -> qe.SparseVector:
    return qe.SparseVector(indices=vec.indices, values=vec.values)


def _terms(point: Any) -> frozenset[int] | None:
    vectors = point.vector
    if not isinstance(vectors, dict) or SPARSE not in vectors:
        return None
    # The indices are Python ints already; converting each one again cost more
    # than the retrieval itself (~25 us per point of ~60 terms).
    return frozenset(vectors[SPARSE].indices)


def _version(point: Any) -> int | None:
    value = (point.payload or {}).get(BROWSE_ORDER_FIELD)
    return int(value) if value is not None else None


def _hits(points: Sequence[Any]) -> list[Hit]:
    """Hits with the term ids and version each point carries (when queried with them)."""
    return [
        Hit(id=int(p.id), score=float(p.score), terms=_terms(p), version=_version(p))
        for p in points
    ]


def _scored(points: Sequence[Any]) -> list[Hit]:
    """Ids and scores only, for points queried without payload or vectors (each
    attribute read converts a Rust value into a new Python object); equal scores
    ordered by id (:func:`indexers.store.by_score`)."""
    return by_score([Hit(id=int(p.id), score=float(p.score)) for p in points])


class EdgeStore:
    """:class:`indexers.store.VectorStore` on a Qdrant Edge shard at ``path``.

    Args:
        path: shard directory; created on :meth:`ensure_collection`.
        schema: the payload indexes :meth:`ensure_collection` creates.
        search_threads: threads one query may use (``EdgeConfig.max_search_threads``,
            set on create and on every load; 0: the engine's default, one per
            core). One by default: on two cores a hybrid query of 2,000 points
            cost 398 us of CPU (272 us wall) with the default pool and 152 us (152
            us wall) with one thread, the pool's waiting threads spinning.

    Raises:
        StoreUnavailableError: the shard exists but cannot be opened (for example
            another process holds it).
    """

    def __init__(
        self, path: str | Path, *, schema: CollectionSchema, search_threads: int = 1
    ) -> None:
        if search_threads < 0:
            raise ValueError(f"search_threads must be >= 0, got {search_threads}")
        self.path = Path(path)
        self.schema = schema
        self.search_threads = search_threads
        self._lock = threading.Lock()
        self._shard: qe.EdgeShard | None = None
        self._columns: dict[str, dict[int, Any]] = {}
        """Payload field -> point id -> value, for the fields :meth:`point_values`
        was asked for; loaded by one scroll on first use, then kept in step by
        :meth:`upsert`, :meth:`delete`, :meth:`recreate` and :meth:`close` (this
        process owns the shard, so no other writer can move it)."""
        self._columns_lock = threading.Lock()
        """Held by every column load, every write, and the shard's replacement
        (:meth:`recreate`, :meth:`close`, which empty the columns under it), so no
        scan of an old shard outlives it."""
        if self._exists():
            self._shard = self._open()

    def _exists(self) -> bool:
        return self.path.is_dir() and any(self.path.iterdir())

    def _open(self) -> qe.EdgeShard:
        try:
            # Only the settings given here change; the rest (the dense vectors'
            # size, storage) resolves from the shard's persisted configuration.
            config = qe.EdgeConfig(
                sparse_vectors=_sparse_config(), max_search_threads=self.search_threads
            )
            return qe.EdgeShard.load(str(self.path), config)
        except Exception as exc:
            if "WouldBlock" in str(exc):
                # The WAL lock: one process owns a shard directory.
                raise StoreUnavailableError(
                    f"the index at {self.path} is in use by another process"
                    " (stop `gigsy-search serve` first)"
                ) from exc
            raise StoreUnavailableError(
                f"cannot open Qdrant Edge shard {self.path}: {exc}"
            ) from exc

    @property
    def shard(self) -> qe.EdgeShard:
        """The open shard.

        Raises:
            StoreUnavailableError: :meth:`ensure_collection` has not created it yet.
        """
        if self._shard is None:
            raise StoreUnavailableError(
                f"no index at {self.path}: run `gigsy-search reindex` to build it"
            )
        return self._shard

    def _dim(self) -> int | None:
        if self._shard is None:
            return None
        # 0.9.0 exposes no config getter: read the size off any stored vector.
        records, _ = self._shard.scroll(qe.ScrollRequest(limit=1, with_vector=[DENSE]))
        for rec in records:
            vec = rec.vector
            dense = vec.get(DENSE) if isinstance(vec, dict) else None
            if isinstance(dense, list):
                return len(dense)
        return None

    def ensure_collection(self, dim: int) -> None:
        """Create the shard and its payload indexes if missing (see protocol)."""
        with self._lock:
            if self._shard is None:
                config = qe.EdgeConfig(
                    vectors={DENSE: qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine)},
                    sparse_vectors=_sparse_config(),
                    max_search_threads=self.search_threads,
                )
                self.path.mkdir(parents=True, exist_ok=True)
                self._shard = qe.EdgeShard.create(str(self.path), config)
                for name, kind in _indexes(self.schema):
                    self._shard.update(qe.UpdateOperation.create_field_index(name, kind))
        existing = self._dim()
        if existing is not None and existing != dim:
            raise VectorStoreError(
                f"index at {self.path} holds {existing}-d vectors but the encoder makes {dim}-d:"
                " run `gigsy-search reindex --recreate`"
            )

    def recreate(self, dim: int) -> None:
        """Delete the shard directory and create an empty shard."""
        with self._columns_lock:
            self._columns = {}
            with self._lock:
                if self._shard is not None:
                    self._shard.close()
                    self._shard = None
                shutil.rmtree(self.path, ignore_errors=True)
            self.ensure_collection(dim)

    def upsert(self, points: Sequence[IndexPoint]) -> None:
        """Insert or replace points."""
        if not points:
            return
        ops = [
            qe.Point(
                p.id,
                {DENSE: p.dense.astype(np.float32).tolist(), SPARSE: _sparse(p.sparse)},
                p.payload,
            )
            for p in points
        ]
        with self._columns_lock:
            self.shard.update(qe.UpdateOperation.upsert_points(ops))
            for name, column in self._columns.items():
                for p in points:
                    if name in p.payload:
                        column[p.id] = p.payload[name]
                    else:
                        column.pop(p.id, None)

    def delete(self, ids: Sequence[int]) -> None:
        """Remove points by id."""
        if ids and self._shard is not None:
            with self._columns_lock:
                self._shard.update(qe.UpdateOperation.delete_points(list(ids)))
                for column in self._columns.values():
                    for i in ids:
                        column.pop(i, None)

    def count(self) -> int:
        """Number of points (0 before the shard exists)."""
        if self._shard is None:
            return 0
        return int(self._shard.count(qe.CountRequest(exact=True)))

    def payloads(
        self, ids: Sequence[int], fields: Sequence[str] | None = None
    ) -> dict[int, dict[str, Any]]:
        """Payloads of existing points, whole or only ``fields`` (see protocol)."""
        if not ids or self._shard is None:
            return {}
        wanted: bool | list[str] = True if fields is None else list(fields)
        recs = self._shard.retrieve(list(ids), with_payload=wanted, with_vector=False)
        return {int(r.id): dict(r.payload or {}) for r in recs}

    def point_values(self, ids: Sequence[int], fields: Sequence[str]) -> dict[int, dict[str, Any]]:
        """``fields`` of points ``ids`` from per-field columns held in memory (see
        protocol): the first call for a field scrolls the whole collection for it
        (about a second per 100k points), later ones are dict look-ups, without
        the store's payload conversion. A column costs roughly 100 bytes per point.
        """
        if not ids or self._shard is None:
            return {}
        columns = [(name, self._column(name)) for name in fields]
        out: dict[int, dict[str, Any]] = {}
        for i in ids:
            values = {name: column[i] for name, column in columns if i in column}
            if values:
                out[i] = values
        return out

    def _column(self, name: str) -> dict[int, Any]:
        column = self._columns.get(name)
        if column is not None:
            return column
        with self._columns_lock:
            column = self._columns.get(name)
            if column is None:
                scanned = self.scan_payloads(FilterSpec(), fields=[name])
                column = {i: p[name] for i, p in scanned.items() if name in p}
                self._columns[name] = column
        return column

    def dense_vectors(self, ids: Sequence[int]) -> dict[int, npt.NDArray[np.float32]]:
        """Stored dense vectors of existing points."""
        if not ids or self._shard is None:
            return {}
        recs = self._shard.retrieve(list(ids), with_payload=False, with_vector=[DENSE])
        out: dict[int, npt.NDArray[np.float32]] = {}
        for r in recs:
            vec = r.vector
            if isinstance(vec, dict) and DENSE in vec:
                out[int(r.id)] = np.asarray(vec[DENSE], dtype=np.float32)
        return out

    def scan_payloads(
        self, filters: FilterSpec, *, fields: Sequence[str]
    ) -> dict[int, dict[str, Any]]:
        """Filtered scroll of payload ``fields`` over all matches (see protocol)."""
        if self._shard is None:
            return {}
        flt = _filter(filters)
        out: dict[int, dict[str, Any]] = {}
        offset: Any = None
        while True:
            records, offset = self._shard.scroll(
                qe.ScrollRequest(
                    offset=offset,
                    limit=SCAN_PAGE,
                    filter=flt,
                    with_payload=list(fields),
                    with_vector=False,
                )
            )
            out.update((int(r.id), dict(r.payload or {})) for r in records)
            if offset is None:
                return out

    def search(
        self,
        *,
        dense: npt.NDArray[np.float32] | None,
        sparse: SparseVec | None,
        filters: FilterSpec,
        limit: int,
        offset: int,
        candidates: int,
        fusion: FusionSpec,
        details: bool = True,
    ) -> SearchResult:
        """Both candidate lists in one batched request, fused client-side (see protocol)."""
        flt = _filter(filters)
        pool = max(candidates, offset + limit)
        dq = qe.Query.Nearest(dense.tolist(), using=DENSE) if dense is not None else None
        sq = qe.Query.Nearest(_sparse(sparse), using=SPARSE) if sparse is not None else None
        if dq is None or sq is None:
            query = dq if dq is not None else sq
            if query is None:
                raise ValueError("search needs a dense or a sparse query vector")
            # The candidate list carries ids and scores only (see below); the page's
            # versions and term ids, when asked for, come in one retrieve.
            request = qe.QueryRequest(limit=pool, query=query, filter=flt)
            pool_hits = _scored(self.shard.query(request))
            page = pool_hits[offset : offset + limit]
            page = self._page(page) if details else page
            if dq is not None:
                return SearchResult(page=page, dense=pool_hits)
            return SearchResult(page=page, keyword=pool_hits)
        # The candidate lists carry ids and scores only: reading a payload costs
        # ~10 us per point (on-disk payload storage), and fusion needs neither it
        # nor the vectors. The page's versions and BM25 term ids come in one
        # retrieve of the page's points instead.
        requests = [qe.QueryRequest(limit=pool, query=q, filter=flt) for q in (dq, sq)]
        dense_hits, keyword_hits = (
            _scored(a) for a in self.shard.query_batch(qe.QueryBatchRequest(requests))
        )
        page = fuse(dense_hits, keyword_hits, fusion)[offset : offset + limit]
        page = self._page(page) if details else page
        return SearchResult(page=page, dense=dense_hits, keyword=keyword_hits)

    def page_details(self, hits: Sequence[Hit]) -> list[Hit]:
        """``hits`` with their BM25 term ids and versions (see protocol)."""
        return self._page(list(hits))

    def _page(self, page: list[Hit]) -> list[Hit]:
        """``page`` with each hit's BM25 term ids and version, read in one retrieve
        (a point deleted meanwhile gets no terms and no version)."""
        if not page:
            return []
        wanted: list[int | UUID | str] = [h.id for h in page]
        # The versions come from the in-memory column (:meth:`point_values`), not
        # the payload: reading a payload field of 20 points cost twice the
        # retrieve of their sparse vectors (on-disk payload storage).
        recs = self.shard.retrieve(wanted, with_payload=False, with_vector=[SPARSE])
        versions = self._column(BROWSE_ORDER_FIELD)
        found = {int(r.id): r for r in recs}
        out: list[Hit] = []
        for h in page:
            rec = found.get(h.id)
            terms = (_terms(rec) if rec is not None else None) or frozenset()
            version = versions.get(h.id) if rec is not None else None
            out.append(Hit(h.id, h.score, terms, int(version) if version is not None else None))
        return out

    def browse(self, filters: FilterSpec, *, limit: int, offset: int) -> list[Hit]:
        """Newest first by :data:`~indexers.store.BROWSE_ORDER_FIELD`."""
        # The ordering value is the version (``order_value``): no payload read,
        # which cost as much as the ordered query itself.
        req = qe.QueryRequest(
            limit=offset + limit,
            query=qe.OrderBy(BROWSE_ORDER_FIELD, direction=qe.Direction.Desc),
            filter=_filter(filters),
        )
        out: list[Hit] = []
        for p in self.shard.query(req)[offset:]:
            version = int(p.order_value) if p.order_value is not None else None
            out.append(Hit(int(p.id), float(version or 0), None, version))
        return out

    def flush(self) -> None:
        """Persist the segments (updates are already in the WAL; see the protocol)."""
        if self._shard is not None:
            self._shard.flush()

    def optimize(self) -> None:
        """Run Qdrant's segment optimizers now (see the protocol): merges small
        segments and builds the HNSW graph of segments past the indexing threshold
        (Qdrant's default, ``EdgeOptimizersConfig``)."""
        if self._shard is None:
            return
        try:
            self._shard.optimize()
        except Exception as exc:
            raise VectorStoreError(f"optimizing {self.path} failed: {exc}") from exc

    def close(self) -> None:
        """Flush and close the shard."""
        with self._columns_lock, self._lock:
            self._columns = {}
            if self._shard is not None:
                self._shard.flush()
                self._shard.close()
                self._shard = None
