"""The ``VectorStore`` protocol and the value types its adapters exchange.

Entity-agnostic: one collection per indexed entity (profiles today), one point
per searchable row (point id = the row's id, e.g. ``users.id``) with two named
vectors, ``dense`` (cosine) and ``bm25`` (sparse, IDF modifier), and a payload
of filterable fields only (DESIGN.md, "Data flow"). What the payload indexes is
the entity's :class:`CollectionSchema`, given to the store when it is opened
(profiles: ``indexers.documents.PROFILE_SCHEMA``); queries filter with a generic
:class:`FilterSpec` (keyword matches, numeric ranges, excluded ids). Every
entity's payload carries an integer ``updated_at`` (:data:`BROWSE_ORDER_FIELD`):
its document version and the order of filter-only browsing.

Two adapters implement the protocol: :class:`indexers.store_edge.EdgeStore`
(Qdrant Edge, in-process, the default) and :class:`indexers.store_client.ClientStore`
(qdrant-client against a server, a cluster or ``":memory:"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from indexers.bm25 import SparseVec

if TYPE_CHECKING:
    from indexers.fusion import FusionSpec

__all__ = [
    "BROWSE_ORDER_FIELD",
    "DENSE",
    "SCAN_PAGE",
    "SPARSE",
    "CollectionSchema",
    "FilterSpec",
    "Fusion",
    "Hit",
    "IndexPoint",
    "Range",
    "SearchResult",
    "VectorStore",
    "by_score",
]

DENSE = "dense"
"""Name of the dense vector (cosine)."""
SPARSE = "bm25"
"""Name of the sparse BM25 vector (IDF modifier)."""
SCAN_PAGE = 1024
"""Points per scroll request of :meth:`VectorStore.scan_payloads`."""
BROWSE_ORDER_FIELD = "updated_at"
"""Integer payload field (epoch ms) every entity carries: the point's document
version, and the order of filter-only browsing, newest first."""


class Fusion(StrEnum):
    """How hybrid search merges the dense and BM25 rankings.

    ``rrf``: Reciprocal Rank Fusion, score = sum of 1/(k + rank) (Cormack, Clarke &
    Büttcher, SIGIR 2009). ``dbsf``: Distribution-Based Score Fusion, each list's
    scores normalised by mean ± 3 standard deviations, then summed (Qdrant docs,
    "Hybrid queries"). ``convex``: alpha * dense + (1 - alpha) * BM25 on min-max
    normalised scores (Bruch, Gai & Ingber, TOIS 2023). Computed client-side by
    :func:`indexers.fusion.fuse` (parameters: :class:`indexers.fusion.FusionSpec`).
    """

    RRF = "rrf"
    DBSF = "dbsf"
    CONVEX = "convex"


@dataclass(frozen=True, slots=True)
class IndexPoint:
    """One document (e.g. a profile) ready for the store.

    Attributes:
        id: the point id: the indexed row's id (profiles: ``users.id``).
        dense: ``(dim,)`` float32, L2-normalised.
        sparse: BM25 document weights.
        payload: filterable fields (JSON-serialisable), the collection's
            :class:`CollectionSchema` fields among them, and an integer
            :data:`BROWSE_ORDER_FIELD` (epoch ms).
    """

    id: int
    dense: npt.NDArray[np.float32]
    sparse: SparseVec
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CollectionSchema:
    """The payload indexes of one collection (one entity), created with it.

    Qdrant filters on unindexed fields too, by scanning; the indexes make
    filtering fast and are what ordering (:meth:`VectorStore.browse`) needs
    (Qdrant docs, "Indexing" and "Order by"). An existing collection keeps the
    indexes it was created with: a changed schema takes effect on
    :meth:`VectorStore.recreate` (``gigsy-search reindex --recreate``).

    Attributes:
        keyword_fields: fields matched by exact keyword (a string or a list of
            strings in the payload).
        integer_fields: integer fields (ranges, ordering); must include
            :data:`BROWSE_ORDER_FIELD`.
        float_fields: float fields (ranges).

    Raises:
        ValueError: a field is listed twice, or :data:`BROWSE_ORDER_FIELD` is
            not an integer field.
    """

    keyword_fields: tuple[str, ...]
    integer_fields: tuple[str, ...] = (BROWSE_ORDER_FIELD,)
    float_fields: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        names = [*self.keyword_fields, *self.integer_fields, *self.float_fields]
        if len(names) != len(set(names)):
            raise ValueError(f"a payload field is listed twice in {self}")
        if BROWSE_ORDER_FIELD not in self.integer_fields:
            raise ValueError(f"{BROWSE_ORDER_FIELD!r} must be an integer field (browse order)")


@dataclass(frozen=True, slots=True)
class Range:
    """A numeric payload condition, bounds inclusive: ``gte <= payload[field] <= lte``.

    A point without a number in ``field`` does not match. Bounds are in the
    field's own unit (e.g. epoch ms for ``updated_at``); ``gte > lte`` matches
    nothing.

    Attributes:
        field: payload field (an integer or float field of the schema).
        gte: lower bound, or None for none.
        lte: upper bound, or None for none.

    Raises:
        ValueError: neither bound is given.
    """

    field: str
    gte: float | None = None
    lte: float | None = None

    def __post_init__(self) -> None:
        if self.gte is None and self.lte is None:
            raise ValueError(f"range on {self.field!r} needs a lower or an upper bound")


@dataclass(frozen=True, slots=True)
class FilterSpec:
    """Hard filters, already normalised (the caller lowercases keywords); all must hold.

    Attributes:
        keywords: ``(payload field, keyword)`` pairs; each must match (the field
            equals the keyword, or is a list that contains it).
        ranges: numeric conditions; each must hold.
        exclude_ids: point ids no retriever may return (points the service knows
            must not be served, e.g. pending removals): excluded inside the
            query, so they take no rank, score or page slot.
    """

    keywords: tuple[tuple[str, str], ...] = ()
    ranges: tuple[Range, ...] = ()
    exclude_ids: frozenset[int] = frozenset()

    @property
    def is_empty(self) -> bool:
        """True when nothing is filtered."""
        return not (self.keywords or self.ranges or self.exclude_ids)


@dataclass(slots=True)
class Hit:
    """A point id with its score. Treated as immutable (make a new one, never
    assign): not a frozen dataclass because a frozen ``__init__`` costs ~3x as much
    (1.0 against 0.3 us on this project's machine) and a ranked list makes
    hundreds per request.

    Attributes:
        id: point id.
        score: retriever or fused score (browse: ``updated_at``, epoch ms).
        terms: its BM25 term ids, on page hits of :meth:`VectorStore.search`.
        version: the point's payload ``updated_at`` (epoch ms): the document
            version it was built from; on page and browse hits.
    """

    id: int
    score: float
    terms: frozenset[int] | None = None
    version: int | None = None


def by_score(hits: list[Hit]) -> list[Hit]:
    """``hits`` best score first, equal scores by ascending id.

    A retriever's candidate list in this order is the same in every process: Qdrant
    returns points of exactly equal score (BM25 on short documents, RRF) in an order
    that changes from one process to the next, and an explanation's ranks are
    positions in these lists. Which of several tied points falls inside the pool's
    cut-off is still the engine's choice."""
    return sorted(hits, key=lambda h: (-h.score, h.id))


@dataclass(slots=True)
class SearchResult:
    """Outcome of :meth:`VectorStore.search`.

    Attributes:
        page: the requested page of results, best first (fused in hybrid mode).
        dense: the dense retriever's candidates, best first (empty if not run).
        keyword: the BM25 retriever's candidates, best first (empty if not run).
    """

    page: list[Hit] = field(default_factory=list)
    dense: list[Hit] = field(default_factory=list)
    keyword: list[Hit] = field(default_factory=list)


class VectorStore(Protocol):
    """The operations the service needs from a vector store."""

    def ensure_collection(self, dim: int) -> None:
        """Create the collection, ``dim``-dimensional dense vectors, and the
        payload indexes of the store's :class:`CollectionSchema`, if missing.

        Raises:
            VectorStoreError: it exists with another dense dimension.
        """
        ...

    def recreate(self, dim: int) -> None:
        """Drop every point and the collection, then create it empty (with the
        store's schema, which may differ from the dropped one's)."""
        ...

    def upsert(self, points: Sequence[IndexPoint]) -> None:
        """Insert or replace points (by id)."""
        ...

    def delete(self, ids: Sequence[int]) -> None:
        """Remove points by id; unknown ids are ignored."""
        ...

    def count(self) -> int:
        """Number of points in the collection."""
        ...

    def payloads(
        self, ids: Sequence[int], fields: Sequence[str] | None = None
    ) -> dict[int, dict[str, Any]]:
        """Payloads of the given points that exist: whole, or only ``fields`` (a
        field a point lacks is absent). Each field read converts a stored value into
        a Python object, so a caller that needs three fields asks for three."""
        ...

    def point_values(self, ids: Sequence[int], fields: Sequence[str]) -> dict[int, dict[str, Any]]:
        """What :meth:`payloads` gives for ``fields`` (a field a point lacks is
        absent), for the points among ``ids`` that hold at least one of them
        (points that do not exist, or hold none, are left out), for the few scalar payload
        fields a ranking re-scores its whole pool with (boosts, fit). An adapter may
        answer from compact per-point columns held in this process and kept in step
        with its own writes (the Edge adapter: one process owns the shard); one
        whose collection other processes write answers from the store.
        """
        ...

    def dense_vectors(self, ids: Sequence[int]) -> dict[int, npt.NDArray[np.float32]]:
        """Stored dense vectors, ``(dim,)`` float32, of the given points that exist."""
        ...

    def scan_payloads(
        self, filters: FilterSpec, *, fields: Sequence[str]
    ) -> dict[int, dict[str, Any]]:
        """Every point matching ``filters``, with the payload ``fields`` it holds
        (a field the point lacks is absent), by id; empty before the collection
        exists.

        A filtered scroll in pages of :data:`SCAN_PAGE` points: exact, and
        ``O(matches)`` in time and memory (``python -m benchmarks facets``
        measures it). Used to count facet values over all matches.
        """
        ...

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
        """Rank points for a query.

        With both vectors: the dense list and the BM25 list (each
        ``max(candidates, offset + limit)`` long, under the same filter, in one
        batched request) and their fusion by :func:`indexers.fusion.fuse`,
        computed client-side. With one vector: that retriever alone (``fusion``
        unused). The candidate lists carry ids and scores only. With ``details``
        the page's hits carry their BM25 term ids and version, read by a second
        request (:meth:`page_details`); a caller that ranks the whole pool and
        shows a slice of it passes ``details=False`` and asks for the slice's.
        """
        ...

    def page_details(self, hits: Sequence[Hit]) -> list[Hit]:
        """``hits`` in their order, each with its BM25 term ids and version
        (:data:`BROWSE_ORDER_FIELD`), read in one request; a point deleted meanwhile
        gets no terms (empty) and no version (``None``)."""
        ...

    def browse(self, filters: FilterSpec, *, limit: int, offset: int) -> list[Hit]:
        """Filter-only listing, newest :data:`BROWSE_ORDER_FIELD` first (score =
        its value, epoch ms)."""
        ...

    def flush(self) -> None:
        """Persist the collection's segments. Writes are durable before this:
        Qdrant Edge appends every update to its write-ahead log before applying
        it (Qdrant Edge docs, "Updating Data"), and a server's ``wait=True``
        writes have returned from its WAL too; a flush shortens the log a
        restart replays. Cheap when nothing changed."""
        ...

    def optimize(self) -> None:
        """Build the collection's search structures (HNSW graph, payload-indexed
        segments) over what has been written. Qdrant Edge has no background
        optimizer: until this runs, every dense query scans its segments exactly
        (docs/scaling.md measures the difference). A Qdrant server optimizes in the
        background, so there it does nothing. Blocking and CPU-bound (minutes at
        100k points on two cores, holding the GIL): call it offline, after a full
        reindex, never from a request.

        Raises:
            VectorStoreError: the engine failed.
        """
        ...

    def close(self) -> None:
        """Flush and release resources."""
        ...
