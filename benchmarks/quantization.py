"""Quantization and growth of the vector store: latency, memory, disk, recall, nDCG@10.

Two harnesses, both on Qdrant Edge (the embedded default; qdrant-client's local
mode searches exactly and ignores quantization, so only a Qdrant server could
measure it there):

* :func:`run_growth`: ``n`` synthetic points per size (no encoder: the vectors
  are generated, so the numbers are the store's alone), one throw-away shard
  per (variant, size). A first child process upserts through
  :class:`indexers.store_edge.EdgeStore` (timed: upsert throughput), runs the
  optimizer where the variant asks for it (timed), and computes the exact
  filtered dense top 10 of every query with NumPy. A second, fresh child process
  loads the shard, runs the queries once untimed and then times them: hybrid
  queries with two keyword filters (the request shapes of ``EdgeStore.search``:
  a batch of a dense and a BM25 request, fused by :func:`indexers.fuse` with
  the default fusion, then the page's BM25 terms);
  its resident memory is read from ``/proc/self/status`` before loading and
  after the queries. Recall@10 is the dense list's top 10 against the exact one.
* :func:`benchmarks.quantization_beir.run_scifact`: SciFact indexed as
  ``relevance beir`` indexes it, copied into one shard per variant, optimized,
  and ranked through the service's ``retrieve`` and fusion.

Quantization in Qdrant (docs, "Quantization"): scalar int8 keeps one byte per
dimension (4x smaller than float32) with a per-collection affine map fitted at a
``quantile``; binary keeps one bit (32x smaller) and is meant for models of
1,024+ dimensions. The quantized copy is built by the optimizer, together with
the HNSW graph (Malkov & Yashunin, TPAMI 2020), so a variant without
``optimize`` never uses it. ``rescore`` re-ranks the quantized candidates with the
original vectors; ``oversampling`` fetches ``oversampling × limit`` quantized
candidates first.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import qdrant_edge as qe

from benchmarks.metrics import percentile
from indexers import FusionSpec, fuse
from indexers.bm25 import SparseVec
from indexers.store import BROWSE_ORDER_FIELD, DENSE, SPARSE, CollectionSchema, IndexPoint

__all__ = [
    "GROWTH_SCHEMA",
    "VARIANTS",
    "GrowthRow",
    "Variant",
    "allocated_bytes",
    "memory_kib",
    "run_growth",
]

DIM = 384
"""all-MiniLM-L6-v2's dimension."""
POOL = 100
"""Candidates per retriever (``GIGSY_SEARCH__CANDIDATES`` default)."""
PAGE = 20
"""Page size of a timed query."""
BATCH = 256
"""Points per upsert call (the pipeline's batch order of magnitude)."""
GROWTH_SCHEMA = CollectionSchema(
    keyword_fields=("skills", "languages", "location_terms", "availability")
)
"""The profile collection's payload indexes (``indexers.documents.PROFILE_SCHEMA``)."""

_SKILLS = [f"skill{i:03d}" for i in range(300)]
_LANGS = ["english", "spanish", "french", "german", "mandarin", "arabic", "hindi", "portuguese"]
_CITIES = [f"city{i:02d}" for i in range(60)]
_AVAIL = ["weekends", "evenings", "full-time", "part-time"]


@dataclass(frozen=True, slots=True)
class Variant:
    """One store configuration.

    Attributes:
        name: label.
        optimize: run the segment optimizer after loading (builds HNSW and the
            quantized copy; the served embedded store never does today).
        quantization: ``None``, ``"int8"`` or ``"binary"``.
        rescore: search parameter (``None``: Qdrant's default).
        oversampling: search parameter (``None``: Qdrant's default, 1).
    """

    name: str
    optimize: bool
    quantization: str | None = None
    rescore: bool | None = None
    oversampling: float | None = None

    def vector_params(self, dim: int) -> qe.EdgeVectorParams:
        """The dense vector's parameters, quantized copy kept in RAM."""
        quant: Any = None
        if self.quantization == "int8":
            quant = qe.ScalarQuantizationConfig(qe.ScalarType.Int8, quantile=0.99, always_ram=True)
        elif self.quantization == "binary":
            quant = qe.BinaryQuantizationConfig(always_ram=True)
        return qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine, quantization_config=quant)

    def search_params(self) -> qe.SearchParams | None:
        """Quantization search parameters, or None for the defaults."""
        if self.rescore is None and self.oversampling is None:
            return None
        return qe.SearchParams(
            quantization=qe.QuantizationSearchParams(
                rescore=self.rescore, oversampling=self.oversampling
            )
        )


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("plain", optimize=False),
        Variant("hnsw", optimize=True),
        Variant("int8", optimize=True, quantization="int8"),
        Variant("int8-norescore", optimize=True, quantization="int8", rescore=False),
        Variant("int8-rescore", optimize=True, quantization="int8", rescore=True),
        Variant("int8-os2", optimize=True, quantization="int8", rescore=True, oversampling=2.0),
        Variant("binary", optimize=True, quantization="binary"),
        Variant("binary-os3", optimize=True, quantization="binary", rescore=True, oversampling=3.0),
        Variant("binary-norescore", optimize=True, quantization="binary", rescore=False),
    )
}
"""``plain``: the embedded store as served (appendable segments, exact search).
The others run the optimizer first; quantized ones keep the quantized copy in RAM."""


