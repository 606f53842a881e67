"""The one ranked-list pipeline: employer search, gig search and every recommendation
list run through :func:`run_ranked_list`.

A list is described by three functions of its *plan* (the query vectors, filters,
boosts, feedback and exclusions it decided on before ranking):

1. ``rank(plan, depth, pool) -> Ranking``: candidate ids and scores from the engine
   (no payloads, no vectors), fused, then re-ranked with the few payload fields the
   list needs (boosts, skill coverage, fit);
2. the page: offset or cursor, optionally MMR (:class:`search_service.search.paging.Pager`),
   cut here from the whole ranked pool;
3. for the page only: BM25 term ids and versions (:func:`shown_page`, one request);
4. ``hydrate(plan, page, ranking) -> results``: one SQL statement (the rows that may
   still be served, with what the hits show: privacy floor, searchable, no pending
   removal) and explanations. A hit that fails that check is dropped, and the page
   is filled from the next hits of the pool (:meth:`Pager.refill`; in the normal
   case nothing is dropped and no more SQL is sent).

The pager is opened before the plan is made, so a bad cursor fails before any work.
The ranking of the last pool the pager asked for is what hydration explains (each
retriever's ranks and scores) and what facets count.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from indexers import Hit, SearchResult, VectorStore
from search_service.runtime import Runtime
from search_service.search.paging import ListParams, Pager

__all__ = ["Listed", "Ranking", "run_ranked_list", "shown_page"]

_REFILLS = 3
"""Rounds of refilling a page whose hits hydration hid (each one more statement);
a page still short after them is served short (``nextOffset``/``nextCursor``
continue after everything it consumed)."""

P = TypeVar("P")
R = TypeVar("R")


@dataclass(slots=True)
class Ranking:
    """One list's ranking of one candidate pool.

    Attributes:
        hits: the pool ranked, best first (ids and final scores; no term ids yet).
        found: the retrieval it came from (each retriever's candidate list).
        payloads: point id -> the payload fields the re-ranking read, for
            hydration to reuse (e.g. a candidate's skills).
        factors: point id -> ``(boost name, factor)`` of each boost applied.
        hidden: ids hydration found not servable in this request (filled by the
            hydration of each page and refill), left out of the ranks every
            explanation of the request shows. Points whose removal is pending are
            excluded from the query before ranking (their ids read with the API
            key); this covers what the index has not caught up with otherwise.
    """

    hits: list[Hit]
    found: SearchResult = field(default_factory=SearchResult)
    payloads: dict[int, dict[str, object]] = field(default_factory=dict)
    factors: dict[int, list[tuple[str, float]]] = field(default_factory=dict)
    hidden: set[int] = field(default_factory=set)


@dataclass(slots=True)
class Listed(Generic[R]):
    """One page of a ranked list, hydrated.

    Attributes:
        results: the page's hits as the response shows them.
        ranking: the ranking the page was cut from.
        next_offset: offset of the next page, ``None`` on the last.
        next_cursor: cursor of the next page, ``None`` on the last (and for pages
            asked for by ``offset > 0``).
    """

    results: list[R]
    ranking: Ranking
    next_offset: int | None
    next_cursor: str | None


def shown_page(store: VectorStore, page: list[Hit]) -> list[Hit]:
    """The page a list shows, each hit with its BM25 term ids and version
    (:meth:`VectorStore.page_details`, one request), which hydration (the privacy
    floor) and explanations (matched terms) need. A ranked list retrieves its whole
    pool without them: only the page pays for them. Hits that carry a version
    already (a browse, an applicant list) are kept as they are.

    Raises:
        VectorStoreError: the store failed.
    """
    if all(h.version is not None or h.terms is not None for h in page):
        return page
    return store.page_details(page)


def run_ranked_list(
    rt: Runtime,
    *,
    binding: Mapping[str, object],
    paging: ListParams,
    store: VectorStore,
    plan: Callable[[], P | None],
    rank: Callable[[P, int, int], Ranking],
    hydrate: Callable[[P, list[Hit], Ranking], list[R]],
) -> tuple[P, Listed[R]] | None:
    """Run one page of a ranked list (the module docstring's steps).

    Args:
        rt: the runtime (``search`` settings: pool sizes, depth, cursor key).
        binding: the list's normalised request for its cursor: its name
            (``"profiles.search"``), subject, query, filters, mode, diversity.
        paging: limit, offset, cursor and MMR diversity.
        store: the collection ranked (MMR reads its dense vectors, the page its
            term ids and versions).
        plan: makes the plan after the paging arguments are checked; ``None`` when
            the list has nothing to rank (e.g. a student without a profile).
        rank: ``rank(plan, depth, pool)``: the plan's ranking over ``pool``
            candidates per retriever, at least ``depth`` hits when there are.
        hydrate: ``hydrate(plan, page, ranking)``: the page's response hits.

    Returns:
        ``(plan, listed)``, or ``None`` when ``plan`` returned ``None``.

    Raises:
        InvalidRequestError: a bad cursor, or a cursor with an offset (422).
        EncoderError, VectorStoreError: as ``plan``, ``rank`` or the store raise them.
    """
    pager = Pager.open(
        rt.settings.search,
        binding,
        limit=paging.limit,
        offset=paging.offset,
        cursor=paging.cursor,
        diversity=paging.diversity,
    )
    planned = plan()
    if planned is None:
        return None
    last = Ranking([])

    def ranker(depth: int, pool: int) -> list[Hit]:
        nonlocal last
        last = rank(planned, depth, pool)
        return last.hits

    page = shown_page(store, pager.page(ranker, store))
    wanted = len(page)
    results = hydrate(planned, page, last) if page else []
    # A hit hydration hid (not servable any more: deleted, suspended, reduced since
    # it was indexed, removal pending) gives its slot to the next of the pool.
    for _ in range(_REFILLS):
        missing = wanted - len(results)
        more = pager.refill(missing) if missing > 0 else []
        if not more:
            break
        results += hydrate(planned, shown_page(store, more), last)
    return planned, Listed(results, last, pager.next_offset, pager.next_cursor())
