"""What facet counts and zero-result suggestions cost an employer search, in process.

Times ``search_profiles`` on the ``./var`` data with and without all four facets,
for a filter-only browse of every profile (the largest exact count: a filtered
scroll of every point, then the SQL servability check), a browse filtered on the
most common skill, and hybrid queries (which count the union of the candidate
lists), plus zero-result searches, which run one extra count per filter.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.metrics import percentile
from models import FacetName, SearchFilters, SearchRequest, SearchResponse
from search_service.runtime import Runtime
from search_service.search.service import search_profiles

__all__ = ["FacetCase", "run_facets"]

_QUERIES = (
    "react developer with figma",
    "certified public accountant",
    "python data analyst sql",
    "social media marketing intern",
    "math tutor for high school",
    "customer support english spanish",
)
_ALL = list(FacetName)


@dataclass(frozen=True, slots=True)
class FacetCase:
    """Timings of one kind of search, in ms (wall clock, in process).

    Attributes:
        name: what was searched.
        plain_p50, plain_p95: without facets.
        plain_p50, plain_p95: without facets (zero-result case: the same
            search past the first page, so without a suggestion).
        facets_p50, facets_p95: with all four facets (zero-result case: the
            first page, with its suggestion).
        counted: profiles the facets counted, or the suggestion's results (last run).
    """

    name: str
    plain_p50: float
    plain_p95: float
    facets_p50: float
    facets_p95: float
    counted: int

    def row(self) -> str:
        """One table row: name, plain p50/p95, with facets p50/p95, counted."""
        return (
            f"{self.name:<34} {self.plain_p50:>7.1f} {self.plain_p95:>7.1f}"
            f" {self.facets_p50:>8.1f} {self.facets_p95:>8.1f} {self.counted:>8}"
        )


def _time(rt: Runtime, requests: list[SearchRequest]) -> tuple[list[float], SearchResponse]:
    out: list[float] = []
    last: SearchResponse | None = None
    for req in requests:
        with rt.session() as session:
            started = time.perf_counter()
            last = search_profiles(rt, session, req)
            out.append((time.perf_counter() - started) * 1000)
    assert last is not None
    return out, last


def _case(
    rt: Runtime,
    name: str,
    plain: Callable[[int], SearchRequest],
    timed: Callable[[int], SearchRequest],
    n: int,
) -> FacetCase:
    base, _ = _time(rt, [plain(i) for i in range(n)])
    extra, last = _time(rt, [timed(i) for i in range(n)])
    if last.facets is not None:
        counted = last.facets.counted
    else:
        counted = last.suggestion.results if last.suggestion else 0
    return FacetCase(
        name=name,
        plain_p50=percentile(base, 50),
        plain_p95=percentile(base, 95),
        facets_p50=percentile(extra, 50),
        facets_p95=percentile(extra, 95),
        counted=counted,
    )


def _with_facets(rt: Runtime, name: str, make: Callable[[int], SearchRequest], n: int) -> FacetCase:
    return _case(rt, name, make, lambda i: make(i).model_copy(update={"facets": _ALL}), n)


def run_facets(rt: Runtime, *, n: int) -> list[FacetCase]:
    """Time each case ``n`` times with and without facets (after one warm-up each).

    Raises:
        VectorStoreError: the index is missing or failed.
    """
    warm = SearchRequest(facets=_ALL)
    with rt.session() as session:
        top = search_profiles(rt, session, warm).facets
    skills = top.values["skills"] if top else []
    common = skills[0].value if skills else "python"
    cases = [
        _with_facets(rt, "browse, no filter", lambda i: SearchRequest(), n),
        _with_facets(
            rt,
            f"browse, skill {common!r}",
            lambda i: SearchRequest(filters=SearchFilters(skills=[common])),
            n,
        ),
        _with_facets(
            rt, "hybrid query", lambda i: SearchRequest(query=_QUERIES[i % len(_QUERIES)]), n
        ),
    ]

    def zero(i: int) -> SearchRequest:
        # Nobody lists this skill: the search is empty, so the suggestion tries
        # each of the three filters once.
        return SearchRequest(
            query=_QUERIES[i % len(_QUERIES)],
            filters=SearchFilters(skills=[common, f"no-such-skill-{i}"], languages=["english"]),
        )

    # Baseline: the same empty search past the first page, which suggests nothing.
    past = lambda i: zero(i).model_copy(update={"offset": 20})  # noqa: E731
    cases.append(_case(rt, "hybrid, zero results (3 filters)", past, zero, n))
    return cases
