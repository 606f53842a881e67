"""Relevance on the real resumes: each of the 24 category names as a query.

A result is relevant when the resume's category (kept as the tag
``category:<NAME>``, never used for ranking) equals the query's category.
Reports precision@10, nDCG@10 (binary gains) and MRR per mode, plus a plain
full-scan BM25 baseline with ``rank-bm25`` over the same tokens.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from rank_bm25 import BM25Okapi
from sqlmodel import select

from benchmarks.metrics import mrr, ndcg_at_k, precision_at_k
from indexers import BM25_B, BM25_K1, build_document
from models import SearchMode, SearchRequest, User
from search_service.db import session_scope
from search_service.index.repository import active_user_ids
from search_service.profiles.repository import load_profile_rows
from search_service.runtime import Runtime
from search_service.search.service import search_profiles

__all__ = ["LuceneBM25", "RelevanceReport", "category_query", "run_relevance"]

CATEGORY_PREFIX = "category:"


def category_query(category: str) -> str:
    """``"INFORMATION-TECHNOLOGY"`` -> ``"information technology"``."""
    return category.replace("-", " ").lower()


class LuceneBM25(BM25Okapi):  # type: ignore[misc]
    """rank-bm25's Okapi BM25 with Lucene's non-negative IDF ln(1 + (N - n + 0.5)/(n + 0.5)),
    the IDF Qdrant's ``Modifier.IDF`` applies (Qdrant docs, "Sparse vectors")."""

    def _calc_idf(self, nd: dict[object, int]) -> None:
        self.idf = {
            word: math.log(1 + (self.corpus_size - freq + 0.5) / (freq + 0.5))
            for word, freq in nd.items()
        }


@dataclass(slots=True)
class RelevanceReport:
    """Per-mode mean metrics over the category queries, and per-category precision@10."""

    queries: int = 0
    mean: dict[str, dict[str, float]] = field(default_factory=dict)
    per_category: dict[str, dict[str, float]] = field(default_factory=dict)


def run_relevance(
    rt: Runtime, *, k: int = 10, modes: Sequence[SearchMode] | None = None
) -> RelevanceReport:
    """Run every category query in every mode plus the rank-bm25 baseline.

    Raises:
        ValueError: no user carries a ``category:`` tag (ingest the resumes first).
    """
    modes = list(modes or [SearchMode.KEYWORD, SearchMode.SEMANTIC, SearchMode.HYBRID])
    with session_scope(rt.engine) as session:
        ids = active_user_ids(session)
        cat_of: dict[int, str] = {}
        for user in session.exec(select(User)):
            tag = next((t for t in user.tags if t.startswith(CATEGORY_PREFIX)), None)
            if tag and user.id is not None:
                cat_of[user.id] = tag.removeprefix(CATEGORY_PREFIX)
    if not cat_of:
        raise ValueError("no user has a category tag: run `gigsy-search ingest-resumes` first")
    categories = sorted(set(cat_of.values()))
    # Full-scan baseline over the very documents that were indexed.
    doc_ids: list[int] = []
    corpus: list[list[int]] = []
    for start in range(0, len(ids), 500):
        with session_scope(rt.engine) as session:
            rows = load_profile_rows(session, ids[start : start + 500])
        for uid, row in rows.items():
            doc_ids.append(uid)
            corpus.append(rt.bm25.tokens(build_document(row).text))
    baseline = LuceneBM25(corpus, k1=BM25_K1, b=BM25_B)

    names = [m.value for m in modes] + ["rank-bm25"]
    sums = {n: {"p@10": 0.0, "ndcg@10": 0.0, "mrr": 0.0} for n in names}
    report = RelevanceReport(queries=len(categories))
    for cat in categories:
        relevant = frozenset(i for i, c in cat_of.items() if c == cat)
        gains = {i: 1.0 for i in relevant}
        query = category_query(cat)
        ranked: dict[str, list[int]] = {}
        with session_scope(rt.engine) as session:
            for mode in modes:
                res = search_profiles(rt, session, SearchRequest(query=query, mode=mode, limit=k))
                ranked[mode.value] = [h.user_id for h in res.results]
        q_tokens = list(dict.fromkeys(rt.bm25.encode_query(query).indices))
        scores = baseline.get_scores(q_tokens)
        order = sorted(range(len(doc_ids)), key=lambda j: -scores[j])[:k]
        ranked["rank-bm25"] = [doc_ids[j] for j in order if scores[j] > 0]
        report.per_category[cat] = {}
        for name in names:
            got = ranked[name]
            p = precision_at_k(got, relevant, k)
            sums[name]["p@10"] += p
            sums[name]["ndcg@10"] += ndcg_at_k(got, gains, k)
            sums[name]["mrr"] += mrr(got, relevant, k)
            report.per_category[cat][name] = p
    report.mean = {n: {m: v / len(categories) for m, v in ms.items()} for n, ms in sums.items()}
    return report
