"""The recommendation benchmark end to end on small fixture CSVs, with the hashing encoder.

The fixtures are separable by construction: each category's resumes and postings share
words no other category uses (``tests/fixtures/resumes_recommend.csv``,
``jobs_recommend.csv``), except one accountant whose resume shares no word with the
accounting postings, so the owner's judged top 10 leaves something to find.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchmarks.__main__ import app
from benchmarks.recommend import (
    MANIFEST,
    RANKERS,
    SIMILAR_MODES,
    Corpus,
    RecommendReport,
    build_corpus,
    check_manifest,
    format_report,
    run_recommend,
)
from search_service.entities import ENTITIES
from search_service.gigs.interactions import decisions_for_gig
from search_service.runtime import Runtime
from search_service.settings import EmbeddingSettings, QdrantSettings, Settings
from tests.conftest import RESUMES_CSV, SHARED_DATA

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RESUMES = FIXTURES / "resumes_recommend.csv"
JOBS = FIXTURES / "jobs_recommend.csv"
REAL_JOBS = SHARED_DATA / "jobs" / "linkedin_jobs_2023_sample.csv"

STUDENTS = 30  # 8 CHEF, 12 INFORMATION-TECHNOLOGY, 8 ACCOUNTANT, 2 TEACHER
MAPPED = 12  # 4 postings each for CHEF, INFORMATION-TECHNOLOGY, ACCOUNTANT
POSTINGS = 15  # and 3 that map to no category


def _runtime(var: Path) -> Runtime:
    return Runtime.open(
        Settings(
            data_dir=var,
            database_url=f"sqlite:///{var / 'gigsy.db'}",
            qdrant=QdrantSettings(url=None),
            embedding=EmbeddingSettings(model="hashing"),
        ),
        entities=ENTITIES,
    )


@pytest.fixture(scope="module")
def rt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    runtime = _runtime(tmp_path_factory.mktemp("recommend") / "var")
    yield runtime
    runtime.close()


@pytest.fixture(scope="module")
def corpus(rt: Runtime) -> Corpus:
    return build_corpus(rt, RESUMES, JOBS, progress=False)


@pytest.fixture(scope="module")
def report(rt: Runtime, corpus: Corpus) -> RecommendReport:
    return run_recommend(rt, corpus, k=10, feedback_gigs=MAPPED, progress=False)


def _task(report: RecommendReport, name: str) -> dict[str, float]:
    task = next(t for t in report.tasks if t.name == name)
    return {label: m.p for label, m in task.modes.items()}


class TestCorpus:
    def test_every_resume_is_a_student_and_only_clear_postings_are_labelled(
        self, corpus: Corpus
    ) -> None:
        assert len(corpus.student_category) == STUDENTS
        assert len(corpus.gigs) == POSTINGS
        assert len(corpus.gig_category) == MAPPED
        assert sorted(set(corpus.gig_category.values())) == [
            "ACCOUNTANT",
            "CHEF",
            "INFORMATION-TECHNOLOGY",
        ]
        assert corpus.embedded == STUDENTS + POSTINGS

    def test_a_second_build_on_the_same_data_embeds_nothing(
        self, rt: Runtime, corpus: Corpus
    ) -> None:
        again = build_corpus(rt, RESUMES, JOBS, progress=False)
        assert again.embedded == 0
        assert again.student_category == corpus.student_category
        assert again.gig_category == corpus.gig_category

    def test_sample_keeps_n_of_each_and_is_seeded(self, tmp_path: Path) -> None:
        picked = []
        for run in ("a", "b"):
            runtime = _runtime(tmp_path / run)
            try:
                picked.append(build_corpus(runtime, RESUMES, JOBS, sample=5, progress=False))
            finally:
                runtime.close()
        assert len(picked[0].student_category) == len(picked[0].gigs) == 5
        assert sorted(picked[0].student_category.values()) == sorted(
            picked[1].student_category.values()
        )


class TestReport:
    def test_one_table_per_task_with_every_ranker(self, report: RecommendReport) -> None:
        assert [t.name for t in report.tasks] == [
            "candidates",
            "recommended gigs",
            "similar profiles",
        ]
        ranked = [label for label, _, _ in RANKERS]
        assert list(report.tasks[0].modes) == ranked
        assert list(report.tasks[1].modes) == ranked
        assert list(report.tasks[2].modes) == [label for label, _ in SIMILAR_MODES]
        # Every mapped posting; every student whose category has a posting (not the
        # teachers); every student with another of their category.
        assert [t.queries for t in report.tasks] == [MAPPED, STUDENTS - 2, STUDENTS]
        for task in report.tasks:
            for m in task.modes.values():
                assert 0.0 <= m.p <= task.max_p + 1e-9
                assert 0.0 <= m.ndcg <= 1.0 and 0.0 <= m.mrr <= 1.0
                assert len(m.ms) == task.queries
                assert 0.0 < m.p50 <= m.p95

    def test_best_achievable_precision_counts_the_relevant_items(
        self, report: RecommendReport
    ) -> None:
        candidates, gigs, similar = report.tasks
        # 8, 12 and 8 students for the four postings of each category.
        assert candidates.max_p == pytest.approx((4 * 0.8 + 4 * 1.0 + 4 * 0.8) / 12)
        assert gigs.max_p == pytest.approx(0.4)  # four postings per category
        # Others of the same category: 7, 11 (capped at 10), 7 and 1.
        assert similar.max_p == pytest.approx((8 * 0.7 + 12 * 1.0 + 8 * 0.7 + 2 * 0.1) / 30)

    def test_separable_categories_rank_the_relevant_items_first(
        self, report: RecommendReport
    ) -> None:
        # Only the accountant without accounting words escapes BM25, at one of
        # twelve postings' worth of its category (4 postings x 1 student).
        candidates = _task(report, "candidates")
        assert candidates["keyword (BM25)"] == pytest.approx((4 * 0.8 + 4 * 1.0 + 4 * 0.7) / 12)
        assert candidates["hybrid"] >= candidates["keyword (BM25)"] - 1e-9
        # Every student but that accountant finds the four postings of their category.
        gigs = _task(report, "recommended gigs")
        assert gigs["keyword (BM25)"] == pytest.approx((STUDENTS - 3) * 0.4 / (STUDENTS - 2))
        assert gigs["hybrid"] >= gigs["keyword (BM25)"] - 1e-9
        similar = _task(report, "similar profiles")
        assert similar["keyword (BM25)"] > 0.5

    def test_feedback_drops_rejected_students_and_is_undone(
        self, rt: Runtime, report: RecommendReport
    ) -> None:
        fb = report.feedback
        assert fb.gigs >= 1
        assert fb.rejected > 0 and fb.shortlisted > 0
        assert fb.shortlisted + fb.rejected == 10 * fb.gigs
        assert fb.rejected_returned == 0
        assert len(fb.with_feedback.ms) == len(fb.without.ms) == fb.gigs
        with rt.session() as session:
            assert all(not decisions_for_gig(session, g) for g in report.corpus.gigs)

    def test_text_report_names_every_number(self, report: RecommendReport) -> None:
        text = format_report(report)
        assert f"{STUDENTS} students, {POSTINGS} gigs ({MAPPED} mapped to 3 categories)" in text
        assert "candidates: 12 queries, best achievable P@10 0.867" in text
        assert "rejected students returned with feedback: 0" in text
        assert text.count("p95 ms") == 4


class TestManifest:
    def test_an_empty_or_missing_dir_is_taken_and_marked(self, tmp_path: Path) -> None:
        check_manifest(tmp_path / "new", {"sample": 5})
        assert (tmp_path / "new" / MANIFEST).is_file()
        check_manifest(tmp_path / "new", {"sample": 5})  # same inputs: reused

    def test_other_inputs_or_foreign_data_are_refused(self, tmp_path: Path) -> None:
        check_manifest(tmp_path / "mine", {"sample": 5})
        with pytest.raises(ValueError, match="other inputs"):
            check_manifest(tmp_path / "mine", {"sample": 6})
        (tmp_path / "foreign").mkdir()
        (tmp_path / "foreign" / "gigsy.db").write_bytes(b"")
        with pytest.raises(ValueError, match="not built by this benchmark"):
            check_manifest(tmp_path / "foreign", {"sample": 5})


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(app, ["recommend", "--model", "hashing", "--no-progress", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_command_runs_the_whole_benchmark(tmp_path: Path) -> None:
    out = _invoke("--resumes", str(RESUMES), "--jobs", str(JOBS), "--data-dir", str(tmp_path / "v"))
    assert f"{STUDENTS} students, {POSTINGS} gigs" in out
    for heading in ("candidates:", "recommended gigs:", "similar profiles:", "feedback:"):
        assert heading in out
    refused = CliRunner().invoke(
        app,
        ["recommend", "--resumes", str(RESUMES), "--jobs", str(JOBS), "--model", "hashing"]
        + ["--data-dir", str(tmp_path / "v"), "--seed", "1"],
    )
    assert refused.exit_code == 2
    assert "other inputs" in refused.output


@pytest.mark.realdata
def test_command_on_a_sample_of_the_real_data(tmp_path: Path) -> None:
    if not (RESUMES_CSV.is_file() and REAL_JOBS.is_file()):
        pytest.skip(f"real data not found under {SHARED_DATA} (needs ../shared/data)")
    out = _invoke(
        "--resumes",
        str(RESUMES_CSV),
        "--jobs",
        str(REAL_JOBS),
        "--sample",
        "40",
        "--feedback-gigs",
        "5",
        "--data-dir",
        str(tmp_path / "v"),
    )
    assert "40 students, 40 gigs" in out
    assert "rejected students returned with feedback: 0" in out
