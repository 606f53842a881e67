"""Relevance of recommendations on the real data, through the API's own ranking functions.

The LiveCareer resumes become students (:mod:`search_service.profiles.ingest`), the
LinkedIn postings open gigs (:mod:`search_service.gigs.ingest`), both indexed by the
normal index writer (:func:`search_service.refresh.writer.reindex`) in a fresh data
directory (SQLite + Qdrant Edge). Rankings come from
:mod:`search_service.search.recommend` itself: :func:`gig_candidates`,
:func:`recommended_gigs` and :func:`similar_profiles`.

Labels (:mod:`benchmarks.categories`): a resume's category is its CSV ``Category``; a
posting's is :func:`job_category` of its title, job function and industry, or none (the
posting is then left out). Tasks:

* ``candidates``: each mapped posting's gig ranks students; relevant = resumes of the
  posting's category;
* ``recommended gigs``: each resume whose category has a mapped posting ranks gigs;
  relevant = the mapped postings of its category (few categories have 10, so the
  best achievable P@10 is reported beside it);
* ``similar profiles``: each resume ranks other students; relevant = the other
  resumes of its category;
* ``feedback``: for a seeded sample of mapped postings, the owner judges the default
  top ``k`` (relevant students ``shortlisted``, the others ``rejected``, through
  :func:`search_service.gigs.feedback.decide_on_candidate`); the candidates are ranked
  again without feedback (``Rerank(feedback=False)``) and with it (Rocchio, rejected
  excluded), and each ranking is scored on what is left once the judged students are
  removed (the residual collection of Salton & Buckley, "Improving retrieval performance
  by relevance feedback", JASIS 1990; Manning, Raghavan & Schütze 2008, section 9.1.5),
  so that feedback gets no credit for students the owner has already seen. The decisions
  are cleared afterwards.

Metrics: P@k, nDCG@k (binary gains) and MRR@k (:mod:`benchmarks.metrics`), averaged
over queries that have at least one relevant item; latency is the wall time of each
ranking call (milliseconds, p50/p95).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from tqdm import tqdm

from benchmarks.categories import job_category
from benchmarks.metrics import mrr, ndcg_at_k, percentile, precision_at_k
from models import CandidateDecision, ProfileDraft, Role, SearchMode, User, UserDraft
from search_service.callers import GigManager
from search_service.gigs.feedback import clear_candidate_decision, decide_on_candidate
from search_service.gigs.ingest import GigImport, import_gigs, posting_gig
from search_service.gigs.jobs_csv import JobPosting, read_jobs
from search_service.gigs.repository import get_gig, gigs_by_external_ids, users_by_clerk_ids
from search_service.index.entity import GIG_ROWS, PROFILE_ROWS
from search_service.profiles.ingest import parse_resume, read_resumes, upsert_drafts
from search_service.refresh.writer import reindex
from search_service.runtime import Runtime
from search_service.search.recommend import (
    Rerank,
    gig_candidates,
    recommended_gigs,
    similar_profiles,
)
from search_service.users.repository import get_users

__all__ = [
    "MANIFEST",
    "RANKERS",
    "SIMILAR_MODES",
    "Corpus",
    "FeedbackResult",
    "ModeResult",
    "RecommendReport",
    "TaskResult",
    "build_corpus",
    "check_manifest",
    "format_report",
    "run_feedback",
    "run_recommend",
]

MANIFEST = "recommend-benchmark.json"
"""File in the data directory naming the inputs it was built from (see :func:`check_manifest`)."""

_PLAIN = Rerank(coverage=False, feedback=False, boosts=False)
RANKERS: tuple[tuple[str, SearchMode, Rerank], ...] = (
    ("hybrid", SearchMode.HYBRID, Rerank()),
    ("hybrid, no re-rank", SearchMode.HYBRID, _PLAIN),
    ("keyword (BM25)", SearchMode.KEYWORD, _PLAIN),
    ("semantic (dense)", SearchMode.SEMANTIC, _PLAIN),
)
"""Rows of the candidates and recommended-gigs tables: label, mode, re-ranking. The
first is what the API serves; the single retrievers are plain (no re-ranking)."""
SIMILAR_MODES: tuple[tuple[str, SearchMode], ...] = (
    ("semantic (default)", SearchMode.SEMANTIC),
    ("hybrid", SearchMode.HYBRID),
    ("keyword (BM25)", SearchMode.KEYWORD),
)
"""Rows of the similar-profiles table (that ranking has no re-ranking to switch off)."""
_OWNER_ROLES = frozenset({Role.EMPLOYER.value})


def _manager(owner: User) -> GigManager:
    """The gig's owner acting with an employer credential."""
    manager = GigManager.of(owner, _OWNER_ROLES)
    assert manager is not None
    return manager


