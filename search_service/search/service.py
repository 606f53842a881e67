"""Employer search: one batched vector-store query, SQL hydration, explanations.

Hybrid ranking fuses the dense and BM25 candidate lists client-side
(:mod:`indexers.fusion`: RRF, DBSF or a convex combination, from settings).
Results are hydrated from SQL, which drops anyone soft-deleted or suspended,
and any hit whose indexed version predates the user's last privacy reduction,
even when the index is stale.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import numpy.typing as npt
from sqlmodel import Session, col, select

from indexers import FilterSpec, Hit, SearchResult, SparseVec, VectorStore, normalise_keyword
from indexers.taxonomy import canonicalise_query, normalise_skills
from models import (
    Explanation,
    Profile,
    SearchFilters,
    SearchHit,
    SearchMode,
    SearchRequest,
    SearchResponse,
    Skill,
    Visibility,
)
from search_service.outbox import pending_removal_ids
from search_service.profiles.visibility import visible_to_employers
from search_service.runtime import Runtime
from search_service.users.repository import get_users

__all__ = [
    "TOP_SKILLS",
    "filter_spec",
    "hydrate_profiles",
    "ranks",
    "retrieve",
    "search_profiles",
]

TOP_SKILLS = 5
"""How many skills each hit shows."""


def filter_spec(filters: SearchFilters) -> FilterSpec:
    """Normalise API filters to the store's :class:`FilterSpec` on the profile payload
    (``indexers.build_document``): lowercase keywords, skills mapped through the
    taxonomy ("JS" -> "javascript") as they are at write. Every skill and language
    must match (``skills``, ``languages``), the location one of the profile's
    ``location_terms``, the availability exactly.
    """
    keywords = [("skills", s) for s in normalise_skills(filters.skills)]
    keywords += [
        ("languages", lang)
        for lang in dict.fromkeys(
            normalise_keyword(lang) for lang in filters.languages if lang.strip()
        )
    ]
    if filters.location:
        location = normalise_keyword(filters.location)
        if location:
            keywords.append(("location_terms", location))
    if filters.availability:
        keywords.append(("availability", filters.availability.value))
    return FilterSpec(keywords=tuple(keywords))


def ranks(hits: list[Hit]) -> dict[int, tuple[int, float]]:
    """Point id -> (1-based rank, score) in one retriever's list."""
    return {h.id: (i + 1, h.score) for i, h in enumerate(hits)}


def retrieve(
    rt: Runtime,
    store: VectorStore,
    *,
    query: str,
    mode: SearchMode,
    spec: FilterSpec,
    limit: int,
    offset: int,
    dense: npt.NDArray[np.float32] | None = None,
    sparse: SparseVec | None = None,
) -> SearchResult:
    """One batched query of ``store``: the retrievers ``mode`` names, fused
    client-side (``search`` settings: RRF, DBSF or a convex combination,
    :func:`indexers.fuse`) under the hard filters ``spec``.

    The dense query is ``dense`` when given (a stored ``(dim,)`` float32 vector,
    e.g. a profile's), else ``query`` embedded; the BM25 query is ``sparse`` when
    given, else ``query`` encoded. With neither a query nor vectors, a filter-only
    browse, newest first.

    Raises:
        EncoderError: the query could not be embedded.
        VectorStoreError: the store failed.
    """
    if not query and dense is None and sparse is None:
        return SearchResult(page=store.browse(spec, limit=limit, offset=offset))
    if mode == SearchMode.KEYWORD:
        dense = None
    elif dense is None and query:
        dense = rt.encoder.encode_query(query)
    if mode == SearchMode.SEMANTIC:
        sparse = None
    elif sparse is None and query:
        sparse = rt.bm25.encode_query(query)
    if sparse is not None and len(sparse) == 0:
        sparse = None  # only stopwords: hybrid degenerates to semantic
    if dense is None and sparse is None:
        return SearchResult()  # BM25 alone with nothing to match
    cfg = rt.settings.search
    return store.search(
        dense=dense,
        sparse=sparse,
        filters=spec,
        limit=limit,
        offset=offset,
        candidates=cfg.candidates,
        fusion=cfg.fusion_spec,
    )


