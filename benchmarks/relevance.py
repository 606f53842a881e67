"""One relevance harness for every dataset, ranking through the service's own code.

Two datasets:

* ``beir``: a BEIR-format directory (Thakur et al., "BEIR", NeurIPS 2021 Datasets
  and Benchmarks): ``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``
  (graded judgements). ``../shared/data/scifact`` (Wadden et al., "Fact or
  Fiction: Verifying Scientific Claims", EMNLP 2020) ships the train split only.
  Each abstract (``title + "\\n" + text``) is indexed as one point of a
  profile-layout collection.
* ``resumes``: the LiveCareer resume CSV, imported exactly as ``gigsy-search
  ingest-resumes`` does and indexed by ``reindex``; each of the 24 category names
  ("information technology", ...) is a query, and a resume is relevant (gain 1)
  when its category, kept as a tag and never used for ranking, is the query's.
  Only 24 queries: differences of a few hundredths of P@10 are one or two hits.

Either way the data goes into a throw-away data directory (SQLite + Qdrant Edge),
and each query runs once through :func:`search_service.search.service.retrieve`
(the API's code: the query canonicalised as :func:`search_profiles` does,
embedded and BM25-encoded, both candidate lists fetched, ``candidates`` = 100).
Every configuration is then a ranking of those lists: ``keyword`` (the BM25
list), ``semantic`` (the dense list), or ``hybrid`` with a fusion
(:func:`indexers.fuse`, the function the stores apply to every hybrid search).
Hydration is skipped: nobody in these corpora is deleted, suspended or private.

Metrics (``benchmarks.metrics``): nDCG@10 with the judgements' gains, recall@100,
MRR@10 and, for resumes, P@10. Embeddings are cached on disk
(:class:`benchmarks.embcache.CachedEncoder`), so re-runs embed nothing.
"""

from __future__ import annotations

import csv
import json
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlmodel import select

from benchmarks.embcache import CachedEncoder
from benchmarks.metrics import mrr, ndcg_at_k, precision_at_k, recall_at_k
from benchmarks.resume_sections import FIELDS, parse_sections
from benchmarks.variants import Corpus, Lab, Variant, first_pass_ranker
from indexers import (
    Bm25Encoder,
    FilterSpec,
    Fusion,
    FusionSpec,
    Indexer,
    Norm,
    ProfileDocument,
    SearchResult,
    build_document,
    fuse,
    text_hash,
)
from indexers.taxonomy import (
    SKILL_ALIASES,
    TEXT_UNSAFE_ALIASES,
    canonicalise_query,
    extract_skills,
)
from models import SearchMode, User, now_ms
from search_service.db import session_scope
from search_service.entities import ENTITIES
from search_service.index.entity import PROFILE_ROWS
from search_service.profiles.ingest import ingest_resumes, read_resumes
from search_service.profiles.repository import load_profile_rows
from search_service.refresh.writer import reindex
from search_service.runtime import PROFILES, Runtime
from search_service.search.boosts import BoostConfig, apply_boosts
from search_service.search.service import retrieve
from search_service.settings import EmbeddingSettings, QdrantSettings, SearchSettings, Settings

__all__ = [
    "CATEGORY_PREFIX",
    "DEFAULT_GRID",
    "DEPTH",
    "Config",
    "Judged",
    "Record",
    "category_query",
    "evaluate",
    "expand_query",
    "format_record",
    "load_beir",
    "open_beir",
    "open_resumes",
    "parse_config",
    "run_configs",
]

CATEGORY_PREFIX = "category:"
DEPTH = 100
"""Ranks scored (recall@100) and candidates per retriever (the service's default)."""


def category_query(category: str) -> str:
    """``"INFORMATION-TECHNOLOGY"`` -> ``"information technology"``."""
    return category.replace("-", " ").lower()


