"""The SciFact harness on a tiny BEIR-format fixture, with the hashing encoder and Edge."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.scifact import MODES, format_report, load_scifact, run_benchmark, run_scifact
from indexers import PROFILE_SCHEMA, HashingEncoder, VectorStore, open_store

DOCS = [
    ("d1", "Cerebral white matter", "Diffusion tensor imaging of newborn cerebral white matter."),
    ("d2", "Vitamin D", "Vitamin D supplementation lowers fracture risk in elderly women."),
    ("d3", "Statins", "Statin therapy reduces cardiovascular events in diabetic patients."),
    ("d4", "Malaria vaccines", "A malaria vaccine protects children in Africa."),
    ("d5", "Gut microbiome", "The gut microbiome shapes immune responses in mice."),
    ("d6", "Telomeres", "Telomere length predicts mortality in older adults."),
    ("d7", "Sleep", "Sleep deprivation impairs memory consolidation."),
]
QUERIES = [
    ("q1", "Vitamin D supplementation lowers fracture risk."),
    ("q2", "Statin therapy reduces cardiovascular events."),
    ("q3", "Telomere length predicts mortality."),
    ("q4", "Sleep deprivation impairs memory."),  # no judgement: dropped
]
QRELS = [("q1", "d2", 1), ("q2", "d3", 1), ("q3", "d6", 2), ("q3", "d5", 1)]


def _write_beir(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    with (root / "corpus.jsonl").open("w", encoding="utf-8") as fh:
        for doc_id, title, text in DOCS:
            fh.write(json.dumps({"_id": doc_id, "title": title, "text": text}) + "\n")
    with (root / "queries.jsonl").open("w", encoding="utf-8") as fh:
        for qid, text in QUERIES:
            fh.write(json.dumps({"_id": qid, "text": text, "metadata": {}}) + "\n")
    (root / "qrels").mkdir(exist_ok=True)
    lines = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t{s}" for q, d, s in QRELS]
    (root / "qrels" / "train.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return _write_beir(tmp_path / "scifact")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[VectorStore]:
    st = open_store(path=tmp_path / "index", collection="scifact", schema=PROFILE_SCHEMA)
    yield st
    st.close()


class TestLoad:
    def test_drops_queries_without_judgements(self, data_dir: Path) -> None:
        data = load_scifact(data_dir)
        assert list(data.queries) == ["q1", "q2", "q3"]
        assert data.qrels["q3"] == {"d6": 2, "d5": 1}
        assert data.doc_ids == [d for d, _, _ in DOCS]
        assert data.doc_texts[1] == "Vitamin D\n" + DOCS[1][2]

    def test_limit_docs_keeps_judged_docs(self, data_dir: Path) -> None:
        data = load_scifact(data_dir, limit_docs=1)
        assert data.doc_ids == ["d1", "d2", "d3", "d5", "d6"]  # corpus order kept

    def test_limit_queries_keeps_only_their_judged_docs(self, data_dir: Path) -> None:
        data = load_scifact(data_dir, limit_docs=1, limit_queries=1)
        assert list(data.queries) == ["q1"]
        assert list(data.qrels) == ["q1"]
        assert data.doc_ids == ["d1", "d2"]


class TestRun:
    def test_every_mode_scores_within_unit_interval(
        self, data_dir: Path, store: VectorStore
    ) -> None:
        rep = run_scifact(load_scifact(data_dir), store=store, encoder=HashingEncoder(32))
        assert list(rep.mean) == list(MODES)
        assert rep.queries == 3
        assert rep.docs == len(DOCS)
        for mode, m in rep.mean.items():
            for value in (m.ndcg, m.recall, m.mrr):
                assert 0.0 <= value <= 1.0, mode
            assert m.ms >= 0.0

    def test_exact_words_in_one_relevant_doc_rank_it_first(
        self, data_dir: Path, store: VectorStore
    ) -> None:
        rep = run_scifact(load_scifact(data_dir), store=store, encoder=HashingEncoder(32))
        for mode in ("keyword", "rank-bm25"):
            assert rep.per_query[mode]["q1"].ndcg == pytest.approx(1.0), mode
            assert rep.per_query[mode]["q1"].mrr == 1.0
            assert rep.per_query[mode]["q2"].recall == 1.0

    def test_store_bm25_agrees_with_full_scan(self, data_dir: Path, store: VectorStore) -> None:
        rep = run_scifact(load_scifact(data_dir), store=store, encoder=HashingEncoder(32))
        assert rep.mean["keyword"].ndcg == pytest.approx(rep.mean["rank-bm25"].ndcg)

    def test_unchanged_index_is_not_re_embedded(self, data_dir: Path, store: VectorStore) -> None:
        encoder = HashingEncoder(32)
        data = load_scifact(data_dir)
        first = run_scifact(data, store=store, encoder=encoder)
        calls = encoder.calls
        second = run_scifact(data, store=store, encoder=encoder)
        assert first.index.indexed == len(DOCS)
        assert second.index.indexed == 0
        assert encoder.calls == calls
        assert second.mean["hybrid-rrf"].ndcg == pytest.approx(first.mean["hybrid-rrf"].ndcg)

    def test_smaller_corpus_drops_stale_points(self, data_dir: Path, store: VectorStore) -> None:
        encoder = HashingEncoder(32)
        run_scifact(load_scifact(data_dir), store=store, encoder=encoder)
        rep = run_scifact(load_scifact(data_dir, limit_docs=1), store=store, encoder=encoder)
        assert store.count() == rep.docs == 5

    def test_memory_store_and_report_text(self, data_dir: Path) -> None:
        rep = run_benchmark(data_dir=data_dir, model="hashing", store="memory", progress=False)
        text = format_report(rep, limited=True)
        assert rep.store == "ClientStore"
        for needle in (*MODES, "nDCG@10", "0.7175", "TEST split"):
            assert needle in text

    def test_index_dir_needs_edge(self, data_dir: Path, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="edge"):
            run_benchmark(data_dir=data_dir, store="memory", index_dir=tmp_path)
