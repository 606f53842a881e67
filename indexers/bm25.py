"""BM25 sparse vectors: one tokenizer/encoder for both vector-store adapters.

Documents carry BM25 term weights; the store multiplies each query term by its
IDF (Qdrant's ``Modifier.IDF``), so the dot product is the BM25 score of
Robertson & Zaragoza, "The Probabilistic Relevance Framework: BM25 and Beyond"
(2009), eq. 3.15, with Lucene's non-negative IDF ``ln(1 + (N - n + 0.5)/(n + 0.5))``.

Tokenization, stopwords and stemming are Qdrant's own (``qdrant_edge.Bm25``, the
same model as Qdrant's server-side ``bm25``); term ids are hashes of stemmed tokens.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import qdrant_edge as qe

__all__ = ["BM25_B", "BM25_K1", "BM25_TITLE_WEIGHT", "Bm25Encoder", "SparseVec"]

BM25_K1 = 1.2
"""Term-frequency saturation; 1.2 is the usual default (Robertson & Zaragoza 2009, §3.4)."""
BM25_B = 0.75
"""Length normalisation; 0.75 is the usual default (ibid.)."""
BM25_TITLE_WEIGHT = 3.0
"""Times a document's title counts in BM25F (:meth:`Bm25Encoder.encode_titled`).
Measured with ``python -m benchmarks relevance`` (``titleboost=2``,
``benchmarks/README.md``): default hybrid SciFact train nDCG@10 0.7339 -> 0.7377,
resumes P@10 0.9125 -> 0.9250. The indexer encodes every profile and gig this way
(:class:`indexers.Indexer`), with ``avg_len`` from :meth:`Bm25Encoder.corpus_avg_titled_len`."""


@dataclass(frozen=True, slots=True)
class SparseVec:
    """A sparse vector: parallel lists of term ids (uint32 hashes) and weights."""

    indices: list[int]
    values: list[float]

    def __len__(self) -> int:
        return len(self.indices)


def _to_sparse(vec: qe.SparseVector) -> SparseVec:
    return SparseVec(indices=list(vec.indices), values=[float(v) for v in vec.values])


class Bm25Encoder:
    """BM25 document/query encoder with a corpus-derived average document length.

    Args:
        avg_len: average document length in tokens (after stopwords); take it from
            the corpus with :meth:`corpus_avg_len`, not Qdrant's default of 256.
        k1: term-frequency saturation (default :data:`BM25_K1`).
        b: length normalisation in [0, 1] (default :data:`BM25_B`).
        language: stopword and stemmer language.
        stemming: stem tokens (Qdrant's Snowball stemmer for ``language``); off keeps
            the lowercased word.
        stopwords: drop ``language``'s stopwords.

    Raises:
        ValueError: ``avg_len`` is not positive, ``b`` is outside [0, 1] or ``k1 < 0``.
    """

    def __init__(
        self,
        avg_len: float = 256.0,
        *,
        k1: float = BM25_K1,
        b: float = BM25_B,
        language: str = "english",
        stemming: bool = True,
        stopwords: bool = True,
    ) -> None:
        self.avg_len = float(avg_len)
        self.k1 = k1
        self.b = b
        self.language = language
        self.stemming = stemming
        self.stopwords = stopwords
        self._model = qe.Bm25(self._config(k1, b, self.avg_len))
        # b = 0 removes length normalisation, so each weight is tf*(k1+1)/(tf+k1)
        # and the raw term frequency can be solved back out of it.
        self._tf_model = qe.Bm25(self._config(k1, 0.0, 1.0))

    def _config(self, k: float, b: float, avg_len: float) -> qe.Bm25Config:
        return qe.Bm25Config(
            k=k,
            b=b,
            avg_len=avg_len,
            language=self.language,
            stemmer=None if self.stemming else qe.DisabledStemmer(),
            stopwords=None if self.stopwords else qe.StopwordsSet(custom=set()),
        )

    def encode_document(self, text: str) -> SparseVec:
        """BM25 term weights of a document (no IDF: the store applies it)."""
        return _to_sparse(self._model.embed_document(text))

    def encode_documents(self, texts: Sequence[str]) -> list[SparseVec]:
        """:meth:`encode_document` over many texts."""
        return [self.encode_document(t) for t in texts]

    def encode_fields(self, fields: Sequence[tuple[str, float]]) -> SparseVec:
        """BM25F term weights of a document made of weighted fields (no IDF).

        Each field's term frequencies are multiplied by its weight and summed, the
        document length likewise, and the sum is saturated once:
        ``w = tf~ (k1 + 1) / (tf~ + k1 (1 - b + b len~ / avg_len))`` (Robertson,
        Zaragoza & Taylor, "Simple BM25 extension to multiple weighted fields",
        CIKM 2004). With every weight 1 this equals :meth:`encode_document` of the
        fields' texts joined; ``avg_len`` should then be the corpus mean of
        :meth:`fields_length`.

        Args:
            fields: ``(text, weight)`` pairs; weights >= 0 (0 drops the field).

        Raises:
            ValueError: a weight is negative.
        """
        tf: dict[int, float] = {}
        length = 0.0
        for text, weight in fields:
            if weight < 0:
                raise ValueError(f"field weight must be >= 0, got {weight}")
            if weight == 0 or not text:
                continue
            for term, count in self.term_frequencies(text).items():
                tf[term] = tf.get(term, 0.0) + weight * count
                length += weight * count
        norm = self.k1 * (1.0 - self.b + self.b * length / self.avg_len)
        terms = sorted(tf)
        return SparseVec(
            indices=terms, values=[tf[t] * (self.k1 + 1.0) / (tf[t] + norm) for t in terms]
        )

    def encode_titled(
        self, text: str, title: str, *, weight: float = BM25_TITLE_WEIGHT
    ) -> SparseVec:
        """BM25F weights of ``text`` whose title (already in ``text``, e.g. its first
        line, as :class:`indexers.ProfileDocument` and :class:`indexers.GigDocument`
        build it) counts ``weight`` times: :meth:`encode_fields` of ``title`` at
        ``weight - 1`` and ``text`` at 1. An empty title gives :meth:`encode_document`.

        Raises:
            ValueError: ``weight < 1``.
        """
        if weight < 1:
            raise ValueError(f"title weight must be >= 1, got {weight}")
        if not title.strip() or weight == 1:
            return self.encode_document(text)
        return self.encode_fields([(title, weight - 1.0), (text, 1.0)])

    def fields_length(self, fields: Sequence[tuple[str, float]]) -> float:
        """Weighted length in tokens of a field-weighted document (:meth:`encode_fields`)."""
        return sum(w * self.doc_length(t) for t, w in fields if w > 0 and t)

    def encode_query(self, text: str) -> SparseVec:
        """Query vector: weight 1.0 per unique term."""
        return _to_sparse(self._model.embed_query(text))

    def term_frequencies(self, text: str) -> dict[int, int]:
        """Term id -> raw count in ``text``, with the encoder's tokenizer."""
        vec = self._tf_model.embed_document(text)
        k = self.k1
        # w = tf (k+1) / (tf + k)  =>  tf = w k / (k + 1 - w)
        return {
            int(i): max(1, round(w * k / (k + 1.0 - w))) if k > 0 else 1
            for i, w in zip(vec.indices, vec.values, strict=True)
        }

    def tokens(self, text: str) -> list[int]:
        """``text`` as BM25 sees it: each term id repeated by its count (for full-scan
        references such as rank-bm25)."""
        return [t for t, tf in self.term_frequencies(text).items() for _ in range(tf)]

    def doc_length(self, text: str) -> int:
        """Document length in tokens as BM25 counts it (stopwords removed)."""
        return sum(self.term_frequencies(text).values())

    def titled_length(self, text: str, title: str, *, weight: float = BM25_TITLE_WEIGHT) -> float:
        """Length in tokens of ``text`` whose title counts ``weight`` times, as
        :meth:`encode_titled` normalises it."""
        if not title.strip() or weight == 1:
            return float(self.doc_length(text))
        return self.fields_length([(title, weight - 1.0), (text, 1.0)])

    @classmethod
    def corpus_avg_titled_len(
        cls, docs: Iterable[tuple[str, str]], *, language: str = "english"
    ) -> float:
        """Average :meth:`titled_length` over ``(text, title)`` pairs (1.0 for an
        empty corpus): the ``avg_len`` that :meth:`encode_titled` documents need."""
        probe = cls(language=language)
        total = 0.0
        count = 0
        for text, title in docs:
            total += probe.titled_length(text, title)
            count += 1
        return max(total / count, 1.0) if count else 1.0

    @classmethod
    def corpus_avg_len(cls, texts: Iterable[str], *, language: str = "english") -> float:
        """Average BM25 document length over ``texts`` (1.0 for an empty corpus)."""
        probe = cls(language=language)
        total = count = 0
        for text in texts:
            total += probe.doc_length(text)
            count += 1
        return max(total / count, 1.0) if count else 1.0

    def term_names(self, query: str) -> dict[int, str]:
        """Map each term id of ``query`` to the query word that produced it.

        Used to explain which query terms a document matched.
        """
        names: dict[int, str] = {}
        for word in query.split():
            for idx in self._model.embed_query(word).indices:
                names.setdefault(int(idx), word.strip(".,;:!?()[]{}\"'").lower())
        return names