def memory_kib() -> dict[str, int]:
    """``VmRSS``, ``RssAnon``, ``RssFile`` and ``VmHWM`` of this process, KiB (Linux)."""
    out: dict[str, int] = {}
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


def allocated_bytes(path: Path) -> tuple[int, int]:
    """(allocated, apparent) bytes of every file under ``path``: ``st_blocks × 512``
    (what the disk holds; Qdrant preallocates sparse files) and ``st_size``."""
    alloc = apparent = 0
    for root, _, files in os.walk(path):
        for name in files:
            st = os.stat(os.path.join(root, name))
            alloc += st.st_blocks * 512
            apparent += st.st_size
    return alloc, apparent


@dataclass(frozen=True, slots=True)
class _Corpus:
    """Synthetic points: clustered unit vectors (cluster centres drawn once, each
    point its centre plus Gaussian noise, normalised), Zipf-distributed BM25 terms
    and profile-like payloads."""

    dense: npt.NDArray[np.float32]
    sparse: list[SparseVec]
    payloads: list[dict[str, Any]]


@lru_cache(maxsize=8)
def _zipf_cdf(n: int) -> npt.NDArray[np.float64]:
    p = 1.0 / np.arange(1, n + 1)
    return np.cumsum(p / p.sum())


def _zipf_pick(rng: np.random.Generator, n: int, k: int) -> list[int]:
    # Distinct ranks drawn with probability ~ 1/rank (Zipf's law on term frequencies).
    draws = np.searchsorted(_zipf_cdf(n), rng.random(2 * k + 4))
    draws = np.minimum(draws, n - 1)
    _, first = np.unique(draws, return_index=True)
    return sorted(int(i) for i in draws[np.sort(first)][:k])


def _corpus(n: int, *, seed: int, nnz: int, clusters: int = 256) -> _Corpus:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, DIM)).astype(np.float32)
    which = rng.integers(0, clusters, size=n)
    dense = centres[which] + 1.2 * rng.standard_normal((n, DIM)).astype(np.float32)
    dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    sparse: list[SparseVec] = []
    payloads: list[dict[str, Any]] = []
    for i in range(n):
        terms = _zipf_pick(rng, 30_000, max(1, int(rng.poisson(nnz))))
        values = (0.4 + 1.8 * rng.random(len(terms))).round(4).tolist()
        sparse.append(SparseVec(indices=terms, values=values))
        payloads.append(
            {
                "skills": [_SKILLS[j] for j in _zipf_pick(rng, len(_SKILLS), 6)],
                "languages": [_LANGS[j] for j in _zipf_pick(rng, len(_LANGS), 2)],
                "location_terms": [_CITIES[int(rng.integers(len(_CITIES)))]],
                "availability": _AVAIL[int(rng.integers(len(_AVAIL)))],
                BROWSE_ORDER_FIELD: 1_700_000_000_000 + i,
                "text_hash": f"{rng.integers(2**63):016x}",
            }
        )
    return _Corpus(dense=dense, sparse=sparse, payloads=payloads)


def _queries(corpus: _Corpus, q: int, *, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed + 1)
    out = []
    for _ in range(q):
        anchor = int(rng.integers(len(corpus.payloads)))
        vec = corpus.dense[anchor] + 0.3 * rng.standard_normal(DIM).astype(np.float32)
        vec /= np.linalg.norm(vec)
        terms = corpus.sparse[anchor].indices[:4]
        pay = corpus.payloads[anchor]
        out.append(
            {
                "dense": vec.astype(np.float32),
                "sparse": SparseVec(indices=list(terms), values=[1.0] * len(terms)),
                "filter": (("skills", pay["skills"][0]), ("availability", pay["availability"])),
            }
        )
    return out


def _exact_top(corpus: _Corpus, query: dict[str, Any], k: int = 10) -> list[int]:
    (f1, v1), (f2, v2) = query["filter"]
    ok = np.array(
        [
            (v1 in p[f1] if isinstance(p[f1], list) else p[f1] == v1)
            and (v2 in p[f2] if isinstance(p[f2], list) else p[f2] == v2)
            for p in corpus.payloads
        ]
    )
    scores = corpus.dense @ query["dense"]
    scores[~ok] = -np.inf
    top = np.argsort(-scores)[:k]
    return [int(i) for i in top if np.isfinite(scores[i])]


