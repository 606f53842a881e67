"""Relevance on BEIR SciFact, straight through the ``indexers`` layer (no SQL, no service).

SciFact (Wadden et al., "Fact or Fiction: Verifying Scientific Claims", EMNLP
2020) in the BEIR format (Thakur et al., "BEIR: A Heterogeneous Benchmark for
Zero-shot Evaluation of Information Retrieval Models", NeurIPS 2021 Datasets and
Benchmarks): scientific claims as queries, paper abstracts as documents, graded
judgements in ``qrels/<split>.tsv``. Only the train judgements are shipped in
``../shared/data/scifact`` (see its README), so numbers are comparable to the
published test-split anchors in spirit only.

Every judged query runs in five modes: ``keyword`` (the store's BM25),
``semantic`` (dense), ``hybrid-rrf`` (Reciprocal Rank Fusion, k = 60, Cormack,
Clarke & Büttcher, SIGIR 2009), ``hybrid-dbsf`` (Distribution-Based Score Fusion,
Qdrant docs, "Hybrid queries") and ``rank-bm25``, a full-scan BM25 over the same
token ids (:class:`benchmarks.relevance.LuceneBM25`), which ``keyword`` should match.
"""

from __future__ import annotations

import contextlib
import csv
import json
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from benchmarks.metrics import mrr, ndcg_at_k, recall_at_k
from benchmarks.relevance import LuceneBM25
from indexers import (
    BM25_B,
    BM25_K1,
    PROFILE_SCHEMA,
    Bm25Encoder,
    DenseEncoder,
    FilterSpec,
    Fusion,
    Indexer,
    IndexReport,
    ProfileDocument,
    SparseVec,
    VectorStore,
    VectorStoreError,
    dense_recipe,
    load_encoder,
    open_store,
    text_hash,
)

__all__ = [
    "ANCHORS",
    "COLLECTION",
    "DEPTH",
    "MODES",
    "RRF_K",
    "BeirData",
    "Scores",
    "ScifactReport",
    "StoreKind",
    "format_report",
    "index_corpus",
    "load_scifact",
    "run_benchmark",
    "run_scifact",
]

StoreKind = Literal["edge", "memory"]
"""``edge``: Qdrant Edge shard on disk; ``memory``: qdrant-client ``":memory:"``."""

COLLECTION = "scifact"
"""Collection (Edge: shard sub-directory) name."""
DEPTH = 100
"""Results per query and candidates per retriever (recall is measured at this depth)."""
RRF_K = 60
"""RRF constant of Cormack, Clarke & Büttcher (SIGIR 2009)."""
MODES: tuple[str, ...] = ("keyword", "semantic", "hybrid-rrf", "hybrid-dbsf", "rank-bm25")
"""Report rows, in order."""
ANCHORS: tuple[tuple[str, str], ...] = (
    ("BM25 (bm25s, Elasticsearch)", "0.665-0.69"),
    ("all-MiniLM-L6-v2", "0.645"),
    ("hybrid RRF of the two (Qdrant)", "0.7175"),
)
"""Published nDCG@10 on the SciFact *test* split, from ``../shared/data/README.md``
(bm25s and Elasticsearch runs; Qdrant's "how to tune hybrid search" article)."""


@dataclass(frozen=True, slots=True)
class BeirData:
    """A BEIR dataset reduced to what is evaluated.

    Attributes:
        doc_ids: corpus ids in file order; position ``i`` is point id ``i``.
        doc_texts: ``title + "\\n" + text`` of each document, parallel to ``doc_ids``.
        queries: query id -> text, only queries with judgements, in file order.
        qrels: query id -> {corpus id: graded relevance}, for the kept queries.
    """

    doc_ids: list[str]
    doc_texts: list[str]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


@dataclass(frozen=True, slots=True)
class Scores:
    """One query's (or the mean's) metrics in one mode.

    Attributes:
        ndcg: nDCG@10 with the qrels' graded gains.
        recall: recall@100 of documents with a positive grade.
        mrr: reciprocal rank of the first relevant document within the top 10.
        ms: wall time of query encoding plus search, in milliseconds.
    """

    ndcg: float
    recall: float
    mrr: float
    ms: float


