"""Documents in, points in the store out: batched encoding with embedding reuse.

A document whose text and title are unchanged since it was last indexed with
the same model, backend and recipe (:func:`indexers.dense_recipe`) keeps its
stored dense vector instead of being re-embedded; on 2 CPU cores the model
embeds ~23 long documents/s in fp32 PyTorch (DESIGN.md), so reuse is what makes
re-ingestion and refreshes of payload-only edits cheap. The title is hashed
apart (``title_hash``) because the same text can come with another title (a
profile's headline moved into its bio), which changes the stored vector.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from tqdm import tqdm

from indexers.bm25 import BM25_TITLE_WEIGHT, Bm25Encoder
from indexers.documents import text_hash
from indexers.embedding import dense_recipe, embed_documents
from indexers.encoders import DenseEncoder
from indexers.store import IndexPoint, VectorStore

__all__ = ["Document", "IndexReport", "Indexer"]


class Document(Protocol):
    """What the pipeline indexes (:class:`indexers.ProfileDocument`,
    :class:`indexers.GigDocument`): a point id, the text that is embedded and
    BM25-encoded, a title weighted apart in the dense vector
    (:func:`indexers.embed_documents`), and a payload with ``text_hash`` and
    ``updated_at``."""

    @property
    def id(self) -> int: ...

    @property
    def text(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def payload(self) -> dict[str, Any]: ...

    @property
    def version(self) -> int: ...


@dataclass(slots=True)
class IndexReport:
    """Counts and wall time (seconds) of one :meth:`Indexer.index` call.

    ``indexed`` = ``embedded`` + ``reused``; ``untouched`` counts the reused points
    that were already exactly as they would be written, so nothing was written.
    """

    indexed: int = 0
    embedded: int = 0
    reused: int = 0
    untouched: int = 0
    seconds: float = 0.0

    @property
    def per_second(self) -> float:
        """Documents indexed per second of wall time."""
        return self.indexed / self.seconds if self.seconds > 0 else 0.0


class Indexer:
    """Encodes documents (dense + BM25) and upserts them.

    Args:
        store: the vector store; its collection must exist.
        encoder: dense encoder.
        bm25: BM25 encoder (its ``avg_len`` should come from the corpus).
        batch_size: documents encoded and upserted together.
    """

    def __init__(
        self,
        store: VectorStore,
        encoder: DenseEncoder,
        bm25: Bm25Encoder,
        *,
        batch_size: int = 64,
    ) -> None:
        if batch_size <= 0:
            raise ValueError("batch_size must be positive")
        self.store = store
        self.encoder = encoder
        self.bm25 = bm25
        self.batch_size = batch_size

    def index(
        self, docs: Sequence[Document], *, progress: bool = False, desc: str = "indexing"
    ) -> IndexReport:
        """Encode and upsert ``docs``; returns counts and elapsed seconds.

        Raises:
            EncoderError: the encoder failed.
            VectorStoreError: the store refused the upsert.
        """
        report = IndexReport()
        started = time.perf_counter()
        with tqdm(total=len(docs), desc=desc, unit="doc", disable=not progress) as bar:
            for start in range(0, len(docs), self.batch_size):
                batch = docs[start : start + self.batch_size]
                self._index_batch(batch, report)
                bar.update(len(batch))
        report.seconds = time.perf_counter() - started
        return report

    def _sparse_recipe(self) -> str:
        bm25 = self.bm25
        return (
            f"k1={bm25.k1} b={bm25.b} avg_len={bm25.avg_len!r} {bm25.language}"
            f" title={BM25_TITLE_WEIGHT}"
        )

    def _index_batch(self, batch: Sequence[Document], report: IndexReport) -> None:
        recipe = dense_recipe(self.encoder)
        sparse_recipe = self._sparse_recipe()
        old = self.store.payloads([d.id for d in batch])
        payloads = {
            d.id: {
                **d.payload,
                "model": recipe,
                "title_hash": text_hash(d.title.strip()),
                "bm25": sparse_recipe,
            }
            for d in batch
        }
        # A point already holding this exact payload was written from the same text,
        # title, dense recipe and BM25 parameters: rewriting it would change nothing,
        # and BM25-encoding long texts is most of the cost of a reindex of unchanged data.
        todo = [d for d in batch if old.get(d.id) != payloads[d.id]]
        reusable = [
            d.id
            for d in todo
            if all(
                old.get(d.id, {}).get(key) == payloads[d.id][key]
                for key in ("text_hash", "title_hash", "model")
            )
        ]
        vectors = self.store.dense_vectors(reusable) if reusable else {}
        fresh = [d for d in todo if d.id not in vectors]
        encoded = embed_documents(self.encoder, [d.text for d in fresh], [d.title for d in fresh])
        vectors.update({d.id: encoded[i] for i, d in enumerate(fresh)})
        points = [
            IndexPoint(
                id=d.id,
                dense=np.asarray(vectors[d.id], dtype=np.float32),
                sparse=self.bm25.encode_titled(d.text, d.title),
                payload=payloads[d.id],
            )
            for d in todo
        ]
        if points:
            self.store.upsert(points)
        report.indexed += len(batch)
        report.embedded += len(fresh)
        report.reused += len(batch) - len(fresh)
        report.untouched += len(batch) - len(todo)