def search_profiles(rt: Runtime, session: Session, req: SearchRequest) -> SearchResponse:
    """Run an employer search.

    An empty query lists profiles matching the filters, most recent
    employer-visible change first (score = ``visible_updated_at``, epoch ms).

    Raises:
        EncoderError: the query could not be embedded.
        VectorStoreError: the vector store failed (StoreUnavailableError -> 503).
    """
    started = time.perf_counter()
    # Points with a pending removal are excluded inside the query, so they take no
    # rank, score or page slot; hydration below still checks every hit against SQL.
    spec = replace(filter_spec(req.filters), exclude_ids=pending_removal_ids(session))
    query = canonicalise_query(req.query.strip())
    result = retrieve(
        rt,
        rt.store,
        query=query,
        mode=req.mode,
        spec=spec,
        limit=req.limit,
        offset=req.offset,
    )
    term_names = rt.bm25.term_names(query) if query else {}
    hits = hydrate_profiles(
        session,
        result.page,
        dense=result.dense,
        keyword=result.keyword,
        term_names=term_names,
    )
    return SearchResponse(
        results=hits,
        took_ms=round((time.perf_counter() - started) * 1000, 2),
        next_offset=req.offset + req.limit if len(result.page) == req.limit else None,
    )


def hydrate_profiles(
    session: Session,
    page: list[Hit],
    *,
    dense: list[Hit],
    keyword: list[Hit],
    term_names: dict[int, str],
) -> list[SearchHit]:
    """Turn ranked profile points into hits from SQL, with explanations.

    Drops every hit whose user is not searchable now, or whose point predates
    the user's privacy floor (:func:`visible_to_employers`); shows only
    employer-visible skills.

    Args:
        session: the unit of work.
        page: the ranked points, best first.
        dense, keyword: each retriever's candidate list (for ranks and scores).
        term_names: BM25 term id -> query word (for ``matchedTerms``).
    """
    ids = [h.id for h in page]
    users = get_users(session, ids)
    profiles = {
        uid: (headline, visibility)
        for uid, headline, visibility in session.exec(
            select(Profile.user_id, Profile.headline, Profile.visibility).where(
                col(Profile.user_id).in_(ids)
            )
        )
    }
    skills: dict[int, list[str]] = {}
    for uid, name in session.exec(
        select(Skill.user_id, Skill.name)
        .where(col(Skill.user_id).in_(ids), col(Skill.position) < TOP_SKILLS)
        .order_by(col(Skill.position))
    ):
        skills.setdefault(uid, []).append(name)
    dense_rank, kw_rank = ranks(dense), ranks(keyword)
    hits: list[SearchHit] = []
    for hit in page:
        user = users.get(hit.id)
        if user is None or not visible_to_employers(user, hit.version):
            continue  # deleted, suspended, or reduced since this version was indexed
        headline, visibility = profiles.get(hit.id, ("", {}))
        visible_skills = skills.get(hit.id, [])
        if visibility.get("skills") == Visibility.PRIVATE.value:
            visible_skills = []
        d, k = dense_rank.get(hit.id), kw_rank.get(hit.id)
        matched = sorted({term_names[t] for t in (hit.terms or ()) if t in term_names})
        hits.append(
            SearchHit(
                user_id=hit.id,
                clerk_id=user.clerk_id,
                external_id=user.external_id,
                name=user.name,
                headline=headline,
                top_skills=visible_skills[:TOP_SKILLS],
                score=hit.score,
                explanation=Explanation(
                    keyword_rank=k[0] if k else None,
                    keyword_score=k[1] if k else None,
                    semantic_rank=d[0] if d else None,
                    semantic_score=d[1] if d else None,
                    matched_terms=matched,
                ),
            )
        )
    return hits
