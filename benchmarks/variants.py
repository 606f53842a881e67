"""Retrieval variants scored in the harness: BM25 parameters, tokenisation and field
weights, pseudo-relevance feedback, fusion depth and several vectors per document.

The service's retrieval (:func:`search_service.search.service.retrieve`) runs one
index. A variant that changes what is indexed (BM25 ``k1``/``b``, stemming, a
field weighted apart) or adds a second retrieval round (feedback) would need an
index per variant; instead :class:`Lab` scores every document exactly, in
memory, with the service's own encoders:

* BM25: :class:`indexers.Bm25Encoder` document weights (or
  :meth:`~indexers.Bm25Encoder.encode_fields` for BM25F), the query's terms
  weighted by Lucene's IDF ``ln(1 + (N - n + 0.5)/(n + 0.5))``, summed: what the
  store computes with Qdrant's IDF modifier (the unchanged variant reproduces the
  service's keyword list; ``lab`` in the relevance table shows it).
* dense: cosine of the query embedding with the stored document vectors
  (exact, where the store's HNSW is approximate).

Feedback, both from the top ``docs`` of the first-pass ranking (fused for a
hybrid configuration):

* RM3 on BM25 (Abdul-Jaleel et al., "UMass at TREC 2004", relevance model 3;
  Anserini's defaults 10 docs, 10 terms, original weight 0.5): expansion terms
  ``P(t|R) = sum_d P(t|d) P(d|q)`` with ``P(t|d) = tf/|d|`` and ``P(d|q)`` the
  first-pass scores normalised to sum 1, the top ``terms`` of them mixed with
  the original query (each side normalised to sum 1).
* Rocchio on the dense query (Rocchio, "Relevance feedback in information
  retrieval", 1971): ``normalise(q + beta * mean(top docs' vectors))``.

MaxSim: one vector per section, a document scored by its best section
(ColBERT's late interaction, Khattab & Zaharia, SIGIR 2020, with a one-vector
query: Qdrant's ``MultiVectorComparator.MAX_SIM``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from indexers import BM25_B, BM25_K1, Bm25Encoder, DenseEncoder, FusionSpec, Hit, fuse
from indexers.store import SearchResult

__all__ = ["Corpus", "Lab", "Variant", "first_pass_ranker"]

FloatArray = npt.NDArray[np.float32]
Fields = Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Variant:
    """What a configuration changes in retrieval (defaults: the service's).

    Attributes:
        k1, b: BM25 parameters.
        stemming, stopwords: BM25 tokenisation switches
            (:class:`indexers.Bm25Encoder`).
        weights: BM25F field weights ``(field, weight)``; fields not named weigh 1.
            Empty: the service's document text.
        title_boost: BM25F over the service's text (weight 1) and its title again
            (this weight): what the indexer would do with a title weight of
            ``1 + title_boost`` (the title is already the text's first line).
        clean: use the cleaned fields (resumes: template residue removed).
        rm3: ``(docs, terms, original weight)`` of RM3 on the BM25 query.
        rocchio: ``(docs, beta)`` of Rocchio on the dense query.
        depth: candidates per retriever before fusion (the service: 100).
        maxsim: dense score = best of one vector per section (``sections``), or
            of those and the document's stored vector (``sections+doc``).
        lab: score in the harness even when nothing else changes (parity check).
    """

    k1: float = BM25_K1
    b: float = BM25_B
    stemming: bool = True
    stopwords: bool = True
    weights: tuple[tuple[str, float], ...] = ()
    title_boost: float = 0.0
    clean: bool = False
    rm3: tuple[int, int, float] | None = None
    rocchio: tuple[int, float] | None = None
    depth: int = 100
    maxsim: str | None = None
    lab: bool = False

    @property
    def label(self) -> str:
        """The variant as ``--config`` words (empty for the service's retrieval)."""
        out: list[str] = []
        if (self.k1, self.b) != (BM25_K1, BM25_B):
            out += [f"k1={self.k1:g}", f"b={self.b:g}"]
        if not self.stemming:
            out.append("stem=off")
        if not self.stopwords:
            out.append("stop=off")
        out += [f"{name}={w:g}" for name, w in self.weights]
        if self.title_boost:
            out.append(f"titleboost={self.title_boost:g}")
        if self.clean:
            out.append("clean")
        if self.rm3:
            out.append("rm3={}:{}:{:g}".format(*self.rm3))
        if self.rocchio:
            out.append("rocchio={}:{:g}".format(*self.rocchio))
        if self.depth != 100:
            out.append(f"depth={self.depth}")
        if self.maxsim:
            out.append(f"maxsim={self.maxsim}")
        if self.lab and not out:
            out.append("lab")
        return " ".join(out)

    @property
    def bm25_key(self) -> tuple[object, ...]:
        """What decides the BM25 index (equal keys share one)."""
        return (
            self.k1,
            self.b,
            self.stemming,
            self.stopwords,
            self.weights,
            self.clean,
            self.title_boost,
        )


@dataclass(frozen=True, slots=True)
class Corpus:
    """The indexed documents as the lab sees them, parallel to ``ids``.

    Attributes:
        ids: point ids.
        texts: the service's document text of each point.
        fields: each document's fields (SciFact ``title``/``text``; resumes the
            parsed sections), for BM25F.
        clean_fields: the same, cleaned (``None``: the dataset has no cleaning).
        sections: texts embedded one vector each for MaxSim (``None``: unsupported).
        titles: each document's title as indexed (the profile headline).
    """

    ids: list[int]
    texts: list[str]
    fields: list[dict[str, str]]
    clean_fields: list[dict[str, str]] | None = None
    sections: list[list[str]] | None = None
    titles: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Bm25Index:
    """An inverted index: per term id, the documents holding it and their BM25
    weights; per document, its (weighted) term frequencies (RM3)."""

    encoder: Bm25Encoder
    n: int
    postings: dict[int, tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]]
    doc_tf: list[dict[int, float]]
    idf: dict[int, float] = field(default_factory=dict)


class Lab:
    """Exact in-memory retrieval over ``corpus`` for :class:`Variant` s.

    Args:
        corpus: the documents.
        dense: ``(n, dim)`` float32 stored vectors (L2-normalised), parallel to
            ``corpus.ids``.
        encoder: the dense model (queries; sections for MaxSim).
    """

    def __init__(self, corpus: Corpus, dense: FloatArray, encoder: DenseEncoder) -> None:
        if dense.shape[0] != len(corpus.ids):
            raise ValueError(f"{dense.shape[0]} vectors for {len(corpus.ids)} documents")
        self.corpus = corpus
        self.dense = dense
        self.encoder = encoder
        self._bm25: dict[tuple[object, ...], _Bm25Index] = {}
        self._sections: tuple[FloatArray, npt.NDArray[np.int64]] | None = None

    # -- BM25 -------------------------------------------------------------------

    def _doc_fields(self, v: Variant, i: int) -> list[tuple[str, float]]:
        if v.title_boost:
            return [(self.corpus.titles[i], v.title_boost), (self.corpus.texts[i], 1.0)]
        source = self.corpus.fields
        if v.clean:
            if self.corpus.clean_fields is None:
                raise ValueError("this dataset has no cleaned fields")
            source = self.corpus.clean_fields
        w = dict(v.weights)
        return [(text, w.get(name, 1.0)) for name, text in source[i].items()]

    def _index(self, v: Variant) -> _Bm25Index:
        found = self._bm25.get(v.bm25_key)
        if found is not None:
            return found
        probe = Bm25Encoder(stemming=v.stemming, stopwords=v.stopwords, k1=v.k1, b=v.b)
        fielded = bool(v.weights) or v.clean or bool(v.title_boost)
        n = len(self.corpus.ids)
        if fielded:
            docs = [self._doc_fields(v, i) for i in range(n)]
            lengths = np.array([probe.fields_length(d) for d in docs])
        else:
            lengths = np.array([probe.doc_length(t) for t in self.corpus.texts], dtype=float)
        avg = max(float(lengths.mean()), 1.0) if n else 1.0
        enc = Bm25Encoder(avg, k1=v.k1, b=v.b, stemming=v.stemming, stopwords=v.stopwords)
        lists: dict[int, tuple[list[int], list[float]]] = {}
        doc_tf: list[dict[int, float]] = []
        for i in range(n):
            if fielded:
                vec = enc.encode_fields(docs[i])
                tf: dict[int, float] = {}
                for text, w in docs[i]:
                    for t, c in enc.term_frequencies(text).items() if w > 0 and text else ():
                        tf[t] = tf.get(t, 0.0) + w * c
            else:
                vec = enc.encode_document(self.corpus.texts[i])
                tf = {t: float(c) for t, c in enc.term_frequencies(self.corpus.texts[i]).items()}
            doc_tf.append(tf)
            for t, val in zip(vec.indices, vec.values, strict=True):
                docs_of, vals = lists.setdefault(t, ([], []))
                docs_of.append(i)
                vals.append(val)
        postings = {
            t: (np.asarray(d, dtype=np.int64), np.asarray(v, dtype=np.float64))
            for t, (d, v) in lists.items()
        }
        idf = {
            t: math.log(1.0 + (n - len(d) + 0.5) / (len(d) + 0.5)) for t, (d, _) in lists.items()
        }
        index = _Bm25Index(enc, n, postings, doc_tf, idf)
        self._bm25[v.bm25_key] = index
        return index

    def _bm25_scores(
        self, index: _Bm25Index, query: Mapping[int, float]
    ) -> npt.NDArray[np.float64]:
        scores = np.zeros(index.n)
        for t, w in query.items():
            found = index.postings.get(t)
            if found is not None:
                scores[found[0]] += w * index.idf[t] * found[1]
        return scores

    def _rm3(
        self, index: _Bm25Index, query: Mapping[int, float], feedback: Sequence[Hit], v: Variant
    ) -> dict[int, float]:
        assert v.rm3 is not None
        docs, terms, original = v.rm3
        top = [h for h in feedback[:docs]]
        if not top:
            return dict(query)
        pos = {pid: i for i, pid in enumerate(self.corpus.ids)}
        scores = np.array([max(h.score, 0.0) for h in top])
        prior = scores / scores.sum() if scores.sum() > 0 else np.full(len(top), 1 / len(top))
        rel: dict[int, float] = {}
        for h, p in zip(top, prior, strict=True):
            tf = index.doc_tf[pos[h.id]]
            total = sum(tf.values())
            for t, c in tf.items() if total > 0 else ():
                rel[t] = rel.get(t, 0.0) + float(p) * c / total
        best = sorted(rel, key=lambda t: (-rel[t], t))[:terms]
        expansion = {t: rel[t] for t in best if rel[t] > 0}
        z = sum(expansion.values()) or 1.0
        qz = sum(query.values()) or 1.0
        out = {t: original * w / qz for t, w in query.items()}
        for t, w in expansion.items():
            out[t] = out.get(t, 0.0) + (1.0 - original) * w / z
        return out

    # -- dense ------------------------------------------------------------------

    def _section_vectors(self) -> tuple[FloatArray, npt.NDArray[np.int64]]:
        if self._sections is None:
            if self.corpus.sections is None:
                raise ValueError("this dataset has no sections for MaxSim")
            owner: list[int] = []
            texts: list[str] = []
            for i, secs in enumerate(self.corpus.sections):
                for s in secs:
                    owner.append(i)
                    texts.append(s)
            vecs = np.asarray(self.encoder.encode_documents(texts), dtype=np.float32)
            self._sections = (vecs, np.asarray(owner, dtype=np.int64))
        return self._sections

    def section_cost(self) -> tuple[float, int]:
        """Mean vectors per document and total float32 bytes of the section vectors."""
        vecs, owner = self._section_vectors()
        n = max(len(self.corpus.ids), 1)
        return len(owner) / n, int(vecs.nbytes)

    def _dense_scores(self, q: FloatArray, v: Variant) -> npt.NDArray[np.float64]:
        doc = self.dense @ q
        if not v.maxsim:
            return doc.astype(np.float64)
        vecs, owner = self._section_vectors()
        best = np.full(len(self.corpus.ids), -1.0)
        np.maximum.at(best, owner, vecs @ q)
        if v.maxsim == "sections+doc":
            best = np.maximum(best, doc)
        return best

    # -- retrieval --------------------------------------------------------------

    def _top(self, scores: npt.NDArray[np.float64], depth: int, *, positive: bool) -> list[Hit]:
        k = min(depth, len(scores))
        if k == 0:
            return []
        part = np.argpartition(-scores, k - 1)[:k]
        order = part[np.lexsort((np.asarray(self.corpus.ids)[part], -scores[part]))]
        return [
            Hit(id=self.corpus.ids[i], score=float(scores[i]))
            for i in order
            if not positive or scores[i] > 0
        ]

    def retrieve(
        self,
        queries: Mapping[str, str],
        v: Variant,
        first_pass: Callable[[SearchResult], list[Hit]],
    ) -> dict[str, SearchResult]:
        """Both candidate lists of every query under ``v`` (``v.depth`` each).

        Args:
            queries: query id -> the query text as the service searches it
                (canonicalised).
            v: the variant.
            first_pass: ranks a first-pass result (fusion or a single list); its
                top documents are the feedback of RM3 and Rocchio.

        Raises:
            ValueError: the variant needs fields, cleaned fields or sections the
                corpus lacks.
        """
        index = self._index(v)
        out: dict[str, SearchResult] = {}
        for qid, text in queries.items():
            qs = index.encoder.encode_query(text)
            query = dict(zip(qs.indices, (float(x) for x in qs.values), strict=True))
            qd = np.asarray(self.encoder.encode_query(text), dtype=np.float32)
            kw = self._top(self._bm25_scores(index, query), v.depth, positive=True)
            de = self._top(self._dense_scores(qd, v), v.depth, positive=False)
            if v.rm3 or v.rocchio:
                feedback = first_pass(SearchResult(dense=de, keyword=kw))
                if v.rm3:
                    query = self._rm3(index, query, feedback, v)
                    kw = self._top(self._bm25_scores(index, query), v.depth, positive=True)
                if v.rocchio:
                    docs, beta = v.rocchio
                    pos = {pid: i for i, pid in enumerate(self.corpus.ids)}
                    top = [pos[h.id] for h in feedback[:docs]]
                    if top:
                        qd = qd + beta * self.dense[top].mean(axis=0)
                        qd = (qd / (np.linalg.norm(qd) or 1.0)).astype(np.float32)
                    de = self._top(self._dense_scores(qd, v), v.depth, positive=False)
            out[qid] = SearchResult(dense=de, keyword=kw)
        return out


def first_pass_ranker(
    mode_dense: bool, mode_keyword: bool, spec: FusionSpec | None
) -> Callable[[SearchResult], list[Hit]]:
    """The first-pass ranking a configuration gives (feedback documents come from it)."""

    def rank(r: SearchResult) -> list[Hit]:
        if mode_dense and not mode_keyword:
            return r.dense
        if mode_keyword and not mode_dense:
            return r.keyword
        return fuse(r.dense, r.keyword, spec or FusionSpec())

    return rank
