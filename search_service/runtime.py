"""The long-lived objects of a process: SQL engine, vector stores, encoders.

Built once (FastAPI lifespan, or a CLI command) from :class:`Settings`, closed
once. The dense encoder loads lazily, so commands that never embed (browse-only
searches, API key creation) start fast.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlmodel import Session

# Registers the listener that removes users who leave search from the index.
import search_service.index.removals  # noqa: F401
from indexers import (
    GIG_SCHEMA,
    PROFILE_SCHEMA,
    Bm25Encoder,
    DenseEncoder,
    VectorStore,
    load_encoder,
    open_store,
)
from search_service.db import make_engine, migrate, session_scope
from search_service.index.state import get_state
from search_service.metrics import Metrics
from search_service.settings import Settings

__all__ = ["BM25_STATE_KEY", "GIGS", "PROFILES", "Runtime", "bm25_state_key", "open_engine"]

_log = logging.getLogger(__name__)

BM25_STATE_KEY = "bm25"
"""``index_state`` key of the BM25 parameters profile documents were encoded with."""

PROFILES = "profiles"
"""Name of the profile entity (``search_service.index.entity.PROFILE_ROWS``)."""
GIGS = "gigs"
"""Name of the gig entity (``search_service.index.entity.GIG_ROWS``)."""


def bm25_state_key(entity: str) -> str:
    """``index_state`` key of an entity's BM25 parameters (``bm25`` for profiles,
    as before gigs existed; ``bm25:<entity>`` otherwise)."""
    return BM25_STATE_KEY if entity == PROFILES else f"{BM25_STATE_KEY}:{entity}"


def open_engine(settings: Settings) -> Engine:
    """The SQL engine of ``settings``, schema migrated to the latest revision."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.sqlalchemy_url)
    migrate(engine)
    return engine


@dataclass
class Runtime:
    """Process-wide services. Thread-safe for reads; create once per process."""

    settings: Settings
    engine: Engine
    stores: dict[str, VectorStore]
    """One store per indexed entity, keyed by entity name (``profiles``, ``gigs``)."""
    _encoder: DenseEncoder | None = None
    _bm25s: dict[str, Bm25Encoder] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    metrics: Metrics = field(init=False)
    on_profile_change: Callable[[], None] | None = None
    """Called after a profile write commits (the scheduler sets it to wake the
    refresh job); ``None`` when no refresh job runs in this process."""
    on_index_written: Callable[[list[int]], None] | None = None
    """Test hook: called by the refresh job with the user ids it upserted, before
    it verifies them in SQL (lets tests interleave other writers there)."""

    def __post_init__(self) -> None:
        self.metrics = Metrics(
            self.engine, cache_s=self.settings.metrics.cache_s, encoder=lambda: self._encoder
        )

    @property
    def store(self) -> VectorStore:
        """The profile collection's store."""
        return self.stores[PROFILES]

    def store_for(self, entity: str) -> VectorStore:
        """The store of ``entity``'s collection.

        Raises:
            KeyError: no such entity.
        """
        return self.stores[entity]

    def notify_profile_change(self) -> None:
        """Wake the refresh job in this process, if there is one (never raises)."""
        callback = self.on_profile_change
        if callback is not None:
            try:
                callback()
            except Exception:  # a wake-up is an optimisation; the poll catches up
                _log.exception("could not wake the refresh job")

    @classmethod
    def open(cls, settings: Settings, *, encoder: DenseEncoder | None = None) -> Runtime:
        """Connect to SQL (running migrations) and open the vector store.

        Raises:
            StoreUnavailableError: the vector store cannot be opened.
        """
        engine = open_engine(settings)
        api_key = settings.qdrant.api_key.get_secret_value() if settings.qdrant.api_key else None
        stores: dict[str, VectorStore] = {}
        try:
            for name, collection, schema in (
                (PROFILES, settings.qdrant.collection, PROFILE_SCHEMA),
                (GIGS, settings.qdrant.gig_collection, GIG_SCHEMA),
            ):
                stores[name] = open_store(
                    url=settings.qdrant.url,
                    path=settings.qdrant_path,
                    collection=collection,
                    schema=schema,
                    api_key=api_key,
                )
        except Exception:
            for opened in stores.values():
                opened.close()
            engine.dispose()
            raise
        return cls(settings=settings, engine=engine, stores=stores, _encoder=encoder)

    @property
    def encoder(self) -> DenseEncoder:
        """The dense encoder, loaded on first use."""
        if self._encoder is None:
            with self._lock:
                if self._encoder is None:
                    emb = self.settings.embedding
                    self._encoder = load_encoder(
                        emb.model,
                        batch_size=emb.batch_size,
                        query_cache_size=emb.query_cache_size,
                        backend=emb.document_backend,
                        query_backend=emb.resolved_query_backend,
                        cache_dir=emb.model_cache_dir,
                        threads=emb.threads,
                    )
        return self._encoder

    @property
    def bm25(self) -> Bm25Encoder:
        """The profile collection's BM25 encoder (:meth:`bm25_for`)."""
        return self.bm25_for(PROFILES)

    def bm25_for(self, entity: str) -> Bm25Encoder:
        """BM25 encoder of ``entity``'s documents, with the corpus statistics recorded
        in ``index_state`` (:func:`bm25_state_key`; average length 256 tokens until
        a reindex measured it). Queries encode the same with any of them."""
        found = self._bm25s.get(entity)
        if found is None:
            with session_scope(self.engine) as session:
                state = get_state(session, bm25_state_key(entity)) or {}
            found = self._bm25s[entity] = Bm25Encoder(avg_len=float(state.get("avg_len", 256.0)))
        return found

    def set_bm25(self, encoder: Bm25Encoder, entity: str = PROFILES) -> None:
        """Replace an entity's BM25 encoder (after a reindex recomputed ``avg_len``)."""
        self._bm25s[entity] = encoder

    def session(self) -> AbstractContextManager[Session]:
        """A unit of work (:func:`search_service.db.session_scope`) whose post-commit
        hooks may use this runtime's vector store."""
        return session_scope(self.engine, runtime=self)

    def close(self) -> None:
        """Close the vector stores and dispose of the SQL pool."""
        for store in self.stores.values():
            store.close()
        self.engine.dispose()
