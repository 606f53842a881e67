"""Errors raised by the indexers package (no HTTP knowledge here).

Tree::

    IndexerError
    ├── EncoderError          the model could not be loaded or failed to encode
    │   └── ModelIntegrityError   weights on disk do not match the expected sha256
    └── VectorStoreError      the vector store refused or failed an operation
        └── StoreUnavailableError  the store cannot be reached or opened
"""

from __future__ import annotations

__all__ = [
    "EncoderError",
    "IndexerError",
    "ModelIntegrityError",
    "StoreUnavailableError",
    "VectorStoreError",
]


class IndexerError(Exception):
    """Base class of every error raised by ``indexers``."""


class EncoderError(IndexerError):
    """An encoder could not be loaded or could not encode its input."""


class ModelIntegrityError(EncoderError):
    """A model file's sha256 differs from the pinned digest."""


class VectorStoreError(IndexerError):
    """A vector store operation failed."""


class StoreUnavailableError(VectorStoreError):
    """The vector store cannot be opened or reached (maps to HTTP 503)."""