@dataclass(slots=True)
class ScifactReport:
    """Outcome of :func:`run_scifact`.

    Attributes:
        model: dense encoder name.
        store: vector-store adapter class (``EdgeStore``, ``ClientStore``).
        docs: documents indexed.
        avg_len: BM25 average document length in tokens.
        index: what indexing did (``indexed == 0``: the stored index was up to date).
        per_query: mode -> query id -> scores.
        mean: mode -> scores averaged over queries.
    """

    model: str
    store: str
    docs: int
    avg_len: float
    index: IndexReport
    per_query: dict[str, dict[str, Scores]] = field(default_factory=dict)
    mean: dict[str, Scores] = field(default_factory=dict)

    @property
    def queries(self) -> int:
        """Number of evaluated queries."""
        return len(next(iter(self.per_query.values()), {}))


def _read_jsonl(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_scifact(
    data_dir: Path,
    *,
    split: str = "train",
    limit_docs: int | None = None,
    limit_queries: int | None = None,
) -> BeirData:
    """Read ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv`` (BEIR format).

    Queries without a judgement in ``split`` are dropped.

    Args:
        data_dir: directory holding the three files.
        split: qrels file name without ``.tsv``.
        limit_docs: keep only the first N documents plus every document judged
            for a kept query (so every query can still be answered).
        limit_queries: keep only the first N judged queries.

    Raises:
        FileNotFoundError: a file is missing.
    """
    qrels: dict[str, dict[str, int]] = {}
    with (data_dir / "qrels" / f"{split}.tsv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
    queries = {
        q["_id"]: q["text"] for q in _read_jsonl(data_dir / "queries.jsonl") if q["_id"] in qrels
    }
    if limit_queries is not None:
        queries = dict(list(queries.items())[:limit_queries])
    qrels = {qid: qrels[qid] for qid in queries}
    judged = {doc for rels in qrels.values() for doc in rels}
    doc_ids: list[str] = []
    doc_texts: list[str] = []
    for i, doc in enumerate(_read_jsonl(data_dir / "corpus.jsonl")):
        if limit_docs is None or i < limit_docs or doc["_id"] in judged:
            doc_ids.append(doc["_id"])
            doc_texts.append("\n".join(p for p in (doc.get("title"), doc.get("text")) if p))
    return BeirData(doc_ids=doc_ids, doc_texts=doc_texts, queries=queries, qrels=qrels)


def _documents(texts: Sequence[str]) -> list[ProfileDocument]:
    return [
        ProfileDocument(
            user_id=i,
            text=text,
            payload={"updated_at": 0, "text_hash": text_hash(text)},
            version=0,
        )
        for i, text in enumerate(texts)
    ]


def index_corpus(
    store: VectorStore,
    encoder: DenseEncoder,
    bm25: Bm25Encoder,
    texts: Sequence[str],
    *,
    progress: bool = False,
) -> IndexReport:
    """Make the store hold exactly ``texts`` as points ``0..n-1``, embedding only what changed.

    Skips everything when the store already has ``n`` points whose text hashes and
    model match; otherwise :class:`indexers.Indexer` re-embeds only changed texts
    and points ``n..count-1`` left by a bigger earlier run are deleted. A store
    holding vectors of another dimension is recreated.

    Returns:
        The indexing report; ``indexed == 0`` means the index was already up to date.

    Raises:
        EncoderError: the encoder failed.
        VectorStoreError: the store refused an operation.
    """
    n = len(texts)
    try:
        store.ensure_collection(encoder.dim)
    except VectorStoreError:
        store.recreate(encoder.dim)  # another model's vectors: nothing to reuse
    docs = _documents(texts)
    started = time.perf_counter()
    count = store.count()
    if count == n:
        stored = store.payloads(list(range(n)))
        if all(
            stored.get(d.user_id, {}).get("text_hash") == d.payload["text_hash"]
            and stored.get(d.user_id, {}).get("model") == dense_recipe(encoder)
            for d in docs
        ):
            return IndexReport(seconds=time.perf_counter() - started)
    if count > n:
        # This harness only ever writes ids 0..count-1.
        store.delete(list(range(n, count)))
    indexer = Indexer(store, encoder, bm25)
    return indexer.index(docs, progress=progress, desc="embedding")


Ranker = Callable[[str], list[int]]


def _rankers(
    store: VectorStore, encoder: DenseEncoder, bm25: Bm25Encoder, baseline: LuceneBM25
) -> dict[str, Ranker]:
    def search(
        dense: npt.NDArray[np.float32] | None, sparse: SparseVec | None, fusion: Fusion
    ) -> list[int]:
        res = store.search(
            dense=dense,
            sparse=sparse,
            filters=FilterSpec(),
            limit=DEPTH,
            offset=0,
            candidates=DEPTH,
            fusion=fusion,
            rrf_k=RRF_K,
        )
        return [h.id for h in res.page]

    def keyword(q: str) -> list[int]:
        sparse = bm25.encode_query(q)
        return search(None, sparse, Fusion.RRF) if len(sparse) else []

    def semantic(q: str) -> list[int]:
        return search(encoder.encode_query(q), None, Fusion.RRF)

    def hybrid(fusion: Fusion) -> Ranker:
        def run(q: str) -> list[int]:
            dense = encoder.encode_query(q)
            sparse = bm25.encode_query(q)
            # A stopword-only query has no BM25 side: hybrid degenerates to dense,
            # as in the search service.
            return search(dense, sparse if len(sparse) else None, fusion)

        return run

    def full_scan(q: str) -> list[int]:
        terms = list(dict.fromkeys(bm25.encode_query(q).indices))
        scores = np.asarray(baseline.get_scores(terms), dtype=np.float64)
        order = np.argsort(-scores, kind="stable")[:DEPTH]
        return [int(j) for j in order if scores[j] > 0]

    return {
        "keyword": keyword,
        "semantic": semantic,
        "hybrid-rrf": hybrid(Fusion.RRF),
        "hybrid-dbsf": hybrid(Fusion.DBSF),
        "rank-bm25": full_scan,
    }


def _score(ranked: Sequence[str], rels: dict[str, int], ms: float) -> Scores:
    gains = {doc: float(grade) for doc, grade in rels.items()}
    relevant = frozenset(doc for doc, grade in rels.items() if grade > 0)
    return Scores(
        ndcg=ndcg_at_k(ranked, gains, 10),
        recall=recall_at_k(ranked, relevant, DEPTH),
        mrr=mrr(ranked, relevant, 10),
        ms=ms,
    )


def run_scifact(
    data: BeirData, *, store: VectorStore, encoder: DenseEncoder, progress: bool = False
) -> ScifactReport:
    """Index ``data`` into ``store`` and score every query in every mode of :data:`MODES`.

    BM25 uses k1 = :data:`indexers.BM25_K1`, b = :data:`indexers.BM25_B` and the
    corpus's average length. Latency is ``time.perf_counter`` around query
    encoding plus search (or the full scan), after one untimed warm-up query per
    mode; give ``encoder`` no query cache (``load_encoder(..., query_cache_size=0)``)
    or the hybrid modes reuse the semantic mode's embedding and look faster.

    Args:
        data: the documents, queries and judgements (:func:`load_scifact`).
        store: an open store; its collection is created or brought up to date.
        encoder: dense encoder.
        progress: show tqdm bars for embedding and querying.

    Raises:
        ValueError: ``data`` has no query.
        EncoderError: the encoder failed.
        VectorStoreError: the store refused an operation.
    """
    if not data.queries:
        raise ValueError("no judged query to evaluate")
    avg_len = Bm25Encoder.corpus_avg_len(data.doc_texts)
    bm25 = Bm25Encoder(avg_len=avg_len)
    index = index_corpus(store, encoder, bm25, data.doc_texts, progress=progress)
    baseline = LuceneBM25([bm25.tokens(t) for t in data.doc_texts], k1=BM25_K1, b=BM25_B)
    rankers = _rankers(store, encoder, bm25, baseline)
    for rank in rankers.values():
        rank(next(iter(data.queries.values())))  # warm-up: lazy loads, first-call costs
    report = ScifactReport(
        model=encoder.name,
        store=type(store).__name__,
        docs=len(data.doc_ids),
        avg_len=avg_len,
        index=index,
    )
    report.per_query = {mode: {} for mode in rankers}
    bar = tqdm(data.queries.items(), desc="querying", unit="query", disable=not progress)
    for qid, text in bar:
        # Modes interleave per query so that load on the machine hits them alike.
        for mode, rank in rankers.items():
            started = time.perf_counter()
            points = rank(text)
            ms = (time.perf_counter() - started) * 1000.0
            ranked = [data.doc_ids[p] for p in points]
            report.per_query[mode][qid] = _score(ranked, data.qrels[qid], ms)
    n = len(data.queries)
    for mode, scores in report.per_query.items():
        rows = scores.values()
        report.mean[mode] = Scores(
            ndcg=sum(s.ndcg for s in rows) / n,
            recall=sum(s.recall for s in rows) / n,
            mrr=sum(s.mrr for s in rows) / n,
            ms=sum(s.ms for s in rows) / n,
        )
    return report


def format_report(report: ScifactReport, *, limited: bool = False) -> str:
    """The report as a plain-text table followed by the published anchors.

    Args:
        report: what :func:`run_scifact` returned.
        limited: the corpus or the query set was cut (adds a warning line).
    """
    idx = report.index
    if idx.indexed:
        built = (
            f"indexed {idx.indexed} docs in {idx.seconds:.1f} s"
            f" ({idx.embedded} embedded, {idx.reused} reused)"
        )
    else:
        built = "index up to date: nothing embedded"
    lines = [
        f"SciFact train judgements: {report.queries} queries, {report.docs} docs,"
        f" model {report.model}, {report.store}",
        f"{built}; BM25 avg_len {report.avg_len:.1f} tokens, k1={BM25_K1}, b={BM25_B}",
        f"{'mode':<12} {'nDCG@10':>8} {'R@100':>7} {'MRR@10':>7} {'ms/query':>9}",
    ]
    for mode, m in report.mean.items():
        lines.append(f"{mode:<12} {m.ndcg:>8.4f} {m.recall:>7.4f} {m.mrr:>7.4f} {m.ms:>9.2f}")
    if limited:
        lines.append("(reduced corpus or query set: scores are not comparable to the anchors)")
    lines.append("Published nDCG@10 on the TEST split (we use TRAIN judgements: in spirit only):")
    lines += [f"  {name:<32} {value}" for name, value in ANCHORS]
    return "\n".join(lines)


def run_benchmark(
    *,
    data_dir: Path,
    model: str | None = None,
    store: StoreKind = "edge",
    index_dir: Path | None = None,
    limit_docs: int | None = None,
    limit_queries: int | None = None,
    progress: bool = True,
) -> ScifactReport:
    """Load SciFact, open the store and the encoder, and run :func:`run_scifact`.

    Args:
        data_dir: BEIR SciFact directory (``corpus.jsonl``, ``queries.jsonl``, ``qrels/``).
        model: dense model for :func:`indexers.load_encoder` (``None``: the packaged
            all-MiniLM-L6-v2; ``"hashing"``: the deterministic fake).
        store: ``edge`` (Qdrant Edge shard) or ``memory`` (qdrant-client ``:memory:``).
        index_dir: keep the Edge shard here and reuse it on the next run
            (default: a temporary directory, deleted afterwards).
        limit_docs: see :func:`load_scifact`.
        limit_queries: see :func:`load_scifact`.
        progress: show tqdm bars.

    Raises:
        ValueError: ``index_dir`` with the ``memory`` store, or no judged query.
        FileNotFoundError: a dataset file is missing.
        EncoderError: the model cannot be loaded.
    """
    if index_dir is not None and store == "memory":
        raise ValueError("--index-dir needs the edge store")
    data = load_scifact(data_dir, limit_docs=limit_docs, limit_queries=limit_queries)
    encoder = load_encoder(model, query_cache_size=0)
    with contextlib.ExitStack() as stack:
        # SciFact abstracts stand in for profiles: the profile collection's layout.
        if store == "memory":
            # qdrant-client's local mode says payload indexes are no-ops there: true, harmless.
            stack.enter_context(warnings.catch_warnings())
            warnings.filterwarnings("ignore", "Payload indexes have no effect", UserWarning)
            vs = open_store(url=":memory:", collection=COLLECTION, schema=PROFILE_SCHEMA)
        else:
            root = index_dir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
            vs = open_store(path=root, collection=COLLECTION, schema=PROFILE_SCHEMA)
        stack.callback(vs.close)
        return run_scifact(data, store=vs, encoder=encoder, progress=progress)
