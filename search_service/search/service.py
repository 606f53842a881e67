"""Employer search: one batched vector-store query, SQL hydration, explanations.

Hybrid ranking fuses the dense and BM25 candidate lists client-side
(:mod:`indexers.fusion`: RRF, DBSF or a convex combination, from settings).
Results are hydrated from SQL, which drops anyone soft-deleted or suspended,
and any hit whose indexed version predates the user's last privacy reduction,
even when the index is stale. Facet counts and the zero-result suggestion
(:mod:`search_service.search.facets`) go through the same check.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from sqlmodel import Session

from indexers import (
    FilterSpec,
    FusionSpec,
    Hit,
    SearchResult,
    SparseVec,
    normalise_keyword,
)
from indexers.taxonomy import canonicalise_query, normalise_skill, normalise_skills
from models import (
    AppliedBoost,
    Explanation,
    FacetName,
    SearchFilters,
    SearchHit,
    SearchMode,
    SearchRequest,
    SearchResponse,
    Visibility,
    now_ms,
)
from search_service.metrics import stage
from search_service.outbox import pending_removal_ids
from search_service.profiles.visibility import servable_profile_cards, servable_user_ids
from search_service.runtime import PROFILES, EntityIndex, Runtime
from search_service.search.boosts import BOOST_FIELDS, BoostConfig, apply_boosts
from search_service.search.facets import Facet, facets_and_suggestion
from search_service.search.paging import ListParams
from search_service.search.pipeline import Ranking, run_ranked_list

__all__ = [
    "PROFILE_FACETS",
    "TOP_SKILLS",
    "boost_config",
    "filter_spec",
    "hydrate_profiles",
    "ranks",
    "relaxation_probe",
    "retrieve",
    "search_profiles",
    "shown_skills",
]

TOP_SKILLS = 5
"""How many skills each hit shows (``topSkills``): the skills the query names
first, then the profile's own order."""

PROFILE_FACETS: dict[FacetName, Facet] = {
    FacetName.SKILLS: Facet("skills", "skills"),
    FacetName.LANGUAGES: Facet("languages", "languages"),
    FacetName.AVAILABILITY: Facet("availability", "availability"),
    FacetName.LOCATION: Facet("location", "location_terms", first_only=True),
}
"""Employer-search facets over the profile payload (``indexers.build_document``):
skills by canonical taxonomy name, languages and location normalised (the
location as a whole, e.g. ``"berlin, germany"``, which as a filter matches the
same profiles), availability as its enum value."""


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


def ranks(hits: Sequence[Hit], skip: Collection[int] = ()) -> dict[int, tuple[int, float]]:
    """Point id -> (1-based rank, score) in one retriever's list, numbered without
    the ids in ``skip`` (points hydration hid: they take no rank from anyone)."""
    if skip:
        hits = [h for h in hits if h.id not in skip]
    return {h.id: (i + 1, h.score) for i, h in enumerate(hits)}


def retrieve(
    rt: Runtime,
    index: EntityIndex,
    *,
    query: str,
    mode: SearchMode,
    spec: FilterSpec,
    limit: int,
    offset: int,
    dense: npt.NDArray[np.float32] | None = None,
    sparse: SparseVec | None = None,
    candidates: int | None = None,
    fusion: FusionSpec | None = None,
    details: bool = True,
) -> SearchResult:
    """One batched query of the entity's collection (``index.store``): the
    retrievers ``mode`` names, fused
    client-side (``search`` settings: RRF, DBSF or a convex combination,
    :func:`indexers.fuse`) under the hard filters ``spec``.

    The dense query is ``dense`` when given (a stored ``(dim,)`` float32 vector,
    e.g. a profile's), else ``query`` embedded; the BM25 query is ``sparse`` when
    given, else ``query`` encoded by the entity's BM25 encoder (``index.bm25``).
    With neither a query nor vectors, a filter-only
    browse, newest first. Each retriever prefetches ``candidates`` hits
    (default ``search.candidates``; at least ``offset + limit``). ``fusion``
    overrides the settings' fusion (recommendations weight their lists apart).
    ``details=False`` leaves the page's hits without BM25 term ids and versions
    (a ranked list reads them for the page it shows:
    :func:`search_service.search.pipeline.shown_page`).

    Raises:
        EncoderError: the query could not be embedded.
        VectorStoreError: the store failed.
    """
    store = index.store
    if not query and dense is None and sparse is None:
        return SearchResult(page=store.browse(spec, limit=limit, offset=offset))
    if mode == SearchMode.KEYWORD:
        dense = None
    elif dense is None and query:
        with stage("embed"):
            dense = rt.encoder.encode_query(query)
    if mode == SearchMode.SEMANTIC:
        sparse = None
    elif sparse is None and query:
        sparse = index.bm25.encode_query(query)
    if sparse is not None and len(sparse) == 0:
        sparse = None  # only stopwords: hybrid degenerates to semantic
    if dense is None and sparse is None:
        return SearchResult()  # BM25 alone with nothing to match
    cfg = rt.settings.search
    with stage("vector_query"):
        return store.search(
            dense=dense,
            sparse=sparse,
            filters=spec,
            limit=limit,
            offset=offset,
            candidates=candidates if candidates is not None else cfg.candidates,
            fusion=fusion if fusion is not None else cfg.fusion_spec,
            details=details,
        )


