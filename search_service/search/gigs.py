"""Gig search for students: one batched query of the gig collection, SQL hydration,
explanations.

Only servable gigs reach students: the index holds open gigs of owners in good
standing, every query also filters on ``deadline`` (a gig expiring between two
refresh runs is never served), gigs with a pending removal are excluded inside
the query, and hydration re-checks each hit against SQL (open, not deleted,
deadline ahead, owner searchable). Facet counts and the zero-result suggestion
(:mod:`search_service.search.facets`) go through the same check
(:func:`servable_gigs`).
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace

from sqlmodel import Session

from indexers import FilterSpec, Hit, Range, normalise_keyword
from indexers.taxonomy import canonicalise_query, normalise_skills
from models import (
    Explanation,
    Gig,
    GigFacetName,
    GigHit,
    GigPay,
    GigSearchFilters,
    GigSearchRequest,
    GigSearchResponse,
    PayUnit,
    now_ms,
)
from search_service.gigs.repository import gigs_of_searchable_owners
from search_service.metrics import stage
from search_service.outbox import pending_removal_ids
from search_service.runtime import GIGS, PROFILES, Runtime
from search_service.search.facets import Facet, facets_and_suggestion
from search_service.search.paging import ListParams
from search_service.search.pipeline import Ranking, run_ranked_list
from search_service.search.service import ranks, relaxation_probe, retrieve

__all__ = [
    "GIG_FACETS",
    "gig_filter_spec",
    "hydrate_gigs",
    "live_gig_spec",
    "search_gigs",
    "servable_gigs",
]

GIG_FACETS: dict[GigFacetName, Facet] = {
    GigFacetName.SKILLS: Facet("skills", "skills"),
    GigFacetName.AVAILABILITY: Facet("availability", "availability"),
    GigFacetName.LOCATION: Facet("location", "location_terms", first_only=True),
    GigFacetName.REMOTE: Facet("remote", "workplace", labels={"remote": "true", "onsite": "false"}),
}
"""Gig-search facets over the gig payload (``indexers.build_gig_document``):
skills (required and nice-to-have) by canonical taxonomy name, availability,
the whole normalised location, and ``remote`` as ``"true"``/``"false"`` (the
``remote`` filter's values)."""


def servable_gigs(session: Session, ids: Sequence[int], *, now: int) -> dict[int, tuple[Gig, str]]:
    """The gigs among ``ids`` students may see at ``now`` (epoch ms), with their
    owners' names: open, not deleted, deadline ahead, owner searchable, no removal
    of the gig's point pending. The one check hydration, facet counts and
    zero-result suggestions share."""
    rows = gigs_of_searchable_owners(session, ids)
    return {gid: found for gid, found in rows.items() if found[0].is_live(now)}


def live_gig_spec(session: Session, *, now: int, exclude: Iterable[int] = ()) -> FilterSpec:
    """The filter every student-facing gig query carries: deadline after ``now``
    (epoch ms; gigs without one carry :data:`indexers.NO_DEADLINE`), and no gig
    with a pending removal (read with the caller's API key when there is one:
    :func:`search_service.outbox.pending_removal_ids`) or in ``exclude``."""
    return FilterSpec(
        ranges=(Range("deadline", gte=now + 1),),
        exclude_ids=pending_removal_ids(session, entity=GIGS) | frozenset(exclude),
    )


def gig_filter_spec(filters: GigSearchFilters, base: FilterSpec) -> FilterSpec:
    """Add the API filters to ``base`` (:func:`live_gig_spec`), normalised as the
    gig payload is at write (``indexers.build_gig_document``): skills through the
    taxonomy, each required among the gig's skills; location one of the gig's
    ``location_terms``; ``remote`` as ``workplace``; pay (minor units) and
    deadline (epoch ms) as inclusive ranges."""
    keywords = [("skills", s) for s in normalise_skills(filters.skills)]
    if filters.location and normalise_keyword(filters.location):
        keywords.append(("location_terms", normalise_keyword(filters.location)))
    if filters.remote is not None:
        keywords.append(("workplace", "remote" if filters.remote else "onsite"))
    if filters.availability:
        keywords.append(("availability", filters.availability.value))
    if filters.currency:
        keywords.append(("pay_currency", filters.currency))
    if filters.pay_unit:
        keywords.append(("pay_unit", filters.pay_unit.value))
    ranges = list(base.ranges)
    if filters.pay_min is not None or filters.pay_max is not None:
        ranges.append(Range("pay_minor", gte=filters.pay_min, lte=filters.pay_max))
    if filters.deadline_after is not None or filters.deadline_before is not None:
        ranges.append(Range("deadline", gte=filters.deadline_after, lte=filters.deadline_before))
    return replace(base, keywords=base.keywords + tuple(keywords), ranges=tuple(ranges))


def hydrate_gigs(
    session: Session,
    page: Sequence[Hit],
    *,
    dense: Sequence[Hit] = (),
    keyword: Sequence[Hit] = (),
    term_names: dict[int, str] | None = None,
    student_skills: set[str] | None = None,
    scores: dict[int, float] | None = None,
    now: int | None = None,
    hidden: set[int] | None = None,
) -> list[GigHit]:
    """Turn ranked gig points into hits from SQL, with explanations; drops every
    gig students may not see now (not open, deleted, expired, owner gone).

    Args:
        session: the unit of work.
        page: ranked points, best first.
        dense, keyword: each retriever's candidate list (ranks and raw scores).
        term_names: BM25 term id -> query word (``matchedTerms``).
        student_skills: the student's employer-visible skills: fills
            ``matchedSkills`` and ``missingSkills`` (required ones they lack).
        scores: final scores replacing the hits' own (after re-ranking).
        now: clock (epoch ms).
        hidden: as in :func:`search_service.search.service.hydrate_profiles`.
    """
    ts = now if now is not None else now_ms()
    with stage("hydrate"):
        rows = servable_gigs(session, [h.id for h in page], now=ts)
    gone = hidden if hidden is not None else set()
    gone.update(h.id for h in page if h.id not in rows)
    dense_rank, kw_rank = ranks(dense, gone), ranks(keyword, gone)
    names = term_names or {}
    with stage("explain"):
        out: list[GigHit] = []
        for hit in page:
            found = rows.get(hit.id)
            if found is None:
                continue
            gig, company = found
            d, k = dense_rank.get(hit.id), kw_rank.get(hit.id)
            terms = hit.terms or frozenset()
            matched_terms = sorted({name for t, name in names.items() if t in terms})
            matched: list[str] = []
            missing: list[str] = []
            if student_skills is not None:
                skills = list(dict.fromkeys([*gig.required_skills, *gig.nice_skills]))
                matched = [s for s in skills if s in student_skills]
                missing = [s for s in gig.required_skills if s not in student_skills]
            pay = None
            if gig.pay_amount is not None and gig.pay_currency and gig.pay_unit:
                pay = GigPay(
                    amount_minor=gig.pay_amount,
                    currency=gig.pay_currency,
                    unit=PayUnit(gig.pay_unit),
                )
            out.append(
                GigHit(
                    gig_id=hit.id,
                    title=gig.title,
                    company=company,
                    location=gig.location,
                    remote=gig.remote,
                    availability=gig.availability,
                    pay=pay,
                    deadline=gig.deadline,
                    required_skills=list(gig.required_skills),
                    score=(scores or {}).get(hit.id, hit.score),
                    explanation=Explanation(
                        keyword_rank=k[0] if k else None,
                        keyword_score=k[1] if k else None,
                        semantic_rank=d[0] if d else None,
                        semantic_score=d[1] if d else None,
                        matched_terms=matched_terms,
                        matched_skills=matched,
                        missing_skills=missing,
                    ),
                )
            )
    return out


def search_gigs(rt: Runtime, session: Session, req: GigSearchRequest) -> GigSearchResponse:
    """Run a student's gig search (hybrid by default; an empty query browses open
    gigs by filters, newest first), paged by ``offset`` or ``cursor`` and
    optionally diversified by MMR (``search/paging.py``), with facet counts when
    asked and a zero-result suggestion, as employer search
    (``search.service.search_profiles``).

    Raises:
        InvalidRequestError: a bad cursor, or a cursor with an offset (422).
        EncoderError: the query could not be embedded.
        VectorStoreError: the vector store failed (StoreUnavailableError -> 503).
    """
    started = time.perf_counter()
    query = canonicalise_query(req.query.strip())
    ts = now_ms()
    store = rt.index(GIGS).store

    def plan() -> tuple[FilterSpec, FilterSpec]:
        """``(live gigs only, with the request's filters)``."""
        base = live_gig_spec(session, now=ts)
        return base, gig_filter_spec(req.filters, base)

    def rank(specs: tuple[FilterSpec, FilterSpec], depth: int, pool: int) -> Ranking:
        found = retrieve(
            rt,
            rt.index(GIGS),
            query=query,
            mode=req.mode,
            spec=specs[1],
            limit=depth,
            offset=0,
            candidates=pool,
            details=False,
        )
        return Ranking(found.page, found)

    ran = run_ranked_list(
        rt,
        binding={
            "list": "gigs.search",
            "query": query,
            "mode": req.mode.value,
            "filters": req.filters.model_dump(mode="json"),
            "diversity": req.diversity,
        },
        paging=ListParams(req.limit, req.offset, req.cursor, req.diversity),
        store=store,
        plan=plan,
        rank=rank,
        hydrate=lambda _specs, page, ranking: hydrate_gigs(
            session,
            page,
            dense=ranking.found.dense,
            keyword=ranking.found.keyword,
            term_names=rt.index(PROFILES).bm25.term_names(query) if query else {},
            now=ts,
            hidden=ranking.hidden,
        ),
    )
    assert ran is not None  # the plan always ranks
    (base, spec), listed = ran
    hits, found = listed.results, listed.ranking.found

    def servable(versions: Mapping[int, int | None]) -> Collection[int]:
        return servable_gigs(session, list(versions), now=ts).keys()

    first_page = req.offset == 0 and req.cursor is None
    facets, suggestion = facets_and_suggestion(
        store,
        spec,
        result=found if query else None,
        probe=relaxation_probe(rt, rt.index(GIGS), query=query, mode=req.mode),
        servable=servable,
        facets=[GIG_FACETS[name] for name in dict.fromkeys(req.facets)],
        filters=req.filters,
        relaxed_spec=lambda relaxed: gig_filter_spec(relaxed, base),
        suggest=first_page and not hits,
    )
    if first_page:
        rt.metrics.record_search("gigs", results=len(hits))
    return GigSearchResponse(
        results=hits,
        took_ms=round((time.perf_counter() - started) * 1000, 2),
        next_offset=listed.next_offset,
        next_cursor=listed.next_cursor,
        facets=facets,
        suggestion=suggestion,
    )
