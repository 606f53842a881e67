"""The long-lived objects of a process: SQL engine, vector stores, encoders.

Built once (FastAPI lifespan, or a CLI command) from :class:`Settings`, closed
once. The dense encoder loads lazily, so commands that never embed (browse-only
searches, API key creation) start fast.

Each indexed entity is served through :meth:`Runtime.index` (an
:class:`EntityIndex`: the entity's full descriptor, its store and its BM25
encoder); the runtime holds the descriptors it was opened with.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlmodel import Session

# Registers the listener that removes users who leave search from the index.
import search_service.index.removals  # noqa: F401
from indexers import Bm25Encoder, DenseEncoder, VectorStore, load_encoder, open_store
from search_service.db import make_engine, migrate, session_scope
from search_service.index.entity import GIG_ROWS, PROFILE_ROWS, IndexedEntity
from search_service.index.state import get_state
from search_service.metrics import Metrics
from search_service.settings import Settings

__all__ = ["DEFAULT_BM25_AVG_LEN", "GIGS", "PROFILES", "EntityIndex", "Runtime", "open_engine"]

_log = logging.getLogger(__name__)

PROFILES = PROFILE_ROWS.name
"""Name of the profile entity, for ``Runtime.index(PROFILES)``."""
GIGS = GIG_ROWS.name
"""Name of the gig entity, for ``Runtime.index(GIGS)``."""

DEFAULT_BM25_AVG_LEN = 256.0
"""BM25 average document length (tokens) used until a reindex measured the corpus."""


@dataclass(eq=False)
class EntityIndex:
    """One indexed entity as a process serves it: the full descriptor, its
    collection's store and its BM25 encoder.

    Attributes:
        entity: the full descriptor (``search_service.entities``), hooks set.
        store: the entity's collection.
        engine: where its BM25 parameters are read (``index_state``).
    """

    entity: IndexedEntity
    store: VectorStore
    engine: Engine
    _bm25: Bm25Encoder | None = None

    @property
    def bm25(self) -> Bm25Encoder:
        """BM25 encoder of the entity's documents, with the corpus statistics recorded
        in ``index_state`` under ``entity.bm25_key`` (average length
        :data:`DEFAULT_BM25_AVG_LEN` until a reindex measured it), loaded on first
        use. Queries encode the same with any of them."""
        found = self._bm25
        if found is None:
            with session_scope(self.engine) as session:
                state = get_state(session, self.entity.bm25_key) or {}
            avg_len = float(state.get("avg_len", DEFAULT_BM25_AVG_LEN))
            found = self._bm25 = Bm25Encoder(avg_len=avg_len)
        return found

    def set_bm25(self, encoder: Bm25Encoder) -> None:
        """Replace the BM25 encoder (after a reindex recomputed ``avg_len``)."""
        self._bm25 = encoder


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
    indexes: dict[str, EntityIndex]
    """One index per entity, keyed by entity name, in the order of the entities given
    to :meth:`open`; callers go through :meth:`index` and :attr:`entities`."""
    _encoder: DenseEncoder | None = None
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

    def index(self, entity: IndexedEntity | str) -> EntityIndex:
        """The index of ``entity`` (a descriptor, static or full, or its name): its
        full descriptor, store and BM25 encoder.

        Raises:
            KeyError: this runtime was not opened with that entity.
        """
        name = entity if isinstance(entity, str) else entity.name
        return self.indexes[name]

    @property
    def entities(self) -> tuple[IndexedEntity, ...]:
        """The full descriptors of this runtime's entities, in refresh order."""
        return tuple(ix.entity for ix in self.indexes.values())

    def notify_profile_change(self) -> None:
        """Wake the refresh job in this process, if there is one (never raises)."""
        callback = self.on_profile_change
        if callback is not None:
            try:
                callback()
            except Exception:  # a wake-up is an optimisation; the poll catches up
                _log.exception("could not wake the refresh job")

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        entities: Sequence[IndexedEntity],
        encoder: DenseEncoder | None = None,
    ) -> Runtime:
        """Connect to SQL (running migrations) and open one vector store per entity.

        Args:
            settings: the configuration.
            entities: the full descriptors to serve, in refresh order
                (``search_service.entities.ENTITIES``: that module imports the
                search code, which imports this one, so the caller passes them).
                Each store is the collection ``entity.collection(settings)``
                created with ``entity.schema``.
            encoder: a dense encoder to use instead of loading ``settings.embedding``.

        Raises:
            ValueError: two entities share a name.
            StoreUnavailableError: a vector store cannot be opened.
        """
        names = [e.name for e in entities]
        if len(set(names)) != len(names):
            raise ValueError(f"entity names must be unique: {names}")
        engine = open_engine(settings)
        api_key = settings.qdrant.api_key.get_secret_value() if settings.qdrant.api_key else None
        indexes: dict[str, EntityIndex] = {}
        try:
            for entity in entities:
                store = open_store(
                    url=settings.qdrant.url,
                    path=settings.qdrant_path,
                    collection=entity.collection(settings),
                    schema=entity.schema,
                    api_key=api_key,
                    edge_search_threads=settings.qdrant.edge_search_threads,
                )
                indexes[entity.name] = EntityIndex(entity=entity, store=store, engine=engine)
        except Exception:
            for opened in indexes.values():
                opened.store.close()
            engine.dispose()
            raise
        return cls(settings=settings, engine=engine, indexes=indexes, _encoder=encoder)

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

    def session(self) -> AbstractContextManager[Session]:
        """A unit of work (:func:`search_service.db.session_scope`) whose post-commit
        hooks may use this runtime's vector stores."""
        return session_scope(self.engine, runtime=self)

    def close(self) -> None:
        """Close the vector stores and dispose of the SQL pool."""
        for ix in self.indexes.values():
            ix.store.close()
        self.engine.dispose()
