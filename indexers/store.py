"""The ``VectorStore`` protocol and the value types its adapters exchange.

One collection holds one point per searchable profile (point id = ``users.id``)
with two named vectors, ``dense`` (cosine) and ``bm25`` (sparse, IDF modifier),
and a payload of filterable fields only (DESIGN.md, "Data flow"). Two adapters
implement the protocol: :class:`indexers.store_edge.EdgeStore` (Qdrant Edge,
in-process, the default) and :class:`indexers.store_client.ClientStore`
(qdrant-client against a server, a cluster or ``":memory:"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from indexers.bm25 import SparseVec

__all__ = [
    "BROWSE_ORDER_FIELD",
    "DENSE",
    "KEYWORD_FIELDS",
    "SPARSE",
    "FilterSpec",
    "Fusion",
    "Hit",
    "IndexPoint",
    "SearchResult",
    "VectorStore",
]

DENSE = "dense"
"""Name of the dense vector (cosine)."""
SPARSE = "bm25"
"""Name of the sparse BM25 vector (IDF modifier)."""
KEYWORD_FIELDS: tuple[str, ...] = ("skills", "languages", "location_terms", "availability")
"""Payload fields with a keyword index."""
BROWSE_ORDER_FIELD = "updated_at"
"""Integer payload field (epoch ms) that filter-only browsing orders by, newest first."""


class Fusion(StrEnum):
    """How hybrid search merges the dense and BM25 rankings.

    ``rrf``: Reciprocal Rank Fusion, score = sum of 1/(k + rank) (Cormack, Clarke &
    Büttcher, SIGIR 2009). ``dbsf``: Distribution-Based Score Fusion, each list's
    scores normalised by mean ± 3 standard deviations, then summed (Qdrant docs,
    "Hybrid queries").
    """

    RRF = "rrf"
    DBSF = "dbsf"


@dataclass(frozen=True, slots=True)
class IndexPoint:
    """One profile ready for the store.

    Attributes:
        id: the user's id (``users.id``), used as point id.
        dense: ``(dim,)`` float32, L2-normalised.
        sparse: BM25 document weights.
        payload: filterable fields (JSON-serialisable).
    """

    id: int
    dense: npt.NDArray[np.float32]
    sparse: SparseVec
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class FilterSpec:
    """Hard filters, already normalised (lowercase). Each list must match all values.

    ``exclude_ids`` are point ids no retriever may return (points the service knows
    must not be served, e.g. pending removals): excluded inside the query, so they
    take no rank, score or page slot.
    """

    skills: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    location: str | None = None
    availability: str | None = None
    exclude_ids: frozenset[int] = frozenset()

    @property
    def is_empty(self) -> bool:
        """True when nothing is filtered."""
        return not (
            self.skills
            or self.languages
            or self.location
            or self.availability
            or self.exclude_ids
        )

    def conditions(self) -> list[tuple[str, str]]:
        """``(payload field, required keyword)`` pairs, all of which must match."""
        out = [("skills", s) for s in self.skills]
        out += [("languages", lang) for lang in self.languages]
        if self.location:
            out.append(("location_terms", self.location))
        if self.availability:
            out.append(("availability", self.availability))
        return out


@dataclass(frozen=True, slots=True)
class Hit:
    """A point id with its score.

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
        """Create the collection and payload indexes if missing.

        Raises:
            VectorStoreError: it exists with another dense dimension.
        """
        ...

    def recreate(self, dim: int) -> None:
        """Drop every point and the collection, then create it empty."""
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

    def payloads(self, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """Payloads of the given points that exist."""
        ...

    def dense_vectors(self, ids: Sequence[int]) -> dict[int, npt.NDArray[np.float32]]:
        """Stored dense vectors, ``(dim,)`` float32, of the given points that exist."""
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
        fusion: Fusion,
        rrf_k: int,
    ) -> SearchResult:
        """Rank points for a query in one batched request.

        With both vectors: the dense list, the BM25 list and their fusion (each
        retriever prefetching ``max(candidates, offset + limit)`` under the same
        filter). With one vector: that retriever alone. The page's hits carry
        their BM25 term ids and version.
        """
        ...

    def browse(self, filters: FilterSpec, *, limit: int, offset: int) -> list[Hit]:
        """Filter-only listing, newest ``updated_at`` first (score = updated_at)."""
        ...

    def flush(self) -> None:
        """Make recent writes durable (Qdrant Edge buffers them; a server's
        ``wait=True`` writes already are)."""
        ...

    def close(self) -> None:
        """Flush and release resources."""
        ...