@dataclass(slots=True)
class ModeResult:
    """One ranker's mean metrics over a task's queries, and its call latencies (ms)."""

    p: float = 0.0
    ndcg: float = 0.0
    mrr: float = 0.0
    ms: list[float] = field(default_factory=list)

    @property
    def p50(self) -> float:
        """Median call latency, ms (0 without calls)."""
        return percentile(self.ms, 50) if self.ms else 0.0

    @property
    def p95(self) -> float:
        """95th-percentile call latency, ms (0 without calls)."""
        return percentile(self.ms, 95) if self.ms else 0.0


@dataclass(slots=True)
class TaskResult:
    """One task: ``queries`` evaluated, each ranker's result, and the mean of
    min(k, relevant) / k over the queries (``max_p``: the best P@k any ranking can get)."""

    name: str
    queries: int = 0
    max_p: float = 0.0
    modes: dict[str, ModeResult] = field(default_factory=dict)


@dataclass(slots=True)
class FeedbackResult:
    """The feedback task: ``gigs`` judged, ``shortlisted``/``rejected`` decisions
    made, the residual rankings' means without and with feedback, and how many
    rejected students came back in the ranking with feedback (must be 0)."""

    gigs: int = 0
    shortlisted: int = 0
    rejected: int = 0
    without: ModeResult = field(default_factory=ModeResult)
    with_feedback: ModeResult = field(default_factory=ModeResult)
    rejected_returned: int = 0


@dataclass(frozen=True, slots=True)
class Corpus:
    """What was loaded, with its labels.

    Attributes:
        student_category: user id -> resume category, for every imported resume.
        gig_category: gig id -> category, for mapped postings only.
        gigs: gig ids of every imported posting.
        seconds: wall time of the import and indexing, seconds.
        embedded: documents embedded while indexing (0 when a reused directory was current).
    """

    student_category: dict[int, str]
    gig_category: dict[int, str]
    gigs: list[int]
    seconds: float
    embedded: int


@dataclass(slots=True)
class RecommendReport:
    """Outcome of :func:`run_recommend`: the model, ``k``, the corpus, one
    :class:`TaskResult` per ranking task and the :class:`FeedbackResult`."""

    model: str
    k: int
    corpus: Corpus
    tasks: list[TaskResult] = field(default_factory=list)
    feedback: FeedbackResult = field(default_factory=FeedbackResult)


def check_manifest(data_dir: Path, inputs: Mapping[str, object]) -> None:
    """Make ``data_dir`` fit to hold this run: empty (or missing), or built earlier
    from the same ``inputs`` (then its data is reused: the imports find it unchanged
    and the index writer reuses stored vectors). Writes the manifest.

    Raises:
        ValueError: ``data_dir`` holds something else.
    """
    path = data_dir / MANIFEST
    if path.is_file():
        found = json.loads(path.read_text(encoding="utf-8"))
        if found != dict(inputs):
            raise ValueError(f"{data_dir} was built from other inputs ({found}); use a fresh one")
    elif data_dir.exists() and any(data_dir.iterdir()):
        raise ValueError(f"{data_dir} is not empty and was not built by this benchmark")
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(inputs, sort_keys=True), encoding="utf-8")


_T = TypeVar("_T")


def _sampled(items: list[_T], n: int | None, rng: random.Random) -> list[_T]:
    if n is None or n >= len(items):
        return items
    keep = set(rng.sample(range(len(items)), n))
    return [x for i, x in enumerate(items) if i in keep]


