"""Rows to documents, encoders, BM25, vector-store adapters and the indexing pipeline.

Configured by arguments only: this package never reads settings or environment.

Every public name is importable from here (``from indexers import Bm25Encoder``),
but each submodule is imported on first use of one of its names (PEP 562 module
``__getattr__``), so a process that needs only the error types or a document
builder does not pay for Qdrant Edge, NumPy or ONNX Runtime, and a command-line
``--help`` starts in a fraction of a second.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from indexers.bm25 import BM25_B, BM25_K1, BM25_TITLE_WEIGHT, Bm25Encoder, SparseVec
    from indexers.documents import (
        PROFILE_SCHEMA,
        ProfileDocument,
        ProfileRows,
        build_document,
        location_terms,
        normalise_keyword,
        reduces,
        text_hash,
    )
    from indexers.embedding import TITLE_WEIGHT, dense_recipe, embed_documents
    from indexers.encoders import (
        BACKENDS,
        Backend,
        DenseEncoder,
        HashingEncoder,
        SentenceTransformerEncoder,
        SplitEncoder,
        default_backend,
        load_encoder,
        native_bf16,
        recipe_name,
    )
    from indexers.errors import (
        EncoderError,
        IndexerError,
        ModelIntegrityError,
        StoreUnavailableError,
        VectorStoreError,
    )
    from indexers.fusion import FusionSpec, Norm, fuse
    from indexers.gig_documents import (
        GIG_SCHEMA,
        NO_DEADLINE,
        GigDocument,
        build_gig_document,
    )
    from indexers.pipeline import Document, Indexer, IndexReport
    from indexers.store import (
        CollectionSchema,
        FilterSpec,
        Fusion,
        Hit,
        IndexPoint,
        Range,
        SearchResult,
        VectorStore,
    )

_SOURCES: dict[str, tuple[str, ...]] = {
    "indexers.bm25": ("BM25_B", "BM25_K1", "BM25_TITLE_WEIGHT", "Bm25Encoder", "SparseVec"),
    "indexers.documents": (
        "PROFILE_SCHEMA",
        "ProfileDocument",
        "ProfileRows",
        "build_document",
        "location_terms",
        "normalise_keyword",
        "reduces",
        "text_hash",
    ),
    "indexers.embedding": ("TITLE_WEIGHT", "dense_recipe", "embed_documents"),
    "indexers.encoders": (
        "BACKENDS",
        "Backend",
        "DenseEncoder",
        "HashingEncoder",
        "SentenceTransformerEncoder",
        "SplitEncoder",
        "default_backend",
        "load_encoder",
        "native_bf16",
        "recipe_name",
    ),
    "indexers.errors": (
        "EncoderError",
        "IndexerError",
        "ModelIntegrityError",
        "StoreUnavailableError",
        "VectorStoreError",
    ),
    "indexers.fusion": ("FusionSpec", "Norm", "fuse"),
    "indexers.gig_documents": ("GIG_SCHEMA", "NO_DEADLINE", "GigDocument", "build_gig_document"),
    "indexers.pipeline": ("Document", "Indexer", "IndexReport"),
    "indexers.store": (
        "CollectionSchema",
        "FilterSpec",
        "Fusion",
        "Hit",
        "IndexPoint",
        "Range",
        "SearchResult",
        "VectorStore",
    ),
}
_LAZY: dict[str, str] = {name: module for module, names in _SOURCES.items() for name in names}
"""Public name -> the submodule defining it."""

__all__ = [
    "BACKENDS",
    "BM25_B",
    "BM25_TITLE_WEIGHT",
    "BM25_K1",
    "GIG_SCHEMA",
    "NO_DEADLINE",
    "PROFILE_SCHEMA",
    "Backend",
    "Bm25Encoder",
    "Document",
    "GigDocument",
    "CollectionSchema",
    "DenseEncoder",
    "EncoderError",
    "FilterSpec",
    "Fusion",
    "FusionSpec",
    "HashingEncoder",
    "Hit",
    "IndexPoint",
    "IndexReport",
    "Indexer",
    "IndexerError",
    "ModelIntegrityError",
    "Norm",
    "ProfileDocument",
    "ProfileRows",
    "Range",
    "SearchResult",
    "SentenceTransformerEncoder",
    "SplitEncoder",
    "default_backend",
    "native_bf16",
    "SparseVec",
    "StoreUnavailableError",
    "TITLE_WEIGHT",
    "VectorStore",
    "VectorStoreError",
    "build_document",
    "dense_recipe",
    "embed_documents",
    "build_gig_document",
    "fuse",
    "load_encoder",
    "recipe_name",
    "location_terms",
    "normalise_keyword",
    "open_store",
    "reduces",
    "text_hash",
]


def __getattr__(name: str) -> Any:
    """Import the submodule defining ``name`` on first use (PEP 562) and cache the value.

    Raises:
        AttributeError: ``name`` is not a public name of this package.
    """
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def open_store(
    *,
    collection: str,
    schema: CollectionSchema,
    url: str | None = None,
    path: str | Path | None = None,
    api_key: str | None = None,
    edge_search_threads: int = 1,
) -> VectorStore:
    """Open one entity's collection: qdrant-client when ``url`` is given, else Qdrant
    Edge at ``path / collection``.

    ``url`` may be ``":memory:"`` for an in-process qdrant-client store (tests).
    ``schema`` names the payload indexes the collection is created with (profiles:
    :data:`PROFILE_SCHEMA`). ``edge_search_threads``: threads one query of the
    Edge shard may use (0: one per core; see :class:`indexers.store_edge.EdgeStore`).

    Raises:
        ValueError: neither ``url`` nor ``path`` is given.
        StoreUnavailableError: the store cannot be opened.
    """
    if url:
        from qdrant_client import QdrantClient

        from indexers.store_client import ClientStore

        client = (
            QdrantClient(location=":memory:")
            if url == ":memory:"
            else QdrantClient(url=url, api_key=api_key)
        )
        return ClientStore(client, collection, schema=schema)
    if path is None:
        raise ValueError("open_store needs a url or a path")
    from indexers.store_edge import EdgeStore

    return EdgeStore(Path(path) / collection, schema=schema, search_threads=edge_search_threads)