@dataclass(frozen=True, slots=True)
class Config:
    """One ranking: a mode and, for ``hybrid``, a fusion, optionally followed by the
    employer-search boosts with their defaults (``search/boosts.py``); ``variant``
    changes retrieval itself (scored by :class:`benchmarks.variants.Lab`)."""

    mode: SearchMode
    fusion: FusionSpec | None = None
    boosts: bool = False
    variant: Variant = field(default_factory=Variant)

    @property
    def label(self) -> str:
        """``mode=keyword`` or ``mode=hybrid fusion=rrf k=60 w=1:1`` (`` boosts``), then
        the retrieval variant's words (:attr:`benchmarks.variants.Variant.label`)."""
        head = f"mode={self.mode.value}"
        if self.fusion is not None:
            head += f" {self.fusion.label}{' boosts' if self.boosts else ''}"
        tail = self.variant.label
        return f"{head} {tail}" if tail else head


def _grid() -> list[Config]:
    hybrid = SearchMode.HYBRID
    out = [Config(SearchMode.KEYWORD), Config(SearchMode.SEMANTIC)]
    for k in (2, 5, 10, 30, 60, 100):
        out.append(Config(hybrid, FusionSpec(Fusion.RRF, rrf_k=k)))
    for k in (10, 60):
        for wd, wk in ((1.0, 1.5), (1.0, 2.0), (1.5, 1.0), (2.0, 1.0)):
            spec = FusionSpec(Fusion.RRF, rrf_k=k, dense_weight=wd, keyword_weight=wk)
            out.append(Config(hybrid, spec))
    for wd, wk in ((1.0, 1.0), (1.0, 1.5), (1.0, 2.0), (1.5, 1.0), (2.0, 1.0)):
        out.append(Config(hybrid, FusionSpec(Fusion.DBSF, dense_weight=wd, keyword_weight=wk)))
    for norm in (Norm.MINMAX, Norm.TMM):
        for alpha in (0.2, 0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8, 0.9):
            out.append(Config(hybrid, FusionSpec(Fusion.CONVEX, alpha=alpha, norm=norm)))
    out.append(Config(hybrid, FusionSpec(), boosts=True))
    return out


DEFAULT_GRID: tuple[Config, ...] = tuple(_grid())
"""Every configuration run when none is named: both single modes, RRF over k and
weights, DBSF with weights, and the convex combination over alpha with both
normalisations, and the default fusion followed by the default boosts."""

_FIELD = re.compile(r"^(k|w|alpha|norm)=(.+)$")
_VARIANT = re.compile(r"^([a-z0-9]+)=(.+)$")
FIELD_NAMES = frozenset({"title", "text", "summary", "skills", "experience", "education", "other"})
"""Fields a configuration may weight in BM25 (``title=2``): SciFact's ``title`` and
``text``, the resumes' sections (:data:`benchmarks.resume_sections.FIELDS`)."""


def _variant_word(word: str, out: dict[str, Any], weights: list[tuple[str, float]]) -> bool:
    """Fold one retrieval-variant word into ``out``; False if it is not one."""
    if word in ("clean", "lab"):
        out[word] = True
        return True
    m = _VARIANT.match(word)
    if m is None:
        return False
    name, value = m.groups()
    if name in ("k1", "b"):
        out[name] = float(value)
    elif name in ("stem", "stop") and value in ("on", "off"):
        out["stemming" if name == "stem" else "stopwords"] = value == "on"
    elif name == "rm3":
        docs, terms, orig = value.split(":")
        out["rm3"] = (int(docs), int(terms), float(orig))
    elif name == "rocchio":
        docs, beta = value.split(":")
        out["rocchio"] = (int(docs), float(beta))
    elif name == "titleboost":
        out["title_boost"] = float(value)
    elif name == "depth":
        out["depth"] = int(value)
        if out["depth"] < 1:
            raise ValueError(value)
    elif name == "maxsim" and value in ("sections", "sections+doc"):
        out["maxsim"] = value
    elif name in FIELD_NAMES:
        weights.append((name, float(value)))
    else:
        return False
    return True