def relaxation_probe(
    rt: Runtime, index: EntityIndex, *, query: str, mode: SearchMode
) -> Callable[[FilterSpec], SearchResult]:
    """The query a zero-result suggestion runs once per dropped filter
    (:func:`search_service.search.facets.facets_and_suggestion`): ``query`` under the
    relaxed filters, the candidate lists only (no page details)."""

    def probe(relaxed: FilterSpec) -> SearchResult:
        return retrieve(
            rt, index, query=query, mode=mode, spec=relaxed, limit=1, offset=0, details=False
        )

    return probe


def boost_config(req: SearchRequest) -> BoostConfig:
    """The boosts a search request switches on (``req.boosts``)."""
    preferred = req.boosts.availability
    return BoostConfig(
        recency=req.boosts.recency,
        strength=req.boosts.strength,
        availability=preferred.value if preferred is not None else None,
    )


@dataclass(slots=True)
class _SearchPlan:
    req: SearchRequest
    query: str
    spec: FilterSpec
    pending: frozenset[int]
    boosts: BoostConfig
    now: int


def _plan_search(session: Session, req: SearchRequest, query: str) -> _SearchPlan:
    # Points with a pending removal are excluded inside the query, so they take no
    # rank, score or page slot (read with the caller's API key: no statement of its
    # own); hydration checks every page hit against SQL again, and a hit that fails
    # is replaced from the pool (search/pipeline.py).
    pending = pending_removal_ids(session, entity=PROFILES)
    return _SearchPlan(
        req=req,
        query=query,
        spec=replace(filter_spec(req.filters), exclude_ids=pending),
        pending=pending,
        boosts=boost_config(req),
        now=now_ms(),
    )


def _rank_search(rt: Runtime, p: _SearchPlan, depth: int, pool: int) -> Ranking:
    found = retrieve(
        rt,
        rt.index(PROFILES),
        query=p.query,
        mode=p.req.mode,
        spec=p.spec,
        limit=depth,
        offset=0,
        candidates=pool,
        details=False,
    )
    if not p.query or not p.boosts.active or not found.page:
        return Ranking(found.page, found)  # a browse is ordered by time: no boosts
    payloads = rt.index(PROFILES).store.point_values([h.id for h in found.page], BOOST_FIELDS)
    boosted = apply_boosts(found.page, payloads, p.boosts, p.now)
    return Ranking(boosted.hits, found, factors=boosted.factors)