def build_corpus(
    rt: Runtime,
    resumes: Path,
    jobs: Path,
    *,
    sample: int | None = None,
    seed: int = 42,
    progress: bool = True,
) -> Corpus:
    """Import resumes and postings through the project's importers and index both.

    Args:
        rt: a runtime on an empty (or same-input) data directory.
        resumes: LiveCareer CSV (``ID,Category,Resume_str``).
        jobs: LinkedIn job CSV.
        sample: keep a seeded random N resumes and N postings (``None``: all).
        seed: the sample's seed.
        progress: show tqdm bars.

    Raises:
        FileNotFoundError, ValueError: as the CSV readers raise them.
        EncoderError, VectorStoreError: as indexing raises them.
    """
    started = time.perf_counter()
    rng = random.Random(seed)
    drafts: list[tuple[UserDraft, ProfileDraft]] = []
    category: dict[str, str] = {}
    for row_id, cat, text in read_resumes(resumes):
        parsed = parse_resume(row_id, cat, text) if row_id else None
        if parsed is not None:
            drafts.append(parsed)
            category[parsed[0].clerk_id] = cat.strip().upper()
    drafts = _sampled(drafts, sample, rng)
    upsert_drafts(rt, drafts, desc="ingest resumes", progress=progress)
    postings: list[tuple[JobPosting, GigImport]] = []
    for posting in read_jobs(jobs):
        try:
            postings.append((posting, posting_gig(posting)))
        except ValueError:
            continue  # not a valid gig; `ingest-jobs` counts these as invalid
    postings = _sampled(postings, sample, rng)
    import_gigs(rt, [g for _, g in postings], desc="ingest jobs", progress=progress)
    embedded = reindex(rt, entities=[PROFILE_ROWS], progress=progress).embedded
    embedded += reindex(rt, entities=[GIG_ROWS], progress=progress).embedded
    with rt.session() as session:
        users = users_by_clerk_ids(session, [u.clerk_id for u, _ in drafts])
        gigs = gigs_by_external_ids(session, [g.external_id for _, g in postings])
        students = {u.id: category[clerk] for clerk, u in users.items() if u.id is not None}
        gig_category: dict[int, str] = {}
        gig_ids: list[int] = []
        for posting, item in postings:
            gig = gigs.get(item.external_id)
            if gig is None or gig.id is None:
                continue
            gig_ids.append(gig.id)
            mapped = job_category(posting.title, posting.job_function, posting.industry)
            if mapped is not None:
                gig_category[gig.id] = mapped
    return Corpus(
        student_category=students,
        gig_category=gig_category,
        gigs=sorted(gig_ids),
        seconds=time.perf_counter() - started,
        embedded=embedded,
    )


def _by_category(labels: dict[int, str]) -> dict[str, frozenset[int]]:
    out: dict[str, set[int]] = {}
    for item, cat in labels.items():
        out.setdefault(cat, set()).add(item)
    return {cat: frozenset(items) for cat, items in out.items()}


def _add(result: ModeResult, ranked: Sequence[int], relevant: frozenset[int], k: int) -> None:
    # The metrics hold sums over the queries until _mean divides them.
    result.p += precision_at_k(ranked, set(relevant), k)
    result.ndcg += ndcg_at_k(ranked, dict.fromkeys(relevant, 1.0), k)
    result.mrr += mrr(ranked, set(relevant), k)


def _mean(result: ModeResult, n: int) -> None:
    if n:
        result.p, result.ndcg, result.mrr = result.p / n, result.ndcg / n, result.mrr / n


_Ranking = Callable[[int, str], list[int]]
"""(query id, ranker label) -> ranked ids; runs one API ranking call."""