def parse_config(text: str) -> Config:
    """Parse ``keyword``, ``semantic``, or a fusion as printed: ``rrf k=60 w=1:1``,
    ``dbsf w=1:1.5``, ``convex norm=tmm alpha=0.3`` (``mode=``/``fusion=`` prefixes
    allowed; omitted fields take :class:`indexers.FusionSpec` defaults), followed by
    any retrieval-variant words (:class:`benchmarks.variants.Variant`): ``k1=0.9
    b=0.4``, ``stem=off``, ``stop=off``, field weights ``title=2 skills=3``,
    ``titleboost=2``, ``clean``, ``rm3=10:10:0.5``, ``rocchio=5:0.5``, ``depth=50``,
    ``maxsim=sections`` or ``maxsim=sections+doc``, ``lab``.

    Raises:
        ValueError: an unknown mode, fusion or field, or a value out of range.
    """
    words = [w.removeprefix("mode=").removeprefix("fusion=") for w in text.split()]
    boosts = "boosts" in words
    words = [w for w in words if w != "boosts"]
    if words and words[0] == SearchMode.HYBRID.value:
        words = words[1:]
    if not words:
        raise ValueError(f"empty configuration {text!r}")
    head, rest = words[0], words[1:]
    var: dict[str, Any] = {}
    weights: list[tuple[str, float]] = []
    fusion_words: list[str] = []
    for word in rest:
        try:
            known = _variant_word(word, var, weights)
        except ValueError:
            raise ValueError(f"bad value in {word!r} of {text!r}") from None
        if not known:
            fusion_words.append(word)
    try:
        variant = Variant(**var, weights=tuple(weights))
    except ValueError as exc:
        raise ValueError(f"{exc} in {text!r}") from None
    if head in (SearchMode.KEYWORD.value, SearchMode.SEMANTIC.value):
        if fusion_words:
            raise ValueError(f"{head} takes no fusion parameters: {text!r}")
        return Config(SearchMode(head), variant=variant)
    try:
        method = Fusion(head)
    except ValueError:
        raise ValueError(f"unknown mode or fusion {head!r} in {text!r}") from None
    kwargs: dict[str, object] = {"method": method}
    for word in fusion_words:
        m = _FIELD.match(word)
        if m is None:
            raise ValueError(f"unknown field {word!r} in {text!r}")
        name, value = m.groups()
        try:
            if name == "k":
                kwargs["rrf_k"] = int(value)
            elif name == "w":
                dense, keyword = value.split(":")
                kwargs["dense_weight"], kwargs["keyword_weight"] = float(dense), float(keyword)
            elif name == "alpha":
                kwargs["alpha"] = float(value)
            else:
                kwargs["norm"] = Norm(value)
        except ValueError:
            raise ValueError(f"bad value in {word!r} of {text!r}") from None
    spec = FusionSpec(**kwargs)  # type: ignore[arg-type]
    return Config(SearchMode.HYBRID, spec, boosts=boosts, variant=variant)


@dataclass(frozen=True, slots=True)
class Judged:
    """Queries with judgements over an indexed corpus.

    Attributes:
        name: dataset label printed in the header.
        queries: query id -> text, in evaluation order.
        qrels: query id -> {point id: graded relevance}.
        docs: documents indexed.
        corpus: the documents for retrieval variants (:class:`benchmarks.variants.Lab`).
    """

    name: str
    queries: dict[str, str]
    qrels: dict[str, dict[int, int]]
    docs: int
    corpus: Corpus | None = None


@dataclass(frozen=True, slots=True)
class Record:
    """One configuration's mean metrics (what a printed line and a ``--json`` entry hold)."""

    dataset: str
    mode: str
    config: str
    queries: int
    ndcg_at_10: float
    recall_at_100: float
    mrr_at_10: float
    p_at_10: float | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        """The record as a JSON object (``p_at_10`` omitted when not measured)."""
        out = asdict(self)
        if self.p_at_10 is None:
            del out["p_at_10"]
        return out


def format_record(rec: Record) -> str:
    """``mode=hybrid fusion=rrf k=60 w=1:1 nDCG@10=0.7152 recall@100=0.9510 MRR@10=0.6817``
    (``P@10=`` appended when measured, then any extra ``key=value`` pairs)."""
    parts = [
        rec.config,
        f"nDCG@10={rec.ndcg_at_10:.4f}",
        f"recall@100={rec.recall_at_100:.4f}",
        f"MRR@10={rec.mrr_at_10:.4f}",
    ]
    if rec.p_at_10 is not None:
        parts.append(f"P@10={rec.p_at_10:.4f}")
    parts += [f"{k}={v}" for k, v in rec.extra.items()]
    return " ".join(parts)


