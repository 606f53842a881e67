"""The relevance harness on tiny fixtures, with the hashing encoder and Qdrant Edge."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchmarks.__main__ import app
from benchmarks.embcache import CachedEncoder
from benchmarks.relevance import (
    DEFAULT_GRID,
    Config,
    expand_query,
    format_record,
    load_beir,
    open_beir,
    open_lab,
    parse_config,
    rank,
    run_configs,
)
from benchmarks.variants import Variant
from indexers import Fusion, FusionSpec, Hit, Norm, SearchResult
from models import SearchMode

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
RESUMES = Path(__file__).parents[1] / "fixtures" / "resumes_small.csv"
LINE = re.compile(
    r"^mode=(keyword|semantic|hybrid)( fusion=\S+( \S+=\S+)*)?"
    r" nDCG@10=[01]\.\d{4} recall@100=[01]\.\d{4} MRR@10=[01]\.\d{4}( P@10=[01]\.\d{4})?$"
)


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


def _run(*args: str) -> tuple[int, list[str]]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, [ln for ln in result.output.splitlines() if ln.startswith("mode=")]


class TestLoad:
    def test_drops_queries_without_judgements(self, data_dir: Path) -> None:
        data = load_beir(data_dir)
        assert list(data.queries) == ["q1", "q2", "q3"]
        assert data.qrels["q3"] == {"d6": 2, "d5": 1}
        assert data.doc_ids == [d for d, _, _ in DOCS]
        assert data.doc_texts[1] == "Vitamin D\n" + DOCS[1][2]

    def test_limit_docs_keeps_judged_docs(self, data_dir: Path) -> None:
        data = load_beir(data_dir, limit_docs=1)
        assert data.doc_ids == ["d1", "d2", "d3", "d5", "d6"]  # corpus order kept

    def test_headerless_trec_qrels_are_read(self, data_dir: Path) -> None:
        (data_dir / "qrels" / "test.tsv").write_text("q1\t 0 d2\t1\nq3 0 \td6\t2\n")
        data = load_beir(data_dir, split="test")
        assert data.qrels == {"q1": {"d2": 1}, "q3": {"d6": 2}}

    def test_a_malformed_qrels_line_is_refused(self, data_dir: Path) -> None:
        (data_dir / "qrels" / "test.tsv").write_text("q1 d2 1\n")
        with pytest.raises(ValueError, match="qrels"):
            load_beir(data_dir, split="test")

    def test_missing_split_is_an_error(self, data_dir: Path) -> None:
        with pytest.raises(FileNotFoundError):
            load_beir(data_dir, split="test")


class TestConfigs:
    @pytest.mark.parametrize(
        ("text", "label"),
        [
            ("keyword", "mode=keyword"),
            ("mode=semantic", "mode=semantic"),
            ("rrf", "mode=hybrid fusion=rrf k=60 w=1:1"),
            ("rrf k=20 w=1:1.5", "mode=hybrid fusion=rrf k=20 w=1:1.5"),
            ("mode=hybrid fusion=dbsf w=2:1", "mode=hybrid fusion=dbsf w=2:1"),
            ("convex norm=tmm alpha=0.3", "mode=hybrid fusion=convex norm=tmm alpha=0.3"),
        ],
    )
    def test_parse_round_trips_the_printed_label(self, text: str, label: str) -> None:
        config = parse_config(text)
        assert config.label == label
        assert parse_config(label) == config

    @pytest.mark.parametrize(
        "text", ["", "bm25", "rrf k=0", "rrf w=0:0", "convex alpha=1.5", "rrf x=1", "keyword k=2"]
    )
    def test_bad_configurations_are_refused(self, text: str) -> None:
        with pytest.raises(ValueError):
            parse_config(text)

    def test_grid_holds_both_single_modes_and_every_fusion(self) -> None:
        assert DEFAULT_GRID[:2] == (Config(SearchMode.KEYWORD), Config(SearchMode.SEMANTIC))
        methods = {c.fusion.method for c in DEFAULT_GRID if c.fusion is not None}
        assert methods == set(Fusion)
        assert len({c.label for c in DEFAULT_GRID}) == len(DEFAULT_GRID)


class TestRun:
    def test_convex_endpoints_equal_the_single_retrievers(
        self, data_dir: Path, tmp_path: Path
    ) -> None:
        encoder = CachedEncoder("hashing", tmp_path / "cache")
        configs = [
            Config(SearchMode.KEYWORD),
            Config(SearchMode.SEMANTIC),
            Config(SearchMode.HYBRID, FusionSpec(Fusion.CONVEX, alpha=0.0)),
            Config(SearchMode.HYBRID, FusionSpec(Fusion.CONVEX, alpha=1.0, norm=Norm.TMM)),
        ]
        with open_beir(load_beir(data_dir), encoder, progress=False) as (rt, judged):
            kw, dense, only_kw, only_dense = run_configs(rt, judged, configs)
        assert kw.queries == 3
        assert kw.mrr_at_10 == 1.0  # each query's words are in its best document
        # alpha = 0: BM25 order first, then the dense-only points tied at 0 (by id).
        assert only_kw.mrr_at_10 == pytest.approx(kw.mrr_at_10)
        assert only_kw.ndcg_at_10 >= kw.ndcg_at_10
        assert only_dense.ndcg_at_10 == pytest.approx(dense.ndcg_at_10)
        assert only_dense.mrr_at_10 == pytest.approx(dense.mrr_at_10)

    def test_cli_lines_and_json_agree(self, data_dir: Path, tmp_path: Path) -> None:
        out = tmp_path / "out.json"
        args = ["relevance", "beir", "--data", str(data_dir), "--model", "hashing"]
        args += ["--cache-dir", str(tmp_path / "cache"), "--json", str(out)]
        args += ["--config", "keyword", "--config", "semantic", "--config", "rrf k=60 w=1:1"]
        code, lines = _run(*args)
        assert code == 0
        assert len(lines) == 3
        assert all(LINE.match(ln) for ln in lines), lines
        records = json.loads(out.read_text(encoding="utf-8"))
        assert [r["config"] for r in records] == [
            "mode=keyword",
            "mode=semantic",
            "mode=hybrid fusion=rrf k=60 w=1:1",
        ]
        assert [r["mode"] for r in records] == ["keyword", "semantic", "hybrid"]
        assert lines[0] == (
            f"mode=keyword nDCG@10={records[0]['ndcg_at_10']:.4f}"
            f" recall@100={records[0]['recall_at_100']:.4f} MRR@10={records[0]['mrr_at_10']:.4f}"
        )
        assert "p_at_10" not in records[0]

    def test_a_bad_config_fails_the_command(self, data_dir: Path, tmp_path: Path) -> None:
        code, lines = _run(
            "relevance", "beir", "--data", str(data_dir), "--model", "hashing",
            "--cache-dir", str(tmp_path / "cache"), "--config", "rrf k=0",
        )  # fmt: skip
        assert code != 0
        assert lines == []

    def test_resumes_report_precision(self, tmp_path: Path) -> None:
        out = tmp_path / "out.json"
        code, lines = _run(
            "relevance", "resumes", "--resumes", str(RESUMES), "--model", "hashing",
            "--cache-dir", str(tmp_path / "cache"), "--config", "keyword",
            "--config", "convex alpha=0.5", "--json", str(out),
        )  # fmt: skip
        assert code == 0
        assert len(lines) == 2
        assert all(LINE.match(ln) and " P@10=" in ln for ln in lines), lines
        records = json.loads(out.read_text(encoding="utf-8"))
        assert records[0]["queries"] == 3  # ACCOUNTANT, CHEF, INFORMATION-TECHNOLOGY
        # The empty fourth resume is skipped; "accountant" and "chef" find their one resume,
        # no resume says "information technology"; P@10 counts empty ranks as misses.
        assert records[0]["p_at_10"] == pytest.approx((1 + 1 + 0) / 30)
        assert records[0]["mrr_at_10"] == pytest.approx(2 / 3)


class TestCache:
    def test_second_run_embeds_nothing(self, data_dir: Path, tmp_path: Path) -> None:
        first = CachedEncoder("hashing", tmp_path / "cache")
        configs = [Config(SearchMode.SEMANTIC)]
        with open_beir(load_beir(data_dir), first, progress=False) as (rt, judged):
            before = run_configs(rt, judged, configs)
        # Each document's text and its title (weighted apart), and the 3 queries.
        assert first.misses == 2 * len(DOCS) + 3
        second = CachedEncoder("hashing", tmp_path / "cache")
        with open_beir(load_beir(data_dir), second, progress=False) as (rt, judged):
            after = run_configs(rt, judged, configs)
        assert second.misses == 0
        assert second.hits == 2 * len(DOCS) + 3
        assert format_record(after[0]) == format_record(before[0])

    def test_models_do_not_share_vectors(self, tmp_path: Path) -> None:
        CachedEncoder("hashing", tmp_path).encode_documents(["python developer"])
        other = CachedEncoder("some/other-model", tmp_path)
        assert other.dir != CachedEncoder("hashing", tmp_path).dir
        assert not other._vectors


def test_query_expansion_appends_aliases_of_named_skills_only() -> None:
    assert expand_query("javascript developer").startswith("javascript developer js ")
    assert expand_query("accountant") == "accountant"


def test_a_boosts_config_parses_and_labels_itself() -> None:
    config = parse_config("dbsf w=1:2 boosts")
    assert config.boosts and config.fusion is not None
    assert config.label.endswith(" boosts")
    assert parse_config(config.label) == config
    assert not parse_config("dbsf w=1:2").boosts


def test_boosts_reorder_the_fused_list_by_the_payloads() -> None:
    result = SearchResult(
        dense=[Hit(id=1, score=0.90), Hit(id=2, score=0.89)],
        keyword=[Hit(id=2, score=5.0), Hit(id=1, score=5.0)],
    )
    fusion = FusionSpec(Fusion.RRF, rrf_k=60)
    plain = rank(result, Config(SearchMode.HYBRID, fusion))
    assert plain == [1, 2]  # a tie broken by the dense list's order
    boosted = rank(
        result, Config(SearchMode.HYBRID, fusion, boosts=True), {2: {"strength": 100}}, now=1
    )
    assert boosted == [2, 1]


class TestVariants:
    @pytest.mark.parametrize(
        "text",
        [
            "keyword k1=0.9 b=0.4",
            "keyword stem=off stop=off",
            "mode=hybrid fusion=dbsf w=1:2 title=2 rm3=10:10:0.5 rocchio=5:0.5 depth=50",
            "semantic maxsim=sections+doc",
            "keyword skills=3 experience=0.5 clean",
            "keyword lab",
        ],
    )
    def test_parse_round_trips_the_printed_label(self, text: str) -> None:
        config = parse_config(text)
        assert config.variant != Variant()
        assert parse_config(config.label) == config
        assert config.label.split()[-1] == text.split()[-1]

    @pytest.mark.parametrize(
        "text",
        ["keyword rm3=10", "keyword maxsim=tokens", "keyword depth=0", "keyword stem=maybe",
         "keyword rrf=3", "semantic k=60"],
    )  # fmt: skip
    def test_bad_variants_are_refused(self, text: str) -> None:
        with pytest.raises(ValueError):
            parse_config(text)

    def test_the_lab_reproduces_the_service_lists(self, data_dir: Path, tmp_path: Path) -> None:
        encoder = CachedEncoder("hashing", tmp_path / "cache")
        texts = ["keyword", "semantic", "dbsf w=1:2", "rrf k=60"]
        configs = [parse_config(t) for t in texts] + [parse_config(f"{t} lab") for t in texts]
        with open_beir(load_beir(data_dir), encoder, progress=False) as (rt, judged):
            records = run_configs(rt, judged, configs)
        service, lab = records[: len(texts)], records[len(texts) :]
        for a, b in zip(service, lab, strict=True):
            assert (a.ndcg_at_10, a.recall_at_100, a.mrr_at_10) == pytest.approx(
                (b.ndcg_at_10, b.recall_at_100, b.mrr_at_10)
            ), b.config

    def test_variants_change_the_keyword_ranking(self, data_dir: Path, tmp_path: Path) -> None:
        encoder = CachedEncoder("hashing", tmp_path / "cache")
        with open_beir(load_beir(data_dir), encoder, progress=False) as (rt, judged):
            lab = open_lab(rt, judged)
            queries = {"q": "vitamin"}
            keep = lab.retrieve(queries, Variant(lab=True), lambda r: r.keyword)["q"]
            no_title = lab.retrieve(
                queries, Variant(weights=(("title", 0.0),)), lambda r: r.keyword
            )
            result = no_title["q"]
            shallow = lab.retrieve(queries, Variant(depth=2), lambda r: r.keyword)["q"]
        assert [h.id for h in keep.keyword] == [1]  # "Vitamin D": title and text
        assert [h.id for h in result.keyword] == [1]  # still in its text
        assert result.keyword[0].score < keep.keyword[0].score
        assert len(shallow.dense) == 2

    def test_rm3_adds_feedback_terms(self, data_dir: Path, tmp_path: Path) -> None:
        encoder = CachedEncoder("hashing", tmp_path / "cache")
        with open_beir(load_beir(data_dir), encoder, progress=False) as (rt, judged):
            lab = open_lab(rt, judged)
            rm3 = Variant(rm3=(1, 10, 0.5))
            got = lab.retrieve({"q": "telomere"}, rm3, lambda r: r.keyword)["q"]
        # The feedback document's other words ("mortality", ...) match nothing new here,
        # but the expanded query still ranks the telomere abstract first.
        assert got.keyword[0].id == 5

    def test_resumes_maxsim_reports_its_cost(self, tmp_path: Path) -> None:
        out = tmp_path / "out.json"
        code, lines = _run(
            "relevance", "resumes", "--resumes", str(RESUMES), "--model", "hashing",
            "--cache-dir", str(tmp_path / "cache"), "--config", "semantic",
            "--config", "semantic maxsim=sections", "--config", "keyword skills=2 clean",
            "--json", str(out),
        )  # fmt: skip
        assert code == 0, lines
        records = json.loads(out.read_text(encoding="utf-8"))
        assert [r["config"] for r in records][1:] == [
            "mode=semantic maxsim=sections",
            "mode=keyword skills=2 clean",
        ]
        # Sections of the fixture resumes: title + summary + skills (+ highlights...).
        assert float(records[1]["extra"]["vectors/doc"]) >= 3.0
        assert records[2]["p_at_10"] == pytest.approx((1 + 1 + 0) / 30)