def search_profiles(
    rt: Runtime, session: Session, req: SearchRequest, *, counted: bool = True
) -> SearchResponse:
    """Run an employer search, paged by ``offset`` or ``cursor`` and optionally
    diversified by MMR (``search/paging.py``), through the ranked-list pipeline
    (``search/pipeline.py``). ``counted=False`` (a saved-search run, not a person
    searching) keeps it out of the search metrics.

    An empty query lists profiles matching the filters, most recent
    employer-visible change first (score = ``visible_updated_at``, epoch ms).
    A text query's fused candidates are multiplied by the boosts ``req.boosts``
    switches on (``search/boosts.py``) before paging; each hit's explanation
    lists them with their factors, and the query's skills the profile holds.
    With ``req.facets``, the response counts them (:func:`facet_counts`); when
    the first page is empty and filters were set, it suggests the one filter to
    drop (:func:`best_relaxation`: one extra count per filter). Every first page
    is counted in the search metrics.

    Raises:
        InvalidRequestError: a bad cursor, or a cursor with an offset (422).
        EncoderError: the query could not be embedded.
        VectorStoreError: the vector store failed (StoreUnavailableError -> 503).
    """
    started = time.perf_counter()
    query = canonicalise_query(req.query.strip())
    ran = run_ranked_list(
        rt,
        binding={
            "list": "profiles.search",
            "query": query,
            "mode": req.mode.value,
            "filters": req.filters.model_dump(mode="json"),
            "diversity": req.diversity,
            "boosts": req.boosts.model_dump(mode="json"),
        },
        paging=ListParams(req.limit, req.offset, req.cursor, req.diversity),
        store=rt.index(PROFILES).store,
        plan=lambda: _plan_search(session, req, query),
        rank=lambda p, depth, pool: _rank_search(rt, p, depth, pool),
        hydrate=lambda p, page, ranking: hydrate_profiles(
            session,
            page,
            dense=ranking.found.dense,
            keyword=ranking.found.keyword,
            term_names=rt.index(PROFILES).bm25.term_names(p.query) if p.query else {},
            query=p.query,
            boosts=ranking.factors,
            hidden=ranking.hidden,
        ),
    )
    assert ran is not None  # the plan always ranks
    plan, listed = ran
    hits, found = listed.results, listed.ranking.found

    def servable(versions: Mapping[int, int | None]) -> Collection[int]:
        return servable_user_ids(session, versions)

    first_page = req.offset == 0 and req.cursor is None
    facets, suggestion = facets_and_suggestion(
        rt.index(PROFILES).store,
        plan.spec,
        result=found if query else None,
        probe=relaxation_probe(rt, rt.index(PROFILES), query=query, mode=req.mode),
        servable=servable,
        facets=[PROFILE_FACETS[name] for name in dict.fromkeys(req.facets)],
        filters=req.filters,
        relaxed_spec=lambda relaxed: replace(filter_spec(relaxed), exclude_ids=plan.pending),
        suggest=first_page and not hits,
    )
    if first_page and counted:
        rt.metrics.record_search("profiles", results=len(hits))
    return SearchResponse(
        results=hits,
        took_ms=round((time.perf_counter() - started) * 1000, 2),
        next_offset=listed.next_offset,
        next_cursor=listed.next_cursor,
        facets=facets,
        suggestion=suggestion,
    )


@lru_cache(maxsize=4096)
def _phrase(skill: str) -> re.Pattern[str]:
    # The taxonomy's word boundaries (indexers/taxonomy.py, ``_QUERY_RE``): not glued
    # to a word character, "+" or "#", nor part of a dotted or hyphenated token, so
    # "java" is not named by "javascript" nor "js" by "node.js".
    return re.compile(r"(?<![\w+#])(?<!\w[.\-])" + re.escape(skill) + r"(?![\w+#])(?![.\-]\w)")


@lru_cache(maxsize=256)
def _query_text(query: str) -> str:
    return normalise_keyword(query)


@lru_cache(maxsize=16384)
def _named_at(skill: str, text: str) -> int:
    # Where the normalised query ``text`` names ``skill`` first, -1 for nowhere
    # (single letters never). Memoised: the hits of one page share most skills.
    if len(skill) < 2:
        return -1
    found = _phrase(skill).search(text)
    return found.start() if found is not None else -1


