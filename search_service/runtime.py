"""The long-lived objects of a process: SQL engine, vector store, encoders.

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

__all__ = ["BM25_STATE_KEY", "Runtime", "open_engine"]

_log = logging.getLogger(__name__)

BM25_STATE_KEY = "bm25"
"""``index_state`` key of the BM25 parameters documents were encoded with."""


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
    store: VectorStore
    _encoder: DenseEncoder | None = None
    _bm25: Bm25Encoder | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    metrics: Metrics = field(init=False)
    on_profile_change: Callable[[], None] | None = None
    """Called after a profile write commits (the scheduler sets it to wake the
    refresh job); ``None`` when no refresh job runs in this process."""
    on_index_written: Callable[[list[int]], None] | None = None
    """Test hook: called by the refresh job with the user ids it upserted, before
    it verifies them in SQL (lets tests interleave other writers there)."""

    def __post_init__(self) -> None:
        self.metrics = Metrics(self.engine, cache_s=self.settings.metrics.cache_s)

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
        store = open_store(
            url=settings.qdrant.url,
            path=settings.qdrant_path,
            collection=settings.qdrant.collection,
            schema=PROFILE_SCHEMA,
            api_key=api_key,
        )
        return cls(settings=settings, engine=engine, store=store, _encoder=encoder)

    @property
    def encoder(self) -> DenseEncoder:
        """The dense encoder, loaded on first use."""
        if self._encoder is None:
            with self._lock:
                if self._encoder is None:
                    emb = self.settings.embedding
                    self._encoder = load_encoder(
                        emb.model, batch_size=emb.batch_size, query_cache_size=emb.query_cache_size
                    )
        return self._encoder

    @property
    def bm25(self) -> Bm25Encoder:
        """BM25 encoder with the corpus statistics recorded in ``index_state``."""
        if self._bm25 is None:
            with session_scope(self.engine) as session:
                state = get_state(session, BM25_STATE_KEY) or {}
            self._bm25 = Bm25Encoder(avg_len=float(state.get("avg_len", 256.0)))
        return self._bm25

    def set_bm25(self, encoder: Bm25Encoder) -> None:
        """Replace the BM25 encoder (after a reindex recomputed ``avg_len``)."""
        self._bm25 = encoder

    def session(self) -> AbstractContextManager[Session]:
        """A unit of work (:func:`search_service.db.session_scope`) whose post-commit
        hooks may use this runtime's vector store."""
        return session_scope(self.engine, runtime=self)

    def close(self) -> None:
        """Close the vector store and dispose of the SQL pool."""
        self.store.close()
        self.engine.dispose()