def rank(
    result: SearchResult,
    config: Config,
    payloads: Mapping[int, Mapping[str, Any]] | None = None,
    now: int = 0,
) -> list[int]:
    """Point ids, best first, at most :data:`DEPTH`, for ``config`` from one hybrid
    retrieval's candidate lists; with ``config.boosts``, the fused list goes through
    :func:`search_service.search.boosts.apply_boosts` (default switches) with the
    points' ``payloads`` at time ``now`` (ms since epoch), as employer search does."""
    if config.mode is SearchMode.KEYWORD:
        hits = result.keyword
    elif config.mode is SearchMode.SEMANTIC:
        hits = result.dense
    else:
        hits = fuse(result.dense, result.keyword, config.fusion or FusionSpec())
        if config.boosts:
            hits = apply_boosts(hits, payloads or {}, BoostConfig(), now).hits
    return [h.id for h in hits[:DEPTH]]


def evaluate(
    data: Judged,
    results: dict[str, SearchResult],
    config: Config,
    *,
    precision: bool,
    payloads: Mapping[int, Mapping[str, Any]] | None = None,
    now: int = 0,
) -> Record:
    """Mean metrics of ``config`` over every query of ``data``.

    Raises:
        ValueError: ``data`` has no query.
    """
    if not data.queries:
        raise ValueError("no judged query to evaluate")
    ndcg = recall = rr = p = 0.0
    for qid in data.queries:
        ranked = rank(results[qid], config, payloads, now)
        rels = data.qrels[qid]
        gains = {doc: float(g) for doc, g in rels.items()}
        relevant = frozenset(doc for doc, g in rels.items() if g > 0)
        ndcg += ndcg_at_k(ranked, gains, 10)
        recall += recall_at_k(ranked, relevant, DEPTH)
        rr += mrr(ranked, relevant, 10)
        p += precision_at_k(ranked, relevant, 10)
    n = len(data.queries)
    return Record(
        dataset=data.name,
        mode=config.mode.value,
        config=config.label,
        queries=n,
        ndcg_at_10=ndcg / n,
        recall_at_100=recall / n,
        mrr_at_10=rr / n,
        p_at_10=p / n if precision else None,
    )


QueryRewrite = Callable[[str], str]


def expand_query(query: str) -> str:
    """Append, for each skill of the taxonomy named in ``query``
    (:func:`indexers.taxonomy.extract_skills`), its text-safe aliases of two or more
    characters: ``"javascript developer"`` -> ``"javascript developer js ecmascript
    es6 ..."``. A query naming no skill comes back unchanged. Raises nothing."""
    extra: list[str] = []
    for skill in extract_skills(query):
        extra += [
            a
            for a in SKILL_ALIASES.get(skill, ())
            if len(a) > 1 and a.lower() not in TEXT_UNSAFE_ALIASES
        ]
    return " ".join([query, *dict.fromkeys(extra)]) if extra else query


def service_query(text: str, rewrite: QueryRewrite | None = None) -> str:
    """The query as ``search_profiles`` searches it: stripped and canonicalised (skill
    aliases), then ``rewrite`` (e.g. a query expansion under test)."""
    query = canonicalise_query(text.strip())
    return rewrite(query) if rewrite is not None else query


def retrieve_all(
    rt: Runtime, queries: dict[str, str], *, rewrite: QueryRewrite | None = None
) -> dict[str, SearchResult]:
    """Each query once through :func:`retrieve` in hybrid mode (both candidate lists),
    the query prepared by :func:`service_query`."""
    out: dict[str, SearchResult] = {}
    for qid, text in queries.items():
        out[qid] = retrieve(
            rt,
            rt.index(PROFILES),
            query=service_query(text, rewrite),
            mode=SearchMode.HYBRID,
            spec=FilterSpec(),
            limit=DEPTH,
            offset=0,
        )
    return out


