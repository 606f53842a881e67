"""qdrant-client adapter: a Qdrant server or cluster (``QDRANT_URL``), or ``":memory:"``.

Speaks the same collection layout as :mod:`indexers.store_edge`; a congruence
test runs the same queries on both and compares the results.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from qdrant_client import QdrantClient
from qdrant_client import models as qm
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

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

__all__ = ["ClientStore"]

_UPSERT_BATCH = 256


def _filter(spec: FilterSpec) -> qm.Filter | None:
    conds: list[Any] = [
        qm.FieldCondition(key=key, match=qm.MatchValue(value=value)) for key, value in spec.keywords
    ]
    conds += [
        qm.FieldCondition(key=r.field, range=qm.Range(gte=r.gte, lte=r.lte)) for r in spec.ranges
    ]
    excluded: list[Any] | None = (
        [qm.HasIdCondition(has_id=sorted(spec.exclude_ids))] if spec.exclude_ids else None
    )
    if not conds and not excluded:
        return None
    return qm.Filter(must=conds or None, must_not=excluded)


def _sparse(vec: SparseVec) -> qm.SparseVector:
    return qm.SparseVector(indices=vec.indices, values=vec.values)


def _terms(point: Any) -> frozenset[int] | None:
    vectors = point.vector
    if isinstance(vectors, dict) and isinstance(vectors.get(SPARSE), qm.SparseVector):
        return frozenset(int(i) for i in vectors[SPARSE].indices)
    return None


def _scored(points: Sequence[qm.ScoredPoint]) -> list[Hit]:
    """Ids and scores only (candidate lists are queried without payload or vectors);
    equal scores ordered by id (:func:`indexers.store.by_score`)."""
    return by_score([Hit(id=int(p.id), score=float(p.score)) for p in points])


def _version(point: Any) -> int | None:
    value = (point.payload or {}).get(BROWSE_ORDER_FIELD)
    return int(value) if value is not None else None


class ClientStore:
    """:class:`indexers.store.VectorStore` over ``qdrant_client.QdrantClient``.

    Args:
        client: a ready client (``QdrantClient(url=...)`` or ``QdrantClient(":memory:")``).
        collection: collection name (one per entity).
        schema: the payload indexes :meth:`ensure_collection` creates.
    """

    def __init__(self, client: QdrantClient, collection: str, *, schema: CollectionSchema) -> None:
        self.client = client
        self.collection = collection
        self.schema = schema

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (ResponseHandlingException, ConnectionError) as exc:
            raise StoreUnavailableError(f"Qdrant is unreachable: {exc}") from exc
        except UnexpectedResponse as exc:
            raise VectorStoreError(f"Qdrant refused the request: {exc}") from exc

    def _exists(self) -> bool:
        return bool(self._call(self.client.collection_exists, self.collection))

    def ensure_collection(self, dim: int) -> None:
        """Create the collection and payload indexes if missing (see protocol)."""
        if self._exists():
            info = self._call(self.client.get_collection, self.collection)
            vectors = info.config.params.vectors
            existing = vectors[DENSE].size if isinstance(vectors, dict) else None
            if existing is not None and existing != dim:
                raise VectorStoreError(
                    f"collection {self.collection} holds {existing}-d vectors, encoder makes"
                    f" {dim}-d: run `gigsy-search reindex --recreate`"
                )
            return
        self._call(
            self.client.create_collection,
            self.collection,
            vectors_config={DENSE: qm.VectorParams(size=dim, distance=qm.Distance.COSINE)},
            sparse_vectors_config={SPARSE: qm.SparseVectorParams(modifier=qm.Modifier.IDF)},
        )
        indexes = (
            [(name, qm.PayloadSchemaType.KEYWORD) for name in self.schema.keyword_fields]
            + [(name, qm.PayloadSchemaType.INTEGER) for name in self.schema.integer_fields]
            + [(name, qm.PayloadSchemaType.FLOAT) for name in self.schema.float_fields]
        )
        for name, kind in indexes:
            self._call(self.client.create_payload_index, self.collection, name, field_schema=kind)

    def recreate(self, dim: int) -> None:
        """Drop the collection and create it empty."""
        if self._exists():
            self._call(self.client.delete_collection, self.collection)
        self.ensure_collection(dim)

    def upsert(self, points: Sequence[IndexPoint]) -> None:
        """Insert or replace points, in batches of 256."""
        for start in range(0, len(points), _UPSERT_BATCH):
            batch = [
                qm.PointStruct(
                    id=p.id,
                    vector={DENSE: p.dense.astype(np.float32).tolist(), SPARSE: _sparse(p.sparse)},
                    payload=p.payload,
                )
                for p in points[start : start + _UPSERT_BATCH]
            ]
            self._call(self.client.upsert, self.collection, batch, wait=True)

    def delete(self, ids: Sequence[int]) -> None:
        """Remove points by id."""
        if ids and self._exists():
            self._call(
                self.client.delete,
                self.collection,
                points_selector=qm.PointIdsList(points=list(ids)),
                wait=True,
            )

    def count(self) -> int:
        """Number of points (0 before the collection exists)."""
        if not self._exists():
            return 0
        return int(self._call(self.client.count, self.collection, exact=True).count)

    def payloads(
        self, ids: Sequence[int], fields: Sequence[str] | None = None
    ) -> dict[int, dict[str, Any]]:
        """Payloads of existing points, whole or only ``fields`` (see protocol)."""
        if not ids:
            return {}
        wanted: bool | list[str] = True if fields is None else list(fields)
        recs = self._call(self.client.retrieve, self.collection, list(ids), with_payload=wanted)
        return {int(r.id): dict(r.payload or {}) for r in recs}

    def point_values(self, ids: Sequence[int], fields: Sequence[str]) -> dict[int, dict[str, Any]]:
        """:meth:`payloads` of ``fields`` (points holding none left out): a server's
        collection may be written by other processes, so nothing is held here (see
        protocol)."""
        return {i: p for i, p in self.payloads(ids, fields).items() if p}

    def dense_vectors(self, ids: Sequence[int]) -> dict[int, npt.NDArray[np.float32]]:
        """Stored dense vectors of existing points."""
        if not ids:
            return {}
        recs = self._call(self.client.retrieve, self.collection, list(ids), with_vectors=[DENSE])
        return {
            int(r.id): np.asarray(r.vector[DENSE], dtype=np.float32)
            for r in recs
            if isinstance(r.vector, dict) and DENSE in r.vector
        }

    def scan_payloads(
        self, filters: FilterSpec, *, fields: Sequence[str]
    ) -> dict[int, dict[str, Any]]:
        """Filtered scroll of payload ``fields`` over all matches (see protocol)."""
        if not self._exists():
            return {}
        flt = _filter(filters)
        out: dict[int, dict[str, Any]] = {}
        offset: Any = None
        while True:
            records, offset = self._call(
                self.client.scroll,
                self.collection,
                scroll_filter=flt,
                limit=SCAN_PAGE,
                offset=offset,
                with_payload=list(fields),
                with_vectors=False,
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
        if dense is None and sparse is None:
            raise ValueError("search needs a dense or a sparse query vector")
        flt = _filter(filters)
        pool = max(candidates, offset + limit)
        dq = dense.tolist() if dense is not None else None
        sq = _sparse(sparse) if sparse is not None else None
        if dq is not None and sq is not None:
            requests = [
                qm.QueryRequest(query=q, using=using, filter=flt, limit=pool, with_payload=False)
                for q, using in ((dq, DENSE), (sq, SPARSE))
            ]
            answers = self._call(self.client.query_batch_points, self.collection, requests)
            dense_hits, keyword_hits = (_scored(a.points) for a in answers)
            page = fuse(dense_hits, keyword_hits, fusion)[offset : offset + limit]
            page = self.page_details(page) if details else page
            return SearchResult(page=page, dense=dense_hits, keyword=keyword_hits)
        query: Any = dq if dq is not None else sq
        using = DENSE if dq is not None else SPARSE
        res = self._call(
            self.client.query_points,
            self.collection,
            query=query,
            using=using,
            query_filter=flt,
            limit=pool,
            with_payload=False,
        )
        pool_hits = _scored(res.points)
        page = pool_hits[offset : offset + limit]
        page = self.page_details(page) if details else page
        if dq is not None:
            return SearchResult(page=page, dense=pool_hits)
        return SearchResult(page=page, keyword=pool_hits)

    def page_details(self, hits: Sequence[Hit]) -> list[Hit]:
        """``hits`` with their BM25 term ids and versions, in one retrieve (see protocol)."""
        if not hits:
            return []
        recs = self._call(
            self.client.retrieve,
            self.collection,
            [h.id for h in hits],
            with_payload=[BROWSE_ORDER_FIELD],
            with_vectors=[SPARSE],
        )
        found = {int(r.id): r for r in recs}
        out: list[Hit] = []
        for h in hits:
            rec = found.get(h.id)
            terms = (_terms(rec) if rec is not None else None) or frozenset()
            version = _version(rec) if rec is not None else None
            out.append(Hit(id=h.id, score=h.score, terms=terms, version=version))
        return out

    def browse(self, filters: FilterSpec, *, limit: int, offset: int) -> list[Hit]:
        """Newest first by :data:`~indexers.store.BROWSE_ORDER_FIELD`."""
        res = self._call(
            self.client.query_points,
            self.collection,
            query=qm.OrderByQuery(
                order_by=qm.OrderBy(key=BROWSE_ORDER_FIELD, direction=qm.Direction.DESC)
            ),
            query_filter=_filter(filters),
            limit=offset + limit,
            with_payload=[BROWSE_ORDER_FIELD],
        )
        return [
            Hit(id=int(p.id), score=float(_version(p) or 0), version=_version(p))
            for p in res.points[offset:]
        ]

    def flush(self) -> None:
        """Nothing to do: every write is sent with ``wait=True``."""

    def optimize(self) -> None:
        """Nothing to do: a Qdrant server runs its optimizers in the background, and
        local mode (``:memory:``, ``path=``) has no index to build."""

    def close(self) -> None:
        """Close the client."""
        self.client.close()