def _evaluate(
    name: str,
    queries: dict[int, frozenset[int]],
    labels: Sequence[str],
    rank: _Ranking,
    *,
    k: int,
    progress: bool,
) -> TaskResult:
    """Score ``rank`` for every query (relevant set given) and ranker label; the
    rankers take turns on each query so that machine load hits them alike."""
    task = TaskResult(name=name, modes={label: ModeResult() for label in labels})
    for qid, relevant in tqdm(queries.items(), desc=name, unit="query", disable=not progress):
        for label in labels:
            started = time.perf_counter()
            ranked = rank(qid, label)
            task.modes[label].ms.append((time.perf_counter() - started) * 1000.0)
            _add(task.modes[label], ranked, relevant, k)
        task.max_p += min(k, len(relevant)) / k
    task.queries = len(queries)
    for result in task.modes.values():
        _mean(result, task.queries)
    if task.queries:
        task.max_p /= task.queries
    return task


def _candidates_task(rt: Runtime, corpus: Corpus, k: int, progress: bool) -> TaskResult:
    students = _by_category(corpus.student_category)
    queries = {
        g: students[cat] for g, cat in sorted(corpus.gig_category.items()) if students.get(cat)
    }
    rankers = {label: (mode, rr) for label, mode, rr in RANKERS}

    def rank(gig_id: int, label: str) -> list[int]:
        mode, rr = rankers[label]
        with rt.session() as session:
            gig = get_gig(session, gig_id)
            assert gig is not None
            resp = gig_candidates(rt, session, gig, limit=k, mode=mode, rerank=rr)
        return [h.user_id for h in resp.results]

    return _evaluate("candidates", queries, list(rankers), rank, k=k, progress=progress)


def _gigs_task(rt: Runtime, corpus: Corpus, k: int, progress: bool) -> TaskResult:
    gigs = _by_category(corpus.gig_category)
    queries = {u: gigs[cat] for u, cat in sorted(corpus.student_category.items()) if gigs.get(cat)}
    rankers = {label: (mode, rr) for label, mode, rr in RANKERS}

    def rank(user_id: int, label: str) -> list[int]:
        mode, rr = rankers[label]
        with rt.session() as session:
            user = get_users(session, [user_id])[user_id]
            resp = recommended_gigs(rt, session, user, limit=k, mode=mode, rerank=rr)
        return [h.gig_id for h in resp.results]

    return _evaluate("recommended gigs", queries, list(rankers), rank, k=k, progress=progress)


def _similar_task(rt: Runtime, corpus: Corpus, k: int, progress: bool) -> TaskResult:
    students = _by_category(corpus.student_category)
    queries = {
        u: students[cat] - {u}
        for u, cat in sorted(corpus.student_category.items())
        if students[cat] - {u}
    }
    modes = dict(SIMILAR_MODES)

    def rank(user_id: int, label: str) -> list[int]:
        with rt.session() as session:
            resp = similar_profiles(rt, session, user_id, limit=k, mode=modes[label])
        return [h.user_id for h in resp.results] if resp is not None else []

    return _evaluate("similar profiles", queries, list(modes), rank, k=k, progress=progress)