def open_lab(rt: Runtime, data: Judged) -> Lab:
    """A :class:`benchmarks.variants.Lab` over ``data``'s corpus with the stored vectors.

    Raises:
        ValueError: ``data`` carries no corpus.
    """
    if data.corpus is None:
        raise ValueError(f"{data.name}: no corpus for retrieval variants")
    found = rt.index(PROFILES).store.dense_vectors(data.corpus.ids)
    dense = np.stack([found[i] for i in data.corpus.ids]).astype(np.float32)
    return Lab(data.corpus, dense, rt.encoder)


def run_configs(
    rt: Runtime,
    data: Judged,
    configs: Sequence[Config],
    *,
    precision: bool = False,
    rewrite: QueryRewrite | None = None,
) -> list[Record]:
    """Retrieve every query once, then score every configuration on those lists; a
    configuration with a retrieval variant gets its lists from a
    :class:`benchmarks.variants.Lab` instead (built once, on first need)."""
    results = retrieve_all(rt, data.queries, rewrite=rewrite)
    payloads: dict[int, dict[str, Any]] = {}
    if any(c.boosts for c in configs):
        ids = {h.id for r in results.values() for h in (*r.dense, *r.keyword)}
        payloads = rt.index(PROFILES).store.payloads(sorted(ids))
    now = now_ms()
    lab: Lab | None = None
    queries = {qid: service_query(t, rewrite) for qid, t in data.queries.items()}
    records: list[Record] = []
    for c in configs:
        got = results
        if c.variant != Variant():
            lab = lab or open_lab(rt, data)
            first = first_pass_ranker(
                c.mode is not SearchMode.KEYWORD, c.mode is not SearchMode.SEMANTIC, c.fusion
            )
            got = lab.retrieve(queries, c.variant, first)
        rec = evaluate(data, got, c, precision=precision, payloads=payloads, now=now)
        if c.variant.maxsim and lab is not None:
            per_doc, nbytes = lab.section_cost()
            rec.extra.update({"vectors/doc": f"{per_doc:.2f}", "MiB": f"{nbytes / 2**20:.1f}"})
        records.append(rec)
    encoder = rt.encoder
    if isinstance(encoder, CachedEncoder):
        encoder.flush()
    return records


def _settings(root: Path, model: str | None) -> Settings:
    var = root / "var"
    return Settings(
        data_dir=var,
        database_url=f"sqlite:///{var / 'gigsy.db'}",
        qdrant=QdrantSettings(url=None),
        embedding=EmbeddingSettings(model=model),
        search=SearchSettings(candidates=DEPTH),
    )


@dataclass(frozen=True, slots=True)
class BeirData:
    """A BEIR dataset reduced to what is evaluated.

    Attributes:
        doc_ids: corpus ids in file order; position ``i`` is point id ``i``.
        doc_texts: ``title + "\\n" + text`` of each document, parallel to ``doc_ids``.
        doc_titles: each document's title (weighted apart in its dense vector, as a
            profile's headline is: :func:`indexers.embed_documents`).
        queries: query id -> text, only queries with judgements, in file order.
        qrels: query id -> {corpus id: graded relevance}, for the kept queries.
    """

    doc_ids: list[str]
    doc_texts: list[str]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    doc_titles: list[str] = field(default_factory=list)


