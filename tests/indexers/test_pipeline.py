"""The indexing pipeline: encode, upsert, and reuse stored vectors of unchanged texts."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from indexers import (
    BM25_B,
    BM25_K1,
    BM25_TITLE_WEIGHT,
    TITLE_WEIGHT,
    Bm25Encoder,
    FilterSpec,
    FusionSpec,
    HashingEncoder,
    Indexer,
    IndexPoint,
    IndexReport,
    ProfileDocument,
    VectorStore,
    build_document,
    dense_recipe,
    embed_documents,
    text_hash,
)
from tests.indexers.factories import DIM, LOCAL_QDRANT_PAYLOAD_INDEX_WARNING, make_rows

pytestmark = LOCAL_QDRANT_PAYLOAD_INDEX_WARNING

HEADLINES: dict[int, str] = {
    1: "Python backend developer",
    2: "React frontend developer",
    3: "Graphic designer using Figma",
    4: "Rust systems programmer",
    5: "Data analyst with SQL",
}


def _docs(headlines: dict[int, str] | None = None) -> list[ProfileDocument]:
    return [
        build_document(make_rows(user_id=uid, headline=text, skills=["teamwork"]))
        for uid, text in (headlines or HEADLINES).items()
    ]


_AVG_LEN = Bm25Encoder.corpus_avg_len(HEADLINES.values())


def _indexer(
    store: VectorStore,
    encoder: HashingEncoder | None = None,
    *,
    batch_size: int = 2,
    avg_len: float = _AVG_LEN,
) -> Indexer:
    store.ensure_collection(DIM)
    return Indexer(
        store, encoder or HashingEncoder(DIM), Bm25Encoder(avg_len=avg_len), batch_size=batch_size
    )


def test_index_upserts_every_document(store: VectorStore) -> None:
    report = _indexer(store).index(_docs())
    assert store.count() == len(HEADLINES)
    assert (report.indexed, report.embedded, report.reused) == (5, 5, 0)
    assert report.seconds >= 0.0


def test_indexed_documents_are_searchable(store: VectorStore) -> None:
    indexer = _indexer(store)
    indexer.index(_docs())
    result = store.search(
        dense=None,
        sparse=indexer.bm25.encode_query("figma"),
        filters=FilterSpec(),
        limit=5,
        offset=0,
        candidates=5,
        fusion=FusionSpec(),
    )
    assert [h.id for h in result.page] == [3]


def test_stored_vectors_are_the_text_and_title_embedding(store: VectorStore) -> None:
    encoder = HashingEncoder(DIM)
    docs = _docs()
    _indexer(store, encoder).index(docs)
    stored = store.dense_vectors([d.user_id for d in docs])
    expected = embed_documents(encoder, [d.text for d in docs], [d.title for d in docs])
    for row, doc in enumerate(docs):
        np.testing.assert_allclose(stored[doc.user_id], expected[row], rtol=1e-5, atol=1e-6)


def test_payload_gets_the_model_name(store: VectorStore) -> None:
    docs = _docs()
    _indexer(store).index(docs)
    payloads = store.payloads([d.user_id for d in docs])
    for doc in docs:
        assert payloads[doc.user_id] == {
            **doc.payload,
            "model": f"hashing-{DIM}|title={TITLE_WEIGHT}",
            "title_hash": text_hash(doc.title),
            "bm25": f"k1={BM25_K1} b={BM25_B} avg_len={_AVG_LEN!r} english"
            f" title={BM25_TITLE_WEIGHT}",
        }


def test_a_title_word_weighs_more_in_bm25_than_the_same_word_in_the_text(
    store: VectorStore,
) -> None:
    """BM25F (:data:`indexers.BM25_TITLE_WEIGHT`): the title is the text's first line
    and counts again. Both texts are three words long and hold the word once, so
    plain BM25 would weigh it the same in both."""
    bm25 = Bm25Encoder(avg_len=_AVG_LEN)
    titled = ProfileDocument(
        user_id=1,
        text="Accountant\nbudgets audits",
        title="Accountant",
        payload={"text_hash": "a", "updated_at": 0},
        version=0,
    )
    body = ProfileDocument(
        user_id=2,
        text="Clerk\naccountant audits",
        title="Clerk",
        payload={"text_hash": "b", "updated_at": 0},
        version=0,
    )
    store.ensure_collection(DIM)
    Indexer(store, HashingEncoder(DIM), bm25).index([titled, body])
    (term,) = bm25.encode_query("accountant").indices
    one = bm25.encode_titled(titled.text, titled.title)
    two = bm25.encode_titled(body.text, body.title)
    w1 = dict(zip(one.indices, one.values, strict=True))[term]
    w2 = dict(zip(two.indices, two.values, strict=True))[term]
    assert w1 > w2
    ranked = store.search(
        dense=None,
        sparse=bm25.encode_query("accountant"),
        filters=FilterSpec(),
        limit=2,
        offset=0,
        candidates=2,
        fusion=FusionSpec(),
    )
    assert [h.id for h in ranked.page] == [1, 2]


def test_reindexing_unchanged_texts_reuses_stored_vectors(store: VectorStore) -> None:
    encoder = HashingEncoder(DIM)
    indexer = _indexer(store, encoder)
    indexer.index(_docs())
    before = store.dense_vectors(list(HEADLINES))
    report = indexer.index(_docs())
    assert (report.indexed, report.embedded, report.reused) == (5, 0, 5)
    assert report.untouched == 5
    assert store.count() == len(HEADLINES)
    after = store.dense_vectors(list(HEADLINES))
    for uid in HEADLINES:
        # Cosine stores normalise on insert, so a re-upserted vector may move by an ulp.
        np.testing.assert_allclose(after[uid], before[uid], rtol=1e-6, atol=1e-7)


def test_changed_text_is_re_embedded(store: VectorStore) -> None:
    encoder = HashingEncoder(DIM)
    indexer = _indexer(store, encoder)
    indexer.index(_docs())
    changed = {**HEADLINES, 4: "Kotlin mobile developer"}
    report = indexer.index(_docs(changed))
    assert (report.embedded, report.reused) == (1, 4)
    doc = _docs(changed)[3]
    np.testing.assert_allclose(
        store.dense_vectors([4])[4],
        embed_documents(encoder, [doc.text], [doc.title])[0],
        rtol=1e-5,
        atol=1e-6,
    )
    assert store.payloads([4])[4]["text_hash"] == _docs(changed)[3].payload["text_hash"]


def test_payload_only_change_is_reused_but_stored(store: VectorStore) -> None:
    indexer = _indexer(store)
    indexer.index(_docs())
    doc = build_document(
        make_rows(user_id=2, headline=HEADLINES[2], skills=["teamwork"], availability="weekends")
    )
    report = indexer.index([doc])
    assert (report.embedded, report.reused, report.untouched) == (0, 1, 0)
    assert store.payloads([2])[2]["availability"] == "weekends"


def test_unchanged_points_are_not_rewritten(store: VectorStore) -> None:
    indexer = _indexer(store)
    indexer.index(_docs())
    written: list[int] = []
    upsert = store.upsert

    def spy(points: Sequence[IndexPoint]) -> None:
        written.extend(p.id for p in points)
        upsert(points)

    store.upsert = spy  # type: ignore[method-assign]
    changed = {**HEADLINES, 3: "Graphic designer using Illustrator"}
    report = indexer.index(_docs(changed))
    assert written == [3]
    assert (report.indexed, report.embedded, report.reused, report.untouched) == (5, 1, 4, 4)


def test_new_bm25_statistics_rewrite_sparse_vectors_but_reuse_dense(
    store: VectorStore,
) -> None:
    _indexer(store).index(_docs())
    query = Bm25Encoder(avg_len=_AVG_LEN).encode_query("developer")
    args = {"filters": FilterSpec(), "limit": 5, "offset": 0, "candidates": 5}
    before = store.search(dense=None, sparse=query, fusion=FusionSpec(), **args)  # type: ignore[arg-type]
    report = _indexer(store, avg_len=_AVG_LEN * 4).index(_docs())
    assert (report.embedded, report.reused, report.untouched) == (0, 5, 0)
    after = store.search(dense=None, sparse=query, fusion=FusionSpec(), **args)  # type: ignore[arg-type]
    assert before.page and [h.score for h in after.page] != [h.score for h in before.page]


def _titled(uid: int, text: str, title: str) -> ProfileDocument:
    return ProfileDocument(
        user_id=uid,
        text=text,
        payload={"updated_at": 1, "text_hash": text_hash(text)},
        title=title,
        version=1,
    )


def test_same_text_with_another_title_is_re_embedded(store: VectorStore) -> None:
    encoder = HashingEncoder(DIM)
    indexer = _indexer(store, encoder)
    indexer.index([_titled(1, "Python backend developer", "Python backend developer")])
    # The headline moved into the bio: same text, no title, another vector.
    report = indexer.index([_titled(1, "Python backend developer", "")])
    assert (report.embedded, report.reused) == (1, 0)
    np.testing.assert_allclose(
        store.dense_vectors([1])[1],
        encoder.encode_documents(["Python backend developer"])[0],
        rtol=1e-5,
        atol=1e-6,
    )


def test_point_without_title_hash_is_re_embedded(store: VectorStore) -> None:
    indexer = _indexer(store)
    doc = _docs()[0]
    indexer.index([doc])
    payload = {**store.payloads([doc.user_id])[doc.user_id]}
    del payload["title_hash"]
    vector = store.dense_vectors([doc.user_id])[doc.user_id]
    store.upsert(
        [
            IndexPoint(
                id=doc.user_id,
                dense=vector,
                sparse=indexer.bm25.encode_document(doc.text),
                payload=payload,
            )
        ]
    )
    report = indexer.index([doc])
    assert (report.embedded, report.reused) == (1, 0)


def test_another_model_re_embeds_everything(store: VectorStore) -> None:
    _indexer(store, HashingEncoder(DIM)).index(_docs())
    # Same dim, different model name: stored vectors must not be reused.
    other_name = "hashing-other"
    indexer = _indexer(store, _Renamed(other_name))
    report = indexer.index(_docs())
    assert (report.embedded, report.reused) == (5, 0)
    recipe = dense_recipe(_Renamed(other_name))
    assert {p["model"] for p in store.payloads(list(HEADLINES)).values()} == {recipe}


def test_another_title_weight_re_embeds_everything(
    store: VectorStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    _indexer(store).index(_docs())
    monkeypatch.setattr("indexers.embedding.TITLE_WEIGHT", 0.25)
    report = _indexer(store).index(_docs())
    assert (report.embedded, report.reused) == (5, 0)


class _Renamed(HashingEncoder):
    """A hashing encoder reporting another model name."""

    def __init__(self, name: str) -> None:
        super().__init__(DIM)
        self._name = name

    @property
    def name(self) -> str:
        return self._name


def test_batches_cover_every_document(store: VectorStore) -> None:
    encoder = HashingEncoder(DIM)
    report = _indexer(store, encoder, batch_size=2).index(_docs())
    assert report.indexed == 5
    assert encoder.calls == 3  # batches of 2, 2 and 1


def test_empty_input_indexes_nothing(store: VectorStore) -> None:
    report = _indexer(store).index([])
    assert (report.indexed, report.embedded, report.reused) == (0, 0, 0)
    assert store.count() == 0


@pytest.mark.parametrize("batch_size", [0, -1])
def test_non_positive_batch_size_raises(store: VectorStore, batch_size: int) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        Indexer(store, HashingEncoder(DIM), Bm25Encoder(), batch_size=batch_size)


def test_report_per_second() -> None:
    assert IndexReport(indexed=10, seconds=2.0).per_second == 5.0
    assert IndexReport(indexed=10, seconds=0.0).per_second == 0.0
