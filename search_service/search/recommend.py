"""Recommendations between the two sides of the marketplace, each explained.

* gigs for a student (:func:`recommended_gigs`): the student's employer-visible
  profile (its stored dense vector, or the employer-visible document embedded
  when the point is not current) and its text as a BM25 query, against the gig
  collection; re-ranked by required-skill coverage;
* students for a gig (:func:`gig_candidates`): the gig's vector and text against
  the profile collection, re-ranked by required-skill coverage, with availability
  and location as boosts; the owner's feedback moves the dense query towards the
  shortlist and away from rejections (Rocchio), rejected students drop out;
* applicants of a gig ranked by fit (:func:`gig_applicants`);
* similar students (:func:`similar_profiles`) and similar open gigs
  (:func:`similar_gigs`): nearest neighbours of the stored vector.

Privacy: a profile only ever contributes what employers may see
(``indexers.build_document`` leaves private sections out, and the stored
vector is used only when it is the current employer-visible version); profile
hits are hydrated through :func:`search_service.search.service.hydrate_profiles`,
the same checks as employer search.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from sqlmodel import Session

from indexers import (
    Bm25Encoder,
    Document,
    FilterSpec,
    Hit,
    SearchResult,
    SparseVec,
    build_document,
    build_gig_document,
    dense_recipe,
    embed_documents,
    location_terms,
)
from models import (
    CandidateDecision,
    CandidateHit,
    CandidateResponse,
    Gig,
    GigSearchResponse,
    Interaction,
    SearchMode,
    SearchResponse,
    StudentAction,
    User,
    now_ms,
)
from search_service.gigs.interactions import (
    applicant_ids,
    dismissed_gig_ids,
    interactions_for_gig,
    record_exposures,
)
from search_service.outbox import pending_removal_ids
from search_service.profiles.repository import load_profile_subject
from search_service.profiles.visibility import servable_users
from search_service.runtime import GIGS, PROFILES, Runtime
from search_service.search.gigs import hydrate_gigs, live_gig_spec
from search_service.search.paging import ListParams
from search_service.search.pipeline import Ranking, run_ranked_list
from search_service.search.service import hydrate_profiles, retrieve

__all__ = [
    "COVERAGE_WEIGHT",
    "FIT_BOOST",
    "ROCCHIO",
    "Rerank",
    "document_query",
    "gig_applicants",
    "gig_candidates",
    "gig_query",
    "recommended_gigs",
    "rocchio",
    "similar_gigs",
    "similar_profiles",
    "student_query",
]

COVERAGE_WEIGHT = 0.2
"""Weight of required-skill coverage (0..1) added to the fused score normalised to
0..1 by the pool's best. Chosen on ``python -m benchmarks recommend``: with the
title-weighted vectors and the recommendation fusion weights, 0.2 against 0.5
lifts candidates' P@10 0.586 -> 0.600 and recommended gigs' 0.338 -> 0.345
(``benchmarks/README.md``)."""
FIT_BOOST = 0.1
"""Added to a candidate's score for a matching availability, and again for a
matching location (or a remote gig)."""
ROCCHIO = (1.0, 0.75, 0.15)
"""(alpha, beta, gamma) of Rocchio relevance feedback: the classic values
(Manning, Raghavan & Schütze, "Introduction to Information Retrieval", 2008,
section 9.1.1)."""
_QUERY_CHARS = 2000
"""Characters of a document used as its BM25 query (the head: title, skills and the
first paragraphs carry the signal; on ``python -m benchmarks recommend`` whole
documents ranked no better and took longer)."""


@dataclass(slots=True)
class Rerank:
    """Switches of the re-ranking (the benchmark turns them off one at a time)."""

    coverage: bool = True
    feedback: bool = True
    boosts: bool = True


@dataclass(slots=True)
class _Query:
    dense: npt.NDArray[np.float32] | None
    sparse: SparseVec | None
    skills: set[str] = field(default_factory=set)
    required: list[str] = field(default_factory=list)
    location_terms: set[str] = field(default_factory=set)
    availability: str | None = None
    remote: bool = False


def document_query(bm25: Bm25Encoder, text: str) -> SparseVec:
    """A document (a resume, a gig) as a BM25 query: one entry per distinct term of ``text``,
    weighted by the term's count in it (tokens, stopwords and stems as
    :meth:`indexers.Bm25Encoder.term_frequencies` sees them).

    Okapi BM25 scales each query term by (k3 + 1)·qtf / (k3 + qtf), qtf being the
    term's frequency in the query (Robertson & Walker, "Some simple effective
    approximations to the 2-Poisson model", SIGIR 1994); with k3 -> infinity, the
    usual choice for long queries, the factor is qtf itself. The store multiplies
    each query weight by the term's IDF, so a document ``d`` scores
    sum over t of qtf(t) · IDF(t) · w(t, d), where w is ``d``'s BM25 term weight: a
    resume or gig used as a query counts the terms it repeats, where
    :meth:`~indexers.Bm25Encoder.encode_query` gives each distinct term 1.0.

    Returns:
        The query vector (term ids as the store's, weights ``float`` counts >= 1);
        empty for a text of stopwords only, or an empty text. Raises nothing.
    """
    counts = bm25.term_frequencies(text)
    return SparseVec(indices=list(counts), values=[float(c) for c in counts.values()])


def _stored_or_encoded(rt: Runtime, entity: str, doc: Document) -> npt.NDArray[np.float32]:
    """The stored dense vector when the point holds ``doc``'s version and recipe, else
    ``doc`` embedded the way the indexer would (:func:`indexers.embed_documents`)."""
    store = rt.index(entity).store
    payload = store.payloads([doc.id], fields=["updated_at", "model"]).get(doc.id)
    if (
        payload is not None
        and payload.get("updated_at") == doc.version
        and payload.get("model") == dense_recipe(rt.encoder)
    ):
        found = store.dense_vectors([doc.id]).get(doc.id)
        if found is not None:
            return np.asarray(found, dtype=np.float32)
    vec: npt.NDArray[np.float32] = embed_documents(rt.encoder, [doc.text], [doc.title])[0]
    return vec


def student_query(
    rt: Runtime, session: Session, user_id: int, *, dismissed: set[int] | None = None
) -> _Query | None:
    """The employer-visible profile of ``user_id`` as a query (dense ``(dim,)``
    float32 L2-normalised, BM25 of its head weighted by term counts
    (:func:`document_query`), skills); ``None`` without a profile or when the user
    is not searchable. One statement (:func:`load_profile_subject`); given a set
    as ``dismissed``, the same statement adds the ids of the gigs the student
    dismissed to it."""
    subject = load_profile_subject(session, user_id, dismissed=dismissed is not None)
    if subject is None:
        return None
    rows = subject.rows
    if rows.profile is None or not rows.user.is_searchable:
        return None
    if dismissed is not None:
        dismissed.update(subject.dismissed)
    doc = build_document(rows)
    dense = _stored_or_encoded(rt, "profiles", doc)
    skills = set(doc.payload.get("skills") or [])
    return _Query(
        dense=dense,
        sparse=document_query(rt.index(PROFILES).bm25, doc.text[:_QUERY_CHARS]),
        skills=skills,
        location_terms=set(doc.payload.get("location_terms") or []),
        availability=doc.payload.get("availability"),
    )


def gig_query(rt: Runtime, gig: Gig) -> _Query:
    """A gig as a query: its vector (stored when current), BM25 of its head weighted
    by term counts (:func:`document_query`), skills."""
    doc = build_gig_document(gig)
    dense = _stored_or_encoded(rt, GIGS, doc)
    return _Query(
        dense=dense,
        sparse=document_query(rt.index(PROFILES).bm25, doc.text[:_QUERY_CHARS]),
        skills=set(doc.payload["skills"]),
        required=list(doc.payload["required_skills"]),
        location_terms=set(location_terms(gig.location)),
        availability=gig.availability,
        remote=gig.remote,
    )


def rocchio(
    query: npt.NDArray[np.float32],
    positive: Sequence[npt.NDArray[np.float32]],
    negative: Sequence[npt.NDArray[np.float32]],
    weights: tuple[float, float, float] | None = None,
) -> npt.NDArray[np.float32]:
    """Rocchio relevance feedback: ``alpha*q + beta*mean(pos) - gamma*mean(neg)``,
    L2-normalised (Rocchio 1971; weights :data:`ROCCHIO`).

    Args:
        query: ``(dim,)`` float32.
        positive, negative: ``(dim,)`` float32 vectors (either may be empty).
        weights: ``(alpha, beta, gamma)``; default :data:`ROCCHIO`, read at call time.

    Returns:
        ``(dim,)`` float32, L2-normalised (``query`` itself when both are empty).
    """
    if not positive and not negative:
        return query
    alpha, beta, gamma = weights if weights is not None else ROCCHIO
    out = alpha * query.astype(np.float64)
    if positive:
        out += beta * np.mean(np.stack(positive), axis=0)
    if negative:
        out -= gamma * np.mean(np.stack(negative), axis=0)
    norm = float(np.linalg.norm(out))
    return (out / norm if norm > 0 else out).astype(np.float32)


def _coverage(required: Sequence[str], skills: set[str]) -> float:
    if not required:
        return 0.0
    return sum(1 for s in required if s in skills) / len(required)


def _pool(
    rt: Runtime,
    entity: str,
    q: _Query,
    mode: SearchMode,
    spec: FilterSpec,
    size: int,
    pool: int | None = None,
) -> SearchResult:
    """The best ``size`` points for ``q``, each retriever prefetching ``pool``, fused
    with the recommendation weights (``search.recommend_fusion_spec``)."""
    return retrieve(
        rt,
        rt.index(entity),
        query="",
        mode=mode,
        spec=spec,
        limit=size,
        offset=0,
        dense=q.dense if mode != SearchMode.KEYWORD else None,
        sparse=q.sparse if mode != SearchMode.SEMANTIC else None,
        candidates=pool if pool is not None else size,
        fusion=rt.settings.search.recommend_fusion_spec,
        details=False,
    )


def _nearest(
    rt: Runtime,
    entity: str,
    planned: tuple[_Query, FilterSpec],
    mode: SearchMode,
    depth: int,
    pool: int,
) -> Ranking:
    """Nearest neighbours of a plan's query, as retrieved (the similar lists)."""
    q, spec = planned
    found = _pool(rt, entity, q, mode, spec, depth, pool)
    return Ranking(found.page, found)


def _normalised(hits: Sequence[Hit]) -> dict[int, float]:
    best = max((h.score for h in hits), default=0.0)
    if best <= 0:
        return {h.id: 0.0 for h in hits}
    return {h.id: h.score / best for h in hits}


def _order(scores: dict[int, float], hits: Sequence[Hit]) -> list[Hit]:
    """``hits`` by their re-ranked ``scores``, best first (ties by id), carrying them."""
    order = sorted(hits, key=lambda h: (-scores[h.id], h.id))
    return [Hit(h.id, scores[h.id], h.terms, h.version) for h in order]


def _int(value: object) -> int | None:
    return value if isinstance(value, int) else None


def recommended_gigs(
    rt: Runtime,
    session: Session,
    user: User,
    *,
    limit: int = 20,
    offset: int = 0,
    mode: SearchMode = SearchMode.HYBRID,
    rerank: Rerank | None = None,
    cursor: str | None = None,
    diversity: float = 0.0,
) -> GigSearchResponse:
    """Open gigs that fit ``user``'s employer-visible profile, best first.

    Score: the fused retrieval score normalised by the pool's best, plus
    :data:`COVERAGE_WEIGHT` times the share of the gig's required skills the
    student lists. Gigs the student dismissed never appear. The pool is ranked
    whole and paged by ``offset`` or ``cursor`` (``search/paging.py``: the pool
    deepens with the page), optionally diversified by MMR.

    Raises:
        InvalidRequestError: a bad cursor, or a cursor with an offset (422).
        EncoderError, VectorStoreError: as the retrieval raises them.
    """
    started = time.perf_counter()
    rr = rerank or Rerank()
    assert user.id is not None
    uid = user.id
    ts = now_ms()
    store = rt.index(GIGS).store

    def plan() -> tuple[_Query, FilterSpec] | None:
        dismissed: set[int] = set()
        q = student_query(rt, session, uid, dismissed=dismissed)
        if q is None:
            return None
        return q, live_gig_spec(session, now=ts, exclude=dismissed)

    def rank(planned: tuple[_Query, FilterSpec], _depth: int, pool: int) -> Ranking:
        q, spec = planned
        found = _pool(rt, GIGS, q, mode, spec, pool)
        scores = _normalised(found.page)
        if rr.coverage and found.page:
            payloads = store.point_values([h.id for h in found.page], ["required_skills"])
            for h in found.page:
                required = payloads.get(h.id, {}).get("required_skills") or []
                scores[h.id] += COVERAGE_WEIGHT * _coverage(required, q.skills)
        return Ranking(_order(scores, found.page), found)

    ran = run_ranked_list(
        rt,
        binding={
            "list": "gigs.recommended",
            "user": uid,
            "mode": mode.value,
            "diversity": diversity,
        },
        paging=ListParams(limit, offset, cursor, diversity),
        store=store,
        plan=plan,
        rank=rank,
        hydrate=lambda planned, page, ranking: hydrate_gigs(
            session,
            page,
            dense=ranking.found.dense,
            keyword=ranking.found.keyword,
            student_skills=planned[0].skills,
            now=ts,
            hidden=ranking.hidden,
        ),
    )
    if ran is None:
        return GigSearchResponse(results=[], took_ms=0.0)
    listed = ran[1]
    return GigSearchResponse(
        results=listed.results,
        took_ms=round((time.perf_counter() - started) * 1000, 2),
        next_offset=listed.next_offset,
        next_cursor=listed.next_cursor,
    )


def _profile_vectors(
    rt: Runtime, session: Session, ids: Sequence[int]
) -> list[npt.NDArray[np.float32]]:
    """Stored vectors of students ``ids`` that may still be served (as search
    hydration decides: searchable, point not older than the privacy floor, no
    pending removal): feedback never feeds a withdrawn profile into a ranking."""
    if not ids:
        return []
    payloads = rt.index(PROFILES).store.payloads(ids, fields=["updated_at"])
    users = servable_users(session, {i: _int(payloads.get(i, {}).get("updated_at")) for i in ids})
    allowed = [i for i in ids if i in users]
    found = rt.index(PROFILES).store.dense_vectors(allowed) if allowed else {}
    return [np.asarray(v, dtype=np.float32) for v in found.values()]


_FIT_FIELDS = ("skills", "availability", "location_terms")
"""The payload fields :func:`_fit` and the candidates' matched skills read."""


def _fit(q: _Query, payload: dict[str, object], rr: Rerank) -> float:
    score = 0.0
    skills = set(payload.get("skills") or [])  # type: ignore[call-overload]
    if rr.coverage:
        score += COVERAGE_WEIGHT * _coverage(q.required, skills)
    if rr.boosts:
        if q.availability and payload.get("availability") == q.availability:
            score += FIT_BOOST
        terms = set(payload.get("location_terms") or [])  # type: ignore[call-overload]
        if q.remote or (q.location_terms and terms & q.location_terms):
            score += FIT_BOOST
    return score


def _candidate_hits(
    session: Session,
    page: list[Hit],
    result: SearchResult,
    q: _Query,
    payloads: dict[int, dict[str, object]],
    gig_id: int,
    pairs: dict[int, Interaction],
    hidden: set[int],
) -> list[CandidateHit]:
    applied = {uid for uid, pair in pairs.items() if pair.action == StudentAction.APPLIED.value}
    hydrated = hydrate_profiles(
        session,
        page,
        dense=result.dense,
        keyword=result.keyword,
        term_names={},
        applied=applied,
        hidden=hidden,
    )
    # What the owner is shown becomes decidable (gigs/feedback.py): the page only.
    record_exposures(session, gig_id, [h.user_id for h in hydrated], now=now_ms())
    out: list[CandidateHit] = []
    wanted = list(dict.fromkeys([*q.required, *sorted(q.skills - set(q.required))]))
    for hit in hydrated:
        skills = set(payloads.get(hit.user_id, {}).get("skills") or [])  # type: ignore[call-overload]
        explanation = hit.explanation.model_copy(
            update={
                "matched_skills": [s for s in wanted if s in skills],
                "missing_skills": [s for s in q.required if s not in skills],
            }
        )
        pair = pairs.get(hit.user_id)
        # model_construct: the hit's fields were validated when it was built, and
        # the two added ones are typed here; validating them again cost more than
        # building the rest of the hit.
        out.append(
            CandidateHit.model_construct(
                **{
                    **hit.__dict__,
                    "explanation": explanation,
                    "decision": (
                        CandidateDecision(pair.decision) if pair and pair.decision else None
                    ),
                    "applied": hit.user_id in applied,
                }
            )
        )
    return out


@dataclass(slots=True)
class _CandidatesPlan:
    q: _Query
    spec: FilterSpec
    pairs: dict[int, Interaction]


@dataclass(slots=True)
class _ApplicantsPlan:
    q: _Query
    pairs: dict[int, Interaction]
    ranking: Ranking
    """The whole ranking, made once: it does not depend on a pool."""


def gig_candidates(
    rt: Runtime,
    session: Session,
    gig: Gig,
    *,
    limit: int = 20,
    offset: int = 0,
    mode: SearchMode = SearchMode.HYBRID,
    rerank: Rerank | None = None,
    cursor: str | None = None,
    diversity: float = 0.0,
    interactions: dict[int, Interaction] | None = None,
) -> CandidateResponse:
    """Students ranked for ``gig``, best first.

    Retrieval: the gig's vector (moved by the owner's feedback: Rocchio towards
    shortlisted and away from rejected students' vectors) and its text as a BM25
    query, against the profile collection; rejected students and users with a
    pending removal are excluded inside the query. Score: fused score normalised
    by the pool's best, plus :data:`COVERAGE_WEIGHT` times required-skill
    coverage, plus :data:`FIT_BOOST` for matching availability and for matching
    location (or a remote gig). Only employer-visible data is used or shown.
    The pool is ranked whole and paged by ``offset`` or ``cursor``
    (``search/paging.py``), optionally diversified by MMR. ``interactions``: the
    gig's interactions when the caller read them with the gig
    (:func:`search_service.gigs.repository.load_gig_subject`), else read here.

    Raises:
        InvalidRequestError: a bad cursor, or a cursor with an offset (422).
        EncoderError, VectorStoreError: as the retrieval raises them.
    """
    started = time.perf_counter()
    rr = rerank or Rerank()
    assert gig.id is not None
    gig_id = gig.id

    def plan() -> _CandidatesPlan:
        q = gig_query(rt, gig)
        # One read of the gig's interactions: the decisions steer the ranking, and
        # the hits show each decision and application.
        pairs = interactions if interactions is not None else interactions_for_gig(session, gig_id)
        decisions = {
            uid: CandidateDecision(pair.decision) for uid, pair in pairs.items() if pair.decision
        }
        rejected = {u for u, d in decisions.items() if d == CandidateDecision.REJECTED}
        shortlisted = [u for u, d in decisions.items() if d == CandidateDecision.SHORTLISTED]
        if rr.feedback and q.dense is not None:
            q.dense = rocchio(
                q.dense,
                _profile_vectors(rt, session, shortlisted),
                _profile_vectors(rt, session, sorted(rejected)),
            )
        pending = pending_removal_ids(session, entity=PROFILES)
        spec = FilterSpec(exclude_ids=pending | (rejected if rr.feedback else set()))
        return _CandidatesPlan(q, spec, pairs)

    def rank(p: _CandidatesPlan, _depth: int, pool: int) -> Ranking:
        found = _pool(rt, "profiles", p.q, mode, p.spec, pool)
        scores = _normalised(found.page)
        ids = [h.id for h in found.page]
        payloads = rt.index(PROFILES).store.point_values(ids, _FIT_FIELDS) if ids else {}
        for h in found.page:
            scores[h.id] += _fit(p.q, payloads.get(h.id, {}), rr)
        return Ranking(_order(scores, found.page), found, payloads=payloads)

    ran = run_ranked_list(
        rt,
        binding={
            "list": "gigs.candidates",
            "gig": gig_id,
            "mode": mode.value,
            "diversity": diversity,
        },
        paging=ListParams(limit, offset, cursor, diversity),
        store=rt.index(PROFILES).store,
        plan=plan,
        rank=rank,
        hydrate=lambda p, page, ranking: _candidate_hits(
            session, page, ranking.found, p.q, ranking.payloads, gig_id, p.pairs, ranking.hidden
        ),
    )
    assert ran is not None  # a gig always makes a plan
    listed = ran[1]
    return CandidateResponse(
        results=listed.results,
        took_ms=round((time.perf_counter() - started) * 1000, 2),
        next_offset=listed.next_offset,
        next_cursor=listed.next_cursor,
    )


def gig_applicants(
    rt: Runtime,
    session: Session,
    gig: Gig,
    *,
    limit: int = 20,
    offset: int = 0,
    cursor: str | None = None,
    diversity: float = 0.0,
    interactions: dict[int, Interaction] | None = None,
) -> CandidateResponse:
    """Students who applied to ``gig``, ranked by fit: cosine similarity of their
    stored profile vector to the gig's, plus the re-ranking of
    :func:`gig_candidates` (coverage, availability, location). Applicants
    without an indexed profile come last, by application time; hidden ones
    (deleted, suspended, reduced since indexing) are left out as in search.
    Paged by ``offset`` or ``cursor``, optionally diversified by MMR.
    ``interactions`` as in :func:`gig_candidates`.

    Raises:
        InvalidRequestError: a bad cursor, or a cursor with an offset (422).
        VectorStoreError: the store failed.
    """
    started = time.perf_counter()
    assert gig.id is not None
    gig_id = gig.id

    def plan() -> _ApplicantsPlan:
        pairs = interactions if interactions is not None else interactions_for_gig(session, gig_id)
        ids = applicant_ids(pairs)
        q = gig_query(rt, gig)
        vectors = rt.index(PROFILES).store.dense_vectors(ids) if ids else {}
        payloads = (
            rt.index(PROFILES).store.payloads(ids, fields=[*_FIT_FIELDS, "updated_at"])
            if ids
            else {}
        )
        scores: dict[int, float] = {}
        for uid in ids:
            vec = vectors.get(uid)
            if vec is None or q.dense is None:
                scores[uid] = -1.0 - ids.index(uid) * 1e-6
                continue
            scores[uid] = float(np.dot(vec, q.dense)) + _fit(q, payloads.get(uid, {}), Rerank())
        # Versions from the payloads, no term ids to show: the page needs no details.
        hits = [
            Hit(
                id=uid,
                score=scores[uid],
                terms=frozenset(),
                version=_int(payloads.get(uid, {}).get("updated_at")),
            )
            for uid in ids
        ]
        order = _order(scores, hits)
        ranking = Ranking(order, SearchResult(dense=order), payloads=payloads)
        return _ApplicantsPlan(q, pairs, ranking)

    ran = run_ranked_list(
        rt,
        binding={"list": "gigs.applicants", "gig": gig_id, "diversity": diversity},
        paging=ListParams(limit, offset, cursor, diversity),
        store=rt.index(PROFILES).store,
        plan=plan,
        rank=lambda p, _depth, _pool: p.ranking,
        hydrate=lambda p, page, ranking: _candidate_hits(
            session, page, ranking.found, p.q, ranking.payloads, gig_id, p.pairs, ranking.hidden
        ),
    )
    assert ran is not None  # a gig always makes a plan
    listed = ran[1]
    return CandidateResponse(
        results=listed.results,
        took_ms=round((time.perf_counter() - started) * 1000, 2),
        next_offset=listed.next_offset,
        next_cursor=listed.next_cursor,
    )


def similar_profiles(
    rt: Runtime,
    session: Session,
    user_id: int,
    *,
    limit: int = 20,
    offset: int = 0,
    mode: SearchMode = SearchMode.SEMANTIC,
    cursor: str | None = None,
    diversity: float = 0.0,
) -> SearchResponse | None:
    """Students like ``user_id`` (never themselves): nearest neighbours of their
    employer-visible profile vector (``mode`` hybrid adds its text as a BM25
    query), paged by ``offset`` or ``cursor``, optionally diversified by MMR.
    ``None`` when that student is not searchable or has no profile.

    Raises:
        InvalidRequestError: a bad cursor, or a cursor with an offset (422).
        EncoderError, VectorStoreError: as the retrieval raises them.
    """
    started = time.perf_counter()

    def plan() -> tuple[_Query, FilterSpec] | None:
        q = student_query(rt, session, user_id)
        if q is None:
            return None
        return q, FilterSpec(exclude_ids=pending_removal_ids(session, entity=PROFILES) | {user_id})

    ran = run_ranked_list(
        rt,
        binding={
            "list": "profiles.similar",
            "user": user_id,
            "mode": mode.value,
            "diversity": diversity,
        },
        paging=ListParams(limit, offset, cursor, diversity),
        store=rt.index(PROFILES).store,
        plan=plan,
        rank=lambda p, depth, pool: _nearest(rt, "profiles", p, mode, depth, pool),
        hydrate=lambda _p, page, ranking: hydrate_profiles(
            session,
            page,
            dense=ranking.found.dense,
            keyword=ranking.found.keyword,
            term_names={},
            hidden=ranking.hidden,
        ),
    )
    if ran is None:
        return None
    listed = ran[1]
    return SearchResponse(
        results=listed.results,
        took_ms=round((time.perf_counter() - started) * 1000, 2),
        next_offset=listed.next_offset,
        next_cursor=listed.next_cursor,
    )


def similar_gigs(
    rt: Runtime,
    session: Session,
    gig: Gig,
    *,
    limit: int = 20,
    offset: int = 0,
    mode: SearchMode = SearchMode.SEMANTIC,
    viewer_id: int | None = None,
    cursor: str | None = None,
    diversity: float = 0.0,
    dismissed: frozenset[int] | None = None,
) -> GigSearchResponse:
    """Open gigs like ``gig`` (never itself, nor any gig ``viewer_id`` dismissed):
    nearest neighbours of its vector, paged by ``offset`` or ``cursor``,
    optionally diversified by MMR. ``dismissed``: the viewer's dismissed gigs when
    the caller read them with the gig
    (:func:`search_service.gigs.repository.load_gig_subject`), else read here.

    Raises:
        InvalidRequestError: a bad cursor, or a cursor with an offset (422).
        EncoderError, VectorStoreError: as the retrieval raises them.
    """
    started = time.perf_counter()
    assert gig.id is not None
    gig_id = gig.id
    ts = now_ms()

    def plan() -> tuple[_Query, FilterSpec]:
        q = gig_query(rt, gig)
        gone: Iterable[int] = (
            dismissed
            if dismissed is not None
            else dismissed_gig_ids(session, viewer_id)
            if viewer_id is not None
            else ()
        )
        return q, live_gig_spec(session, now=ts, exclude={gig_id, *gone})

    ran = run_ranked_list(
        rt,
        binding={
            "list": "gigs.similar",
            "gig": gig_id,
            "viewer": viewer_id,
            "mode": mode.value,
            "diversity": diversity,
        },
        paging=ListParams(limit, offset, cursor, diversity),
        store=rt.index(GIGS).store,
        plan=plan,
        rank=lambda p, depth, pool: _nearest(rt, GIGS, p, mode, depth, pool),
        hydrate=lambda _p, page, ranking: hydrate_gigs(
            session,
            page,
            dense=ranking.found.dense,
            keyword=ranking.found.keyword,
            now=ts,
            hidden=ranking.hidden,
        ),
    )
    assert ran is not None  # a gig always makes a plan
    listed = ran[1]
    return GigSearchResponse(
        results=listed.results,
        took_ms=round((time.perf_counter() - started) * 1000, 2),
        next_offset=listed.next_offset,
        next_cursor=listed.next_cursor,
    )