def _read_jsonl(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """BEIR's ``query-id corpus-id score`` TSV with its header, or headerless TREC
    qrels (``query-id iteration corpus-id score``, any whitespace)."""
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        lines = [ln for ln in fh if ln.strip()]
    if lines and lines[0].split()[0] == "query-id":
        for row in csv.DictReader(lines, delimiter="\t"):
            qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
        return qrels
    for line in lines:
        parts = line.split()
        if len(parts) != 4:
            raise ValueError(f"{path}: not a BEIR or TREC qrels line: {line!r}")
        qrels.setdefault(parts[0], {})[parts[2]] = int(parts[3])
    return qrels


def load_beir(
    data_dir: Path,
    *,
    split: str = "train",
    limit_docs: int | None = None,
    limit_queries: int | None = None,
) -> BeirData:
    """Read ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv`` (BEIR format;
    headerless TREC qrels are read too).

    Queries without a judgement in ``split`` are dropped.

    Args:
        data_dir: directory holding the three files.
        split: qrels file name without ``.tsv`` (``train``, ``test``, ``dev``).
        limit_docs: keep only the first N documents plus every document judged
            for a kept query (so every query can still be answered).
        limit_queries: keep only the first N judged queries.

    Raises:
        FileNotFoundError: a file is missing (e.g. ``qrels/test.tsv`` of SciFact here).
        ValueError: a qrels line is neither BEIR's nor TREC's.
    """
    qrels = _read_qrels(data_dir / "qrels" / f"{split}.tsv")
    queries = {
        q["_id"]: q["text"] for q in _read_jsonl(data_dir / "queries.jsonl") if q["_id"] in qrels
    }
    if limit_queries is not None:
        queries = dict(list(queries.items())[:limit_queries])
    qrels = {qid: qrels[qid] for qid in queries}
    judged = {doc for rels in qrels.values() for doc in rels}
    doc_ids: list[str] = []
    doc_texts: list[str] = []
    doc_titles: list[str] = []
    for i, doc in enumerate(_read_jsonl(data_dir / "corpus.jsonl")):
        if limit_docs is None or i < limit_docs or doc["_id"] in judged:
            doc_ids.append(doc["_id"])
            doc_texts.append("\n".join(p for p in (doc.get("title"), doc.get("text")) if p))
            doc_titles.append((doc.get("title") or "").strip())
    return BeirData(
        doc_ids=doc_ids, doc_texts=doc_texts, queries=queries, qrels=qrels, doc_titles=doc_titles
    )


@contextmanager
def open_beir(
    data: BeirData, encoder: CachedEncoder, *, name: str = "beir", progress: bool = True
) -> Iterator[tuple[Runtime, Judged]]:
    """A runtime over a temporary data directory whose profile collection holds
    ``data``'s documents as points ``0..n-1`` (BM25 average length from the corpus),
    and the judgements keyed by point id. Judged documents missing from the corpus
    still count in recall's denominator (they get ids past the corpus).
    """
    with tempfile.TemporaryDirectory(prefix="gigsy-relevance-") as tmp:
        rt = Runtime.open(_settings(Path(tmp), encoder.model), entities=ENTITIES, encoder=encoder)
        try:
            titles = [
                data.doc_titles[i] if i < len(data.doc_titles) else ""
                for i in range(len(data.doc_texts))
            ]
            bm25 = Bm25Encoder(
                avg_len=Bm25Encoder.corpus_avg_titled_len(zip(data.doc_texts, titles, strict=True))
            )
            rt.index(PROFILES).set_bm25(bm25)
            rt.index(PROFILES).store.ensure_collection(encoder.dim)
            docs = [
                ProfileDocument(
                    user_id=i,
                    text=text,
                    payload={"updated_at": 0, "text_hash": text_hash(text)},
                    title=titles[i],
                    version=0,
                )
                for i, text in enumerate(data.doc_texts)
            ]
            Indexer(rt.index(PROFILES).store, encoder, bm25).index(
                docs, progress=progress, desc="indexing"
            )
            point = {doc: i for i, doc in enumerate(data.doc_ids)}
            extra = iter(range(len(point), 10**9))
            qrels = {
                qid: {(point[doc] if doc in point else next(extra)): g for doc, g in rels.items()}
                for qid, rels in data.qrels.items()
            }
            titles = [d.title for d in docs]
            corpus = Corpus(
                ids=[d.user_id for d in docs],
                texts=[d.text for d in docs],
                fields=[
                    {"title": t, "text": _body(text, t)}
                    for t, text in zip(titles, data.doc_texts, strict=True)
                ],
                titles=titles,
            )
            yield (
                rt,
                Judged(name=name, queries=data.queries, qrels=qrels, docs=len(docs), corpus=corpus),
            )
        finally:
            rt.close()


def _body(text: str, title: str) -> str:
    """A BEIR document's text without its leading title line."""
    return text[len(title) :].lstrip("\n") if title and text.startswith(title) else text


def _resume_corpus(rt: Runtime, csv_path: Path) -> Corpus:
    """Every indexed resume: the service's document text, the sections parsed from
    the CSV text (raw and cleaned: :func:`benchmarks.resume_sections.parse_sections`),
    and, for MaxSim, the headline and each non-empty cleaned field as one text each."""
    raw = {row_id: text for row_id, _, text in read_resumes(csv_path)}
    with session_scope(rt.engine) as session:
        ids = [u.id for u in session.exec(select(User)) if u.id is not None]
        rows = load_profile_rows(session, ids)
        docs = {
            uid: (build_document(r), r.user.external_id or "")
            for uid, r in rows.items()
            if r.profile is not None and r.user.is_searchable
        }
    order = sorted(docs)
    fields: list[dict[str, str]] = []
    clean: list[dict[str, str]] = []
    sections: list[list[str]] = []
    for uid in order:
        text = raw.get(docs[uid][1], "")
        parsed, tidy = parse_sections(text), parse_sections(text, clean=True)
        fields.append({f: parsed.get(f) for f in FIELDS})
        clean.append({f: tidy.get(f) for f in FIELDS})
        # The title as the profile's headline (``parse_resume``), whose vector is cached.
        heads = [tidy.title[:300].title()] if tidy.title else []
        rest = [t for t in (tidy.get(f) for f in FIELDS[1:]) if t.strip()]
        sections.append(heads + rest or [text])
    return Corpus(
        ids=order,
        texts=[docs[uid][0].text for uid in order],
        fields=fields,
        clean_fields=clean,
        sections=sections,
        titles=[docs[uid][0].title for uid in order],
    )


def _per_category(csv_path: Path, n: int, out: Path) -> Path:
    """Write the first ``n`` resumes of each category of ``csv_path`` (file order) to ``out``."""
    seen: dict[str, int] = {}
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["ID", "Category", "Resume_str"])
        for row_id, category, text in read_resumes(csv_path):
            if seen.get(category, 0) < n:
                seen[category] = seen.get(category, 0) + 1
                writer.writerow([row_id, category, text])
    return out


