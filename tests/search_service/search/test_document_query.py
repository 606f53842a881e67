"""``document_query``: a whole resume or gig as a BM25 query weighted by term counts."""

from __future__ import annotations

import pytest

from indexers import Bm25Encoder, SparseVec
from search_service.search.recommend import document_query


@pytest.fixture
def bm25() -> Bm25Encoder:
    return Bm25Encoder(avg_len=4.0)


def _term(bm25: Bm25Encoder, word: str) -> int:
    (term,) = bm25.encode_query(word).indices
    return term


def _weights(vec: SparseVec) -> dict[int, float]:
    return dict(zip(vec.indices, vec.values, strict=True))


def _dot(query: SparseVec, doc: SparseVec) -> float:
    """The store's score up to IDF, which is the same for terms in one document each."""
    weights = _weights(doc)
    return sum(w * weights.get(t, 0.0) for t, w in zip(query.indices, query.values, strict=True))


class TestDocumentQuery:
    def test_each_weight_is_the_terms_count(self, bm25: Bm25Encoder) -> None:
        vec = document_query(bm25, "React developer. react, REACT and Python; Pythons")
        assert _weights(vec) == {
            _term(bm25, "react"): 3.0,
            _term(bm25, "developer"): 1.0,
            _term(bm25, "python"): 2.0,  # "Pythons" stems to the same term
        }

    def test_stopwords_are_dropped(self, bm25: Bm25Encoder) -> None:
        assert _weights(document_query(bm25, "the react of a and")) == {_term(bm25, "react"): 1.0}
        assert len(document_query(bm25, "the of and a")) == 0

    def test_empty_text_gives_an_empty_query(self, bm25: Bm25Encoder) -> None:
        assert document_query(bm25, "") == SparseVec(indices=[], values=[])

    def test_same_terms_as_the_plain_query(self, bm25: Bm25Encoder) -> None:
        text = "Line cook: grill, sauces, grill station and the grill menu for sauces"
        assert sorted(document_query(bm25, text).indices) == sorted(bm25.encode_query(text).indices)

    def test_a_repeated_term_outweighs_a_single_mention(self, bm25: Bm25Encoder) -> None:
        query_text = "python developer, python scripts, python tests, java once"
        python_doc = bm25.encode_document("python")
        java_doc = bm25.encode_document("java")
        plain = bm25.encode_query(query_text)
        assert _dot(plain, python_doc) == pytest.approx(_dot(plain, java_doc))
        weighted = document_query(bm25, query_text)
        assert _dot(weighted, python_doc) == pytest.approx(3 * _dot(weighted, java_doc))