def run_feedback(
    rt: Runtime,
    corpus: Corpus,
    *,
    k: int = 10,
    gigs: int = 200,
    seed: int = 42,
    progress: bool = True,
) -> FeedbackResult:
    """The feedback task (module docstring) on a seeded sample of ``gigs`` mapped postings.

    Per gig: the owner judges the default ranking's top ``k``; the residual rankings
    (judged students removed, the next ``k`` scored against the relevant students not
    judged) are taken without feedback and with it; the decisions are then cleared, so
    the data directory is left as it was. Gigs with no relevant student left are skipped.

    Raises:
        EncoderError, VectorStoreError: as the ranking raises them.
    """
    students = _by_category(corpus.student_category)
    mapped = [g for g, cat in sorted(corpus.gig_category.items()) if students.get(cat)]
    chosen = sorted(random.Random(seed).sample(mapped, min(gigs, len(mapped))))
    out = FeedbackResult()
    for gig_id in tqdm(chosen, desc="feedback", unit="gig", disable=not progress):
        relevant = students[corpus.gig_category[gig_id]]
        with rt.session() as session:
            gig = get_gig(session, gig_id)
            assert gig is not None
            owner_id = gig.owner_id
            judged = [h.user_id for h in gig_candidates(rt, session, gig, limit=k).results]
        residual = relevant - set(judged)
        if not residual:
            continue
        with rt.session() as session:
            owner = get_users(session, [owner_id])[owner_id]
            for uid in judged:
                verdict = (
                    CandidateDecision.SHORTLISTED if uid in relevant else CandidateDecision.REJECTED
                )
                decide_on_candidate(session, _manager(owner), gig_id, uid, verdict)
        rejected = {u for u in judged if u not in relevant}
        out.shortlisted += len(judged) - len(rejected)
        out.rejected += len(rejected)
        for result, rr in ((out.without, Rerank(feedback=False)), (out.with_feedback, Rerank())):
            with rt.session() as session:
                gig = get_gig(session, gig_id)
                assert gig is not None
                started = time.perf_counter()
                resp = gig_candidates(rt, session, gig, limit=2 * k, rerank=rr)
                result.ms.append((time.perf_counter() - started) * 1000.0)
            ranked = [h.user_id for h in resp.results]
            if result is out.with_feedback:
                out.rejected_returned += sum(1 for u in ranked if u in rejected)
            _add(result, [u for u in ranked if u not in judged], residual, k)
        with rt.session() as session:
            owner = get_users(session, [owner_id])[owner_id]
            for uid in judged:
                clear_candidate_decision(session, _manager(owner), gig_id, uid)
        out.gigs += 1
    _mean(out.without, out.gigs)
    _mean(out.with_feedback, out.gigs)
    return out


def run_recommend(
    rt: Runtime,
    corpus: Corpus,
    *,
    k: int = 10,
    feedback_gigs: int = 200,
    seed: int = 42,
    progress: bool = True,
) -> RecommendReport:
    """Score the three ranking tasks and the feedback task on ``corpus`` (module docstring).

    Raises:
        ValueError: ``k`` is not positive.
        EncoderError, VectorStoreError: as the ranking raises them.
    """
    if k <= 0:
        raise ValueError("k must be positive")
    report = RecommendReport(model=rt.encoder.name, k=k, corpus=corpus)
    for task in (_candidates_task, _gigs_task, _similar_task):
        report.tasks.append(task(rt, corpus, k, progress))
    report.feedback = run_feedback(
        rt, corpus, k=k, gigs=feedback_gigs, seed=seed, progress=progress
    )
    return report


def _row(label: str, m: ModeResult) -> str:
    return f"  {label:<22} {m.p:>6.3f} {m.ndcg:>8.3f} {m.mrr:>6.3f} {m.p50:>8.1f} {m.p95:>8.1f}"


def format_report(report: RecommendReport) -> str:
    """The report as plain-text tables: one per task (P@k, nDCG@k, MRR, latency
    p50/p95 in ms per ranker), then the feedback result."""
    c, k = report.corpus, report.k
    cats = len(set(c.gig_category.values()))
    p_at, ndcg_at = f"P@{k}", f"nDCG@{k}"
    head = f"  {'ranker':<22} {p_at:>6} {ndcg_at:>8} {'MRR':>6} {'p50 ms':>8} {'p95 ms':>8}"
    lines = [
        f"{len(c.student_category)} students, {len(c.gigs)} gigs ({len(c.gig_category)} mapped "
        f"to {cats} categories), model {report.model}, k={k}",
        f"import + index {c.seconds:.1f} s ({c.embedded} documents embedded)",
    ]
    for task in report.tasks:
        lines += [
            "",
            f"{task.name}: {task.queries} queries, best achievable P@{k} {task.max_p:.3f}",
        ]
        lines.append(head)
        lines += [_row(label, m) for label, m in task.modes.items()]
    fb = report.feedback
    lines += [
        "",
        f"feedback: {fb.gigs} gigs, top {k} judged ({fb.shortlisted} shortlisted, "
        f"{fb.rejected} rejected); residual ranking, judged students removed",
        head,
        _row("without feedback", fb.without),
        _row("with feedback", fb.with_feedback),
        f"  rejected students returned with feedback: {fb.rejected_returned}",
    ]
    return "\n".join(lines)