@contextmanager
def open_resumes(
    csv_path: Path,
    encoder: CachedEncoder,
    *,
    progress: bool = True,
    per_category: int | None = None,
) -> Iterator[tuple[Runtime, Judged]]:
    """A runtime over a temporary data directory holding the resumes of ``csv_path``
    (``ingest_resumes`` then ``reindex``, as the CLI does), with one query per
    category and every resume of that category judged relevant (gain 1);
    ``per_category`` keeps only the first N resumes of each category (file order).

    Raises:
        FileNotFoundError: no such CSV.
        ValueError: the CSV lacks a column, or no resume has a category.
    """
    with tempfile.TemporaryDirectory(prefix="gigsy-relevance-") as tmp:
        rt = Runtime.open(_settings(Path(tmp), encoder.model), entities=ENTITIES, encoder=encoder)
        try:
            if per_category is not None:
                csv_path = _per_category(csv_path, per_category, Path(tmp) / "sample.csv")
            ingest_resumes(rt, csv_path, progress=progress)
            reindex(rt, progress=progress, entities=(PROFILE_ROWS,))
            by_cat: dict[str, dict[int, int]] = {}
            with session_scope(rt.engine) as session:
                for user in session.exec(select(User)):
                    tag = next((t for t in user.tags if t.startswith(CATEGORY_PREFIX)), None)
                    if tag and user.id is not None:
                        cat = tag.removeprefix(CATEGORY_PREFIX)
                        by_cat.setdefault(cat, {})[user.id] = 1
            if not by_cat:
                raise ValueError(f"{csv_path}: no resume has a category")
            cats = sorted(by_cat)
            yield (
                rt,
                Judged(
                    name="resumes",
                    queries={c: category_query(c) for c in cats},
                    qrels={c: by_cat[c] for c in cats},
                    docs=rt.index(PROFILES).store.count(),
                    corpus=_resume_corpus(rt, csv_path),
                ),
            )
        finally:
            rt.close()
