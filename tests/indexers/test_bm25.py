"""BM25 encoder: exact expectations on a tiny corpus, then parity with rank-bm25.

The parity corpus goes through the real store (Qdrant Edge, keyword-only search),
so what is compared is the score the service ranks by: document weights from
:class:`indexers.Bm25Encoder` times the IDF the store applies (``Modifier.IDF``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from rank_bm25 import BM25Okapi

from indexers import PROFILE_SCHEMA, Bm25Encoder, FilterSpec, FusionSpec, HashingEncoder
from indexers.bm25 import BM25_B, BM25_K1
from indexers.store_edge import EdgeStore
from tests.indexers.factories import make_points

# --- exact expectations on a tiny corpus ---------------------------------------------


class TestTermFrequencies:
    def test_counts_repeated_words(self) -> None:
        enc = Bm25Encoder()
        tf = enc.term_frequencies("python python python rust")
        assert sorted(tf.values()) == [1, 3]

    def test_stemmed_forms_are_one_term(self) -> None:
        enc = Bm25Encoder()
        (developer,) = enc.term_frequencies("developer")
        assert enc.term_frequencies("developers") == {developer: 1}
        assert enc.term_frequencies("developer developers") == {developer: 2}

    def test_stopwords_are_dropped(self) -> None:
        enc = Bm25Encoder()
        assert enc.term_frequencies("the with") == {}
        assert enc.term_frequencies("the developer with the laptop") == enc.term_frequencies(
            "developer laptop"
        )

    def test_case_and_punctuation_are_ignored(self) -> None:
        enc = Bm25Encoder()
        assert enc.term_frequencies("Python, PYTHON; python!") == enc.term_frequencies(
            "python python python"
        )

    def test_large_counts_are_recovered_exactly(self) -> None:
        enc = Bm25Encoder()
        assert list(enc.term_frequencies("kotlin " * 200).values()) == [200]

    def test_does_not_depend_on_avg_len_or_b(self) -> None:
        text = "react developer builds react apps with react hooks"
        assert Bm25Encoder(avg_len=2.0).term_frequencies(text) == Bm25Encoder(
            avg_len=500.0, b=0.1
        ).term_frequencies(text)


class TestDocLength:
    def test_counts_tokens_without_stopwords(self) -> None:
        enc = Bm25Encoder()
        assert enc.doc_length("The developer with developers builds React apps") == 5

    def test_empty_text_has_length_zero(self) -> None:
        assert Bm25Encoder().doc_length("") == 0


class TestCorpusAvgLen:
    def test_empty_corpus_is_one(self) -> None:
        assert Bm25Encoder.corpus_avg_len([]) == 1.0

    def test_mean_of_doc_lengths(self) -> None:
        texts = ["python rust golang", "java", "the kotlin with swift"]
        assert Bm25Encoder.corpus_avg_len(texts) == pytest.approx((3 + 1 + 2) / 3)

    def test_floor_is_one_when_corpus_is_only_stopwords(self) -> None:
        assert Bm25Encoder.corpus_avg_len(["the", "with the"]) == 1.0

    def test_accepts_a_generator(self) -> None:
        texts: Iterator[str] = (t for t in ["python rust", "java scala"])
        assert Bm25Encoder.corpus_avg_len(texts) == 2.0


class TestEncodeDocument:
    def test_weight_is_bm25_term_saturation_with_length_norm(self) -> None:
        # tf=2, doc length 3, avg_len 4: w = tf (k1+1) / (tf + k1 (1 - b + b dl/avgdl))
        enc = Bm25Encoder(avg_len=4.0)
        vec = enc.encode_document("python python rust")
        tf = enc.term_frequencies("python python rust")
        norm = BM25_K1 * (1 - BM25_B + BM25_B * 3 / 4.0)
        expected = {i: f * (BM25_K1 + 1) / (f + norm) for i, f in tf.items()}
        assert dict(zip(vec.indices, vec.values, strict=True)) == pytest.approx(expected, rel=1e-6)

    def test_longer_documents_weigh_a_term_less(self) -> None:
        enc = Bm25Encoder(avg_len=3.0)
        (short,) = enc.encode_document("python").values
        long = enc.encode_document("python rust golang java scala kotlin")
        (py,) = enc.encode_query("python").indices
        assert dict(zip(long.indices, long.values, strict=True))[py] < short

    def test_empty_text_is_an_empty_vector(self) -> None:
        assert len(Bm25Encoder().encode_document("")) == 0

    def test_encode_documents_maps_encode_document(self) -> None:
        enc = Bm25Encoder(avg_len=2.0)
        texts = ["python rust", "react react"]
        assert enc.encode_documents(texts) == [enc.encode_document(t) for t in texts]


class TestEncodeQuery:
    def test_weights_are_all_one(self) -> None:
        vec = Bm25Encoder().encode_query("senior python developer python django")
        assert len(vec) == 4
        assert vec.values == [1.0] * 4

    def test_terms_match_document_terms(self) -> None:
        enc = Bm25Encoder()
        q = enc.encode_query("Developers with Python")
        assert set(q.indices) == set(enc.term_frequencies("python developer"))

    def test_stopword_only_query_is_empty(self) -> None:
        assert len(Bm25Encoder().encode_query("the with")) == 0


class TestTermNames:
    def test_maps_term_ids_back_to_query_words(self) -> None:
        enc = Bm25Encoder()
        names = enc.term_names("React developers, the Python!")
        (react,) = enc.encode_query("react").indices
        (developer,) = enc.encode_query("developer").indices
        (python,) = enc.encode_query("python").indices
        assert names == {react: "react", developer: "developers", python: "python"}

    def test_covers_every_query_term(self) -> None:
        enc = Bm25Encoder()
        query = "machine-learning engineers in Berlin"
        assert set(enc.term_names(query)) == set(enc.encode_query(query).indices)

    def test_first_word_wins_for_a_shared_stem(self) -> None:
        enc = Bm25Encoder()
        assert list(enc.term_names("developers developer").values()) == ["developers"]


class TestParams:
    def test_defaults(self) -> None:
        enc = Bm25Encoder()
        assert (enc.k1, enc.b, enc.avg_len) == (1.2, 0.75, 256.0)

    @pytest.mark.parametrize(
        ("avg_len", "k1", "b", "message"),
        [
            (256.0, BM25_K1, 2.0, "b must be"),
            (256.0, BM25_K1, -0.1, "b must be"),
            (0.0, BM25_K1, BM25_B, "avg_doc_len must be"),
            (-1.0, BM25_K1, BM25_B, "avg_doc_len must be"),
            (math.nan, BM25_K1, BM25_B, "avg_len must not be NaN"),
            (256.0, -1.0, BM25_B, "k1 must be"),
        ],
    )
    def test_bad_params_raise_value_error(
        self, avg_len: float, k1: float, b: float, message: str
    ) -> None:
        # qdrant_edge.Bm25Config validates; Bm25Encoder lets its ValueError through.
        with pytest.raises(ValueError, match=message):
            Bm25Encoder(avg_len, k1=k1, b=b)


class TestTokenisation:
    def test_without_stemming_word_forms_are_apart(self) -> None:
        enc = Bm25Encoder(stemming=False)
        assert len(enc.term_frequencies("developer developers")) == 2
        assert len(Bm25Encoder().term_frequencies("developer developers")) == 1

    def test_without_stopwords_they_count(self) -> None:
        assert Bm25Encoder().term_frequencies(
            "the developer with"
        ) == Bm25Encoder().term_frequencies("developer")
        kept = Bm25Encoder(stopwords=False).term_frequencies("the developer with")
        assert len(kept) == 3


class TestEncodeFields:
    def test_unit_weights_equal_the_joined_text(self) -> None:
        enc = Bm25Encoder(avg_len=6.0)
        joined = enc.encode_document("Senior accountant\nreconciliations and audits, accountant")
        fielded = enc.encode_fields(
            [("Senior accountant", 1.0), ("reconciliations and audits, accountant", 1.0)]
        )
        assert fielded.indices == joined.indices
        assert fielded.values == pytest.approx(joined.values, rel=1e-6)

    def test_a_weight_of_two_counts_the_field_twice(self) -> None:
        enc = Bm25Encoder(avg_len=6.0)
        doubled = enc.encode_fields([("accountant", 2.0), ("audits", 1.0)])
        repeated = enc.encode_document("accountant accountant audits")
        assert doubled.indices == repeated.indices
        assert doubled.values == pytest.approx(repeated.values, rel=1e-6)
        assert enc.fields_length([("accountant", 2.0), ("audits", 1.0)]) == 3.0

    def test_zero_weight_drops_the_field(self) -> None:
        enc = Bm25Encoder(avg_len=6.0)
        dropped = enc.encode_fields([("accountant", 1.0), ("chef", 0.0)])
        alone = enc.encode_document("accountant")
        assert dropped.indices == alone.indices
        assert dropped.values == pytest.approx(alone.values, rel=1e-6)

    def test_titled_counts_the_title_weight_times(self) -> None:
        enc = Bm25Encoder(avg_len=6.0)
        titled = enc.encode_titled("Accountant\naudits", "Accountant", weight=3.0)
        repeated = enc.encode_document("accountant accountant accountant audits")
        assert titled.indices == repeated.indices
        assert titled.values == pytest.approx(repeated.values, rel=1e-6)
        assert enc.encode_titled("chef", "") == enc.encode_document("chef")
        with pytest.raises(ValueError, match="title weight"):
            enc.encode_titled("chef", "chef", weight=0.5)

    def test_negative_weight_is_refused(self) -> None:
        with pytest.raises(ValueError, match="field weight"):
            Bm25Encoder().encode_fields([("accountant", -1.0)])


# --- parity with rank-bm25 -----------------------------------------------------------

CORPUS: tuple[str, ...] = (
    "Python backend developer building REST APIs with Django and PostgreSQL",
    "Frontend developer: React, TypeScript and CSS; built a React design system",
    "Machine learning engineer, Python and PyTorch, trained image classifiers",
    "Data analyst writing SQL queries and Python notebooks, Tableau dashboards",
    "Graphic designer working in Figma and Illustrator on brand identities",
    "Rust systems programmer, embedded Linux drivers and firmware",
    "Mobile developer shipping Kotlin Android apps and a Swift iOS app",
    "DevOps engineer: Kubernetes, Docker, Terraform, CI pipelines on AWS",
    "Marketing intern running social media campaigns and writing blog posts",
    "Full-stack developer, Node.js and React, Python scripts for data cleaning",
    "Barista and weekend tutor in mathematics and physics for high school students",
    "Research assistant in natural language processing, Python, transformers, PyTorch",
)

QUERIES: tuple[str, ...] = (
    "python developer",
    "react",
    "machine learning pytorch",
    "data python sql dashboards",
    "designer",
    "kotlin swift mobile apps",
    "writing",
    "engineer python developer react",
)


class LuceneBM25(BM25Okapi):  # type: ignore[misc]  # rank_bm25 is untyped
    """rank-bm25's Okapi BM25 with Lucene's non-negative IDF, as Qdrant uses."""

    def _calc_idf(self, nd: dict[int, int]) -> None:
        for term, n in nd.items():
            self.idf[term] = math.log(1 + (self.corpus_size - n + 0.5) / (n + 0.5))


def _tokens(enc: Bm25Encoder, text: str) -> list[int]:
    """The document as the encoder tokenizes it: each term id repeated tf times."""
    return [term for term, tf in enc.term_frequencies(text).items() for _ in range(tf)]


@pytest.fixture(scope="module")
def parity(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EdgeStore, Bm25Encoder]]:
    enc = Bm25Encoder(avg_len=Bm25Encoder.corpus_avg_len(CORPUS))
    store = EdgeStore(Path(tmp_path_factory.mktemp("parity")) / "shard", schema=PROFILE_SCHEMA)
    store.ensure_collection(16)
    store.upsert(make_points(texts=dict(enumerate(CORPUS)), bm25=enc, dense=HashingEncoder(16)))
    yield store, enc
    store.close()


def _reference(enc: Bm25Encoder, query: str) -> dict[int, float]:
    ref = LuceneBM25([_tokens(enc, t) for t in CORPUS], k1=BM25_K1, b=BM25_B)
    scores: Sequence[float] = ref.get_scores(enc.encode_query(query).indices)
    return {i: float(s) for i, s in enumerate(scores) if s > 0}


def test_reference_avgdl_equals_encoder_avg_len() -> None:
    enc = Bm25Encoder(avg_len=Bm25Encoder.corpus_avg_len(CORPUS))
    ref = LuceneBM25([_tokens(enc, t) for t in CORPUS], k1=BM25_K1, b=BM25_B)
    assert ref.avgdl == pytest.approx(enc.avg_len)


@pytest.mark.parametrize("query", QUERIES)
def test_keyword_scores_match_rank_bm25(parity: tuple[EdgeStore, Bm25Encoder], query: str) -> None:
    """Store scores equal rank-bm25 (Lucene IDF, k1=1.2, b=0.75) on the same tokens.

    Checked empirically: the store's IDF uses N = number of points in the
    collection and n = points containing the term (the whole collection, not the
    filtered subset), which is what rank-bm25 computes over the same corpus.
    """
    store, enc = parity
    expected = _reference(enc, query)
    assert expected, "query must match something"
    result = store.search(
        dense=None,
        sparse=enc.encode_query(query),
        filters=FilterSpec(),
        limit=len(CORPUS),
        offset=0,
        candidates=len(CORPUS),
        fusion=FusionSpec(),
    )
    got = {h.id: h.score for h in result.page}
    assert got == pytest.approx(expected, rel=1e-3)
    # Ranking: every hit scores (in the reference) at least as high as the next,
    # up to float noise; exact ties may come in either order.
    ids = [h.id for h in result.page]
    for better, worse in zip(ids, ids[1:], strict=False):
        assert expected[better] >= expected[worse] - 1e-6 * expected[better], (query, ids)