def shown_skills(skills: Sequence[str], query: str) -> tuple[list[str], list[str]]:
    """One profile's skills as a hit shows them: ``(top_skills, matched_skills)``.

    This is the one definition of a matched skill, which the console's cards and
    explanations both show: an employer-visible skill of the profile that the
    query names, as a whole word or phrase in any case ("react" and "React" name
    ``react``; an alias such as "ReactJS" names it once :func:`canonicalise_query`
    has rewritten it). Single-letter skills ("c", "r") are never read out of a
    query: they read as letters (the taxonomy's rule for running text).

    Args:
        skills: the profile's employer-visible skill names in their order
            (``skills.position``); repeats and spellings of one canonical skill
            are shown once (:func:`indexers.taxonomy.normalise_skill`).
        query: the query after :func:`canonicalise_query`; "" matches nothing.

    Returns:
        ``matched_skills``: the skills the query names, each once, in the order the
        query names them. ``top_skills``: at most :data:`TOP_SKILLS` skills, the
        matched ones first, then the rest in the profile's order; no repeats.
    """
    unique = list(dict.fromkeys(s for s in map(normalise_skill, skills) if s))
    text = _query_text(query)
    named: list[tuple[int, int, str]] = []
    if text:
        for order, skill in enumerate(unique):
            at = _named_at(skill, text)
            if at >= 0:
                named.append((at, order, skill))
    matched = [skill for _, _, skill in sorted(named)]
    leading = set(matched)
    rest = [skill for skill in unique if skill not in leading]
    return (matched + rest)[:TOP_SKILLS], matched


def hydrate_profiles(
    session: Session,
    page: list[Hit],
    *,
    dense: list[Hit],
    keyword: list[Hit],
    term_names: dict[int, str],
    query: str = "",
    boosts: Mapping[int, Sequence[tuple[str, float]]] | None = None,
    applied: Collection[int] = (),
    hidden: set[int] | None = None,
) -> list[SearchHit]:
    """Turn ranked profile points into hits from SQL, with explanations.

    Drops every hit whose user is not searchable now, or whose point predates
    the user's privacy floor (:func:`servable_profile_cards`); shows only
    employer-visible skills.

    Args:
        session: the unit of work.
        page: the ranked points, best first.
        dense, keyword: each retriever's candidate list (for ranks and scores).
        term_names: BM25 term id -> query word (for ``matchedTerms``).
        query: the query text after :func:`canonicalise_query` ("" for none):
            the employer-visible skills it names are the hit's ``matchedSkills``
            and lead its ``topSkills`` (:func:`shown_skills`).
        boosts: point id -> ``(name, factor)`` of each boost applied to it.
        applied: ids of students who applied to the gig whose list this is: they
            are named in full (:meth:`SearchHit.employer_name`).
        hidden: ids of the request's hits hidden so far
            (:attr:`search_service.search.pipeline.Ranking.hidden`); the hits this
            call drops are added, and all are left out of the ranks shown.
    """
    with stage("hydrate"):
        # One statement: the cards with their skills (all of them when a query may
        # name any, else the first TOP_SKILLS), already filtered to the servable.
        users = servable_profile_cards(
            session,
            {h.id: h.version for h in page},
            skills=True,
            skills_below=None if query else TOP_SKILLS,
        )
    gone = hidden if hidden is not None else set()
    gone.update(h.id for h in page if h.id not in users)
    dense_rank, kw_rank = ranks(dense, gone), ranks(keyword, gone)
    with stage("explain"):
        hits: list[SearchHit] = []
        for hit in page:
            user = users.get(hit.id)
            if user is None:
                continue  # deleted, suspended, or reduced since this version was indexed
            headline = user.headline
            visible_skills = list(user.skills)
            if user.skills_visibility == Visibility.PRIVATE.value:
                visible_skills = []
            d, k = dense_rank.get(hit.id), kw_rank.get(hit.id)
            # The query's few terms looked up in the hit's many (same set either way).
            terms = hit.terms or frozenset()
            matched = sorted({name for t, name in term_names.items() if t in terms})
            top_skills, matched_skills = shown_skills(visible_skills, query)
            hits.append(
                SearchHit(
                    user_id=hit.id,
                    external_id=user.external_id,
                    name=SearchHit.employer_name(
                        first_name=user.first_name,
                        last_name=user.last_name,
                        username=user.username,
                        full_name=user.name,
                        applied=hit.id in applied,
                    ),
                    headline=headline,
                    top_skills=top_skills,
                    score=hit.score,
                    explanation=Explanation(
                        keyword_rank=k[0] if k else None,
                        keyword_score=k[1] if k else None,
                        semantic_rank=d[0] if d else None,
                        semantic_score=d[1] if d else None,
                        matched_terms=matched,
                        matched_skills=matched_skills,
                        boosts=[
                            AppliedBoost(name=name, factor=factor)
                            for name, factor in (boosts or {}).get(hit.id, ())
                        ],
                    ),
                )
            )
    return hits