def _create(path: Path, variant: Variant, schema: CollectionSchema) -> None:
    from indexers.store_edge import _indexes

    # An optimized variant indexes every segment (threshold 1 KB): Qdrant's default
    # threshold (about 20 MB of vectors) would leave the smaller shards plain.
    config = qe.EdgeConfig(
        vectors={DENSE: variant.vector_params(DIM)},
        sparse_vectors={SPARSE: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
        optimizers=qe.EdgeOptimizersConfig(indexing_threshold=1) if variant.optimize else None,
    )
    shard = qe.EdgeShard.create(str(path), config)
    for name, kind in _indexes(schema):
        shard.update(qe.UpdateOperation.create_field_index(name, kind))
    shard.close()


def _build(path: str, variant_name: str, n: int, q: int, seed: int, nnz: int) -> dict[str, Any]:
    """Child process: generate, upsert (timed), optimize (timed), exact top 10."""
    from indexers.store_edge import EdgeStore

    variant = VARIANTS[variant_name]
    where = Path(path)
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    corpus = _corpus(n, seed=seed, nnz=nnz)
    queries = _queries(corpus, q, seed=seed)
    _create(where / "shard", variant, GROWTH_SCHEMA)
    store = EdgeStore(where / "shard", schema=GROWTH_SCHEMA)
    points = [
        IndexPoint(id=i, dense=corpus.dense[i], sparse=corpus.sparse[i], payload=corpus.payloads[i])
        for i in range(n)
    ]
    started = time.perf_counter()
    for start in range(0, n, BATCH):
        store.upsert(points[start : start + BATCH])
    store.flush()
    upsert_s = time.perf_counter() - started
    optimize_s = 0.0
    if variant.optimize:
        started = time.perf_counter()
        store.optimize()
        optimize_s = time.perf_counter() - started
    store.close()
    truth = [_exact_top(corpus, query) for query in queries]
    with (where / "queries.json").open("w", encoding="utf-8") as fh:
        json.dump(
            [
                {
                    "dense": query["dense"].tolist(),
                    "sparse": [query["sparse"].indices, query["sparse"].values],
                    "filter": query["filter"],
                    "truth": top,
                }
                for query, top in zip(queries, truth, strict=True)
            ],
            fh,
        )
    alloc, apparent = allocated_bytes(where / "shard")
    return {
        "upsert_s": upsert_s,
        "optimize_s": optimize_s,
        "disk": alloc,
        "apparent": apparent,
        "mean_nnz": float(np.mean([len(s.indices) for s in corpus.sparse])),
    }


def _hybrid(
    shard: qe.EdgeShard,
    dense: list[float],
    sparse: SparseVec,
    flt: qe.Filter,
    params: qe.SearchParams | None,
    fusion: FusionSpec,
) -> tuple[list[int], list[int]]:
    from indexers.store_edge import _hits, _sparse

    requests = [
        qe.QueryRequest(
            limit=POOL,
            query=qe.Query.Nearest(dense, using=DENSE),
            filter=flt,
            with_payload=[BROWSE_ORDER_FIELD],
            params=params,
        ),
        qe.QueryRequest(
            limit=POOL,
            query=qe.Query.Nearest(_sparse(sparse), using=SPARSE),
            filter=flt,
            with_payload=[BROWSE_ORDER_FIELD],
        ),
    ]
    dense_hits, keyword_hits = (_hits(a) for a in shard.query_batch(qe.QueryBatchRequest(requests)))
    page = fuse(dense_hits, keyword_hits, fusion)[:PAGE]
    if page:
        shard.retrieve([h.id for h in page], with_payload=False, with_vector=[SPARSE])
    return [h.id for h in page], [h.id for h in dense_hits]


def _serve(path: str, variant_name: str, fusion: FusionSpec) -> dict[str, Any]:
    """Child process: load the shard, time the queries, read memory and recall."""
    variant = VARIANTS[variant_name]
    where = Path(path)
    with (where / "queries.json").open(encoding="utf-8") as fh:
        queries = json.load(fh)
    before = memory_kib()
    shard = qe.EdgeShard.load(str(where / "shard"))
    loaded = memory_kib()
    params = variant.search_params()
    lat: list[float] = []
    recall: list[float] = []
    # One untimed pass warms the page cache and the search threads; the second is timed.
    for timed in (False, True):
        for query in queries:
            conds: list[Any] = [
                qe.FieldCondition(f, match=qe.MatchValue(v)) for f, v in query["filter"]
            ]
            flt = qe.Filter(must=conds)
            sparse = SparseVec(indices=query["sparse"][0], values=query["sparse"][1])
            t0 = time.perf_counter()
            _, dense_ids = _hybrid(shard, query["dense"], sparse, flt, params, fusion)
            elapsed = (time.perf_counter() - t0) * 1000
            truth = query["truth"]
            if timed:
                lat.append(elapsed)
                if truth:
                    recall.append(len(set(dense_ids[:10]) & set(truth)) / len(truth))
    after = memory_kib()
    shard.close()
    return {
        "p50": percentile(lat, 50),
        "p95": percentile(lat, 95),
        "recall": float(np.mean(recall)) if recall else float("nan"),
        "rss_before": before["VmRSS"],
        "rss_loaded": loaded["VmRSS"],
        "rss_after": after["VmRSS"],
        "anon_after": after["RssAnon"],
        "file_after": after["RssFile"],
        "hwm": after["VmHWM"],
    }


@dataclass(frozen=True, slots=True)
class GrowthRow:
    """One (variant, size) measurement.

    Attributes:
        variant: :data:`VARIANTS` key.
        points: points in the shard.
        upsert_per_s: points per second through ``EdgeStore.upsert`` (batches of
            :data:`BATCH`, then a flush), vectors precomputed.
        optimize_s: optimizer wall time, seconds (0 when not run).
        disk_bytes: allocated bytes of the shard directory.
        p50_ms, p95_ms: hybrid query with two keyword filters, ms.
        recall10: dense top 10 against the exact filtered top 10.
        rss_mib: resident memory of the serving process after the queries, MiB.
        rss_delta_mib: that minus the process before loading the shard, MiB.
        anon_mib, file_mib: its anonymous and file-backed (mmap) parts, MiB.
    """

    variant: str
    points: int
    upsert_per_s: float
    optimize_s: float
    disk_bytes: int
    p50_ms: float
    p95_ms: float
    recall10: float
    rss_mib: float
    rss_delta_mib: float
    anon_mib: float
    file_mib: float

    def row(self) -> str:
        """One aligned line."""
        return (
            f"{self.variant:<17} {self.points:>7} {self.upsert_per_s:>9.0f} {self.optimize_s:>8.1f}"
            f" {self.disk_bytes / 2**20:>8.1f} {self.disk_bytes / self.points:>7.0f}"
            f" {self.p50_ms:>7.2f} {self.p95_ms:>7.2f} {self.recall10:>6.3f}"
            f" {self.rss_mib:>7.1f} {self.rss_delta_mib:>7.1f} {self.anon_mib:>7.1f}"
            f" {self.file_mib:>7.1f}"
        )


GROWTH_HEADER = (
    f"{'variant':<17} {'points':>7} {'upsert/s':>9} {'optim s':>8} {'disk MiB':>8}"
    f" {'B/point':>7} {'p50 ms':>7} {'p95 ms':>7} {'R@10':>6} {'RSS MiB':>7} {'+RSS':>7}"
    f" {'anon':>7} {'file':>7}"
)


@contextmanager
def _child() -> Iterator[ProcessPoolExecutor]:
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        yield pool


def run_growth(
    *,
    sizes: Sequence[int],
    variants: Sequence[str],
    queries: int,
    root: Path,
    fusion: FusionSpec,
    seed: int = 42,
    nnz: int = 150,
    keep: bool = False,
) -> Iterator[GrowthRow]:
    """Build and time one shard per (variant, size) under ``root``; yields as it goes.

    Raises:
        KeyError: an unknown variant.
    """
    # Variants that differ only in search parameters share one shard.
    builds: dict[tuple[bool, str | None], list[str]] = {}
    for name in variants:
        v = VARIANTS[name]
        builds.setdefault((v.optimize, v.quantization), []).append(name)
    for n in sizes:
        for names in builds.values():
            where = root / f"{names[0]}-{n}"
            with _child() as pool:
                built = pool.submit(_build, str(where), names[0], n, queries, seed, nnz).result()
            for name in names:
                with _child() as pool:
                    served = pool.submit(_serve, str(where), name, fusion).result()
                yield _row(name, n, built, served)
            if not keep:
                shutil.rmtree(where, ignore_errors=True)


def _row(name: str, n: int, built: dict[str, Any], served: dict[str, Any]) -> GrowthRow:
    return GrowthRow(
        variant=name,
        points=n,
        upsert_per_s=n / built["upsert_s"],
        optimize_s=built["optimize_s"],
        disk_bytes=built["disk"],
        p50_ms=served["p50"],
        p95_ms=served["p95"],
        recall10=served["recall"],
        rss_mib=served["rss_after"] / 1024,
        rss_delta_mib=(served["rss_after"] - served["rss_before"]) / 1024,
        anon_mib=served["anon_after"] / 1024,
        file_mib=served["file_after"] / 1024,
    )
