"""Baselines on the same profile documents and queries as the latency harness.

* ``rank_bm25``: :class:`rank_bm25.BM25Okapi` (PyPI ``rank-bm25``), a full scan
  of every document per query, over the service's own BM25 tokens
  (:meth:`indexers.Bm25Encoder.tokens`), top 20 by score. Timed per query:
  tokenising the query, scoring every document and selecting the top 20.
* ``qdrant_local``: qdrant-client's local mode (``QdrantClient(path=...)``, the
  pure-Python engine: exact scan, no HNSW) holding the profiles' stored dense
  vectors; a dense ``query_points`` of top 20 per query (embedding not timed).

Both in-process: no HTTP, no hydration; they bound what a naive engine costs.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from benchmarks.metrics import percentile
from search_service.runtime import PROFILES, Runtime

__all__ = ["BaselineResult", "qdrant_local", "rank_bm25_scan"]

TOP_K = 20
_UPLOAD_BATCH = 1024


@dataclass(frozen=True, slots=True)
class BaselineResult:
    """ms per query of a baseline, and the documents it held."""

    name: str
    documents: int
    latencies_ms: list[float]
    build_s: float

    @property
    def p50_ms(self) -> float:
        """Median ms per query."""
        return percentile(self.latencies_ms, 50)

    @property
    def p95_ms(self) -> float:
        """95th percentile ms per query."""
        return percentile(self.latencies_ms, 95)


def rank_bm25_scan(rt: Runtime, texts: Sequence[str], queries: Sequence[str]) -> BaselineResult:
    """BM25Okapi full scan over ``texts`` (k1 and b as the service's encoder)."""
    from rank_bm25 import BM25Okapi

    bm25 = rt.index(PROFILES).bm25
    started = time.perf_counter()
    corpus = [bm25.tokens(t) for t in tqdm(texts, desc="rank-bm25 tokens", unit="doc")]
    index = BM25Okapi(corpus, k1=bm25.k1, b=bm25.b)
    build_s = time.perf_counter() - started
    lat: list[float] = []
    for q in queries:
        t0 = time.perf_counter()
        scores = index.get_scores(bm25.tokens(q))
        top = np.argpartition(-scores, min(TOP_K, len(scores) - 1))[:TOP_K]
        top[np.argsort(-scores[top])]
        lat.append((time.perf_counter() - t0) * 1000)
    return BaselineResult("rank_bm25", len(texts), lat, build_s)


def qdrant_local(rt: Runtime, ids: Sequence[int], queries: Sequence[str]) -> BaselineResult:
    """qdrant-client local mode on disk with the stored dense vectors of ``ids``."""
    from qdrant_client import QdrantClient, models

    with tempfile.TemporaryDirectory(prefix="gigsy-qdrant-local-") as tmp:
        client = QdrantClient(path=tmp)
        try:
            started = time.perf_counter()
            client.create_collection(
                "profiles",
                vectors_config=models.VectorParams(
                    size=rt.encoder.dim, distance=models.Distance.COSINE
                ),
            )
            for start in tqdm(
                range(0, len(ids), _UPLOAD_BATCH), desc="qdrant local upload", unit="batch"
            ):
                chunk = list(ids[start : start + _UPLOAD_BATCH])
                found = rt.index(PROFILES).store.dense_vectors(chunk)
                client.upsert(
                    "profiles",
                    points=[
                        models.PointStruct(id=i, vector=found[i].tolist())
                        for i in chunk
                        if i in found
                    ],
                )
            build_s = time.perf_counter() - started
            vectors = [rt.encoder.encode_query(q) for q in queries]
            lat: list[float] = []
            for vec in vectors:
                t0 = time.perf_counter()
                client.query_points("profiles", query=vec.tolist(), limit=TOP_K)
                lat.append((time.perf_counter() - t0) * 1000)
        finally:
            client.close()
    return BaselineResult("qdrant_local", len(ids), lat, build_s)
