"""Facet counts and zero-result suggestions, shared by employer and gig search.

Both count one set of points (:class:`models.FacetBasis`), read from the index
and then passed through the search's own hydration check, so a count never
includes a result the search would not serve:

* a filter-only browse counts every point matching the filters
  (:meth:`indexers.VectorStore.scan_payloads`, exact);
* a text query counts the union of the candidate lists the retrievers returned
  at their prefetch depth: the set the fused ranking is drawn from.

Values come from the indexed payload, which holds only what employers (or
students, for gigs) may see: a private section never reaches it
(``indexers.documents``), and a point built before a privacy reduction is
refused by the hydration check until it is re-indexed.

A zero-result suggestion tries each filter of the request once
(:func:`relaxations`: one item of a list filter, or one scalar filter), counts
the results without it the same way, and reports the best.

:func:`facets_and_suggestion` is the one step both searches run after
hydration: the facet counts asked for, and the suggestion when a first page is
empty.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

from indexers import FilterSpec, SearchResult, VectorStore
from indexers.store import BROWSE_ORDER_FIELD
from models import FACET_LIMIT, FacetBasis, FacetCounts, FacetValue, FilterSuggestion
from models.common import CamelModel

__all__ = [
    "MAX_RELAXATIONS",
    "Facet",
    "Servable",
    "best_relaxation",
    "count_facets",
    "counted_payloads",
    "facet_counts",
    "facets_and_suggestion",
    "relaxations",
]

MAX_RELAXATIONS = 32
"""Most extra counts a zero-result suggestion runs: one per filter, and the
request limits allow at most 32 (employer search: 20 skills, 10 languages, a
location, an availability)."""

F = TypeVar("F", bound=CamelModel)

Servable = Callable[[Mapping[int, int | None]], Collection[int]]
"""The search's hydration check: point id -> its indexed version (epoch ms, or
None) in, the ids it may serve out."""


@dataclass(frozen=True, slots=True)
class Facet:
    """How one facet reads a payload.

    Attributes:
        name: the API name (``FacetName`` / ``GigFacetName`` value).
        field: the payload field counted.
        first_only: count only the first value of a list (``location_terms``
            starts with the whole normalised location, then its comma parts).
        labels: payload value -> the value shown (``workplace`` -> ``remote``).
    """

    name: str
    field: str
    first_only: bool = False
    labels: Mapping[str, str] | None = None

    def values(self, payload: Mapping[str, Any]) -> set[str]:
        """The distinct values ``payload`` contributes to this facet."""
        raw = payload.get(self.field)
        items = raw if isinstance(raw, list) else ([] if raw is None else [raw])
        if self.first_only:
            items = items[:1]
        found = {str(v) for v in items if v is not None and str(v)}
        if self.labels is not None:
            found = {self.labels.get(v, v) for v in found}
        return found


def counted_payloads(
    store: VectorStore,
    spec: FilterSpec,
    *,
    result: SearchResult | None,
    fields: Sequence[str],
    servable: Servable,
) -> dict[int, dict[str, Any]]:
    """The payloads (``fields`` plus ``updated_at``) of the points a search counts,
    by id: with ``result`` None (a filter-only browse), every servable point
    matching ``spec``; else the servable union of ``result``'s candidate lists
    (a text query run with ``spec``).

    Raises:
        VectorStoreError: the store failed.
    """
    wanted = list(dict.fromkeys([*fields, BROWSE_ORDER_FIELD]))
    if result is None:
        payloads = store.scan_payloads(spec, fields=wanted)
    else:
        ids = list(dict.fromkeys(h.id for h in (*result.dense, *result.keyword)))
        payloads = store.payloads(ids, fields=wanted) if ids else {}
    keep = servable({pid: _version(p) for pid, p in payloads.items()})
    return {pid: p for pid, p in payloads.items() if pid in keep}


def count_facets(
    payloads: Iterable[Mapping[str, Any]], facets: Sequence[Facet], *, limit: int = FACET_LIMIT
) -> dict[str, list[FacetValue]]:
    """Count each facet's values over ``payloads`` (a payload counts a value once):
    the ``limit`` most frequent per facet, count descending then value ascending."""
    counters: dict[str, Counter[str]] = {f.name: Counter() for f in facets}
    for payload in payloads:
        for facet in facets:
            counters[facet.name].update(facet.values(payload))
    return {
        name: [
            FacetValue(value=value, count=n)
            for value, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        ]
        for name, counter in counters.items()
    }


def facet_counts(
    store: VectorStore,
    spec: FilterSpec,
    *,
    result: SearchResult | None,
    facets: Sequence[Facet],
    servable: Servable,
) -> FacetCounts:
    """The facet counts of a search run with ``spec``: ``result`` is the text
    query's outcome, None for a filter-only browse (:func:`counted_payloads`).

    Raises:
        VectorStoreError: the store failed.
    """
    payloads = counted_payloads(
        store, spec, result=result, fields=[f.field for f in facets], servable=servable
    )
    return FacetCounts(
        basis=FacetBasis.ALL_MATCHES if result is None else FacetBasis.CANDIDATES,
        counted=len(payloads),
        values=count_facets(payloads.values(), facets),
    )


def relaxations(filters: F) -> Iterator[tuple[str, str | int | bool, F]]:
    """Each way to drop one filter from ``filters``: ``(name, value, filters
    without it)``, where ``name`` is the filter's wire name, ``value`` one item
    of a list filter (each distinct item once) or the value of a scalar filter
    (an enum's string value). Unset filters yield nothing."""
    for name, info in type(filters).model_fields.items():
        current = getattr(filters, name)
        wire = info.alias or name
        if isinstance(current, list):
            for item in dict.fromkeys(current):
                kept = [x for x in current if x != item]
                yield wire, item, filters.model_copy(update={name: kept})
        elif current is not None:
            value = current.value if isinstance(current, Enum) else current
            yield wire, value, filters.model_copy(update={name: None})


def best_relaxation(
    options: Iterable[tuple[str, str | int | bool, FilterSpec]],
    count: Callable[[FilterSpec], int],
    *,
    original: FilterSpec,
) -> FilterSuggestion | None:
    """The filter whose removal gives the most results (the first such in request
    order on a tie), or None when no removal gives any.

    Runs ``count`` once per option whose spec differs from ``original`` (an
    option that changes nothing, such as a blank item, is skipped), at most
    :data:`MAX_RELAXATIONS` times.
    """
    best: FilterSuggestion | None = None
    tried = 0
    for drop, value, spec in options:
        if spec == original:
            continue
        if tried == MAX_RELAXATIONS:
            break
        tried += 1
        n = count(spec)
        if n > 0 and (best is None or n > best.results):
            best = FilterSuggestion(drop=drop, value=value, results=n)
    return best


def facets_and_suggestion(
    store: VectorStore,
    spec: FilterSpec,
    *,
    result: SearchResult | None,
    probe: Callable[[FilterSpec], SearchResult],
    servable: Servable,
    facets: Sequence[Facet],
    filters: F,
    relaxed_spec: Callable[[F], FilterSpec],
    suggest: bool,
) -> tuple[FacetCounts | None, FilterSuggestion | None]:
    """The facet counts and the zero-result suggestion of one search.

    Args:
        store: the collection searched.
        spec: the search's filter (request filters plus the search's own
            exclusions).
        result: the text query's outcome; None for a filter-only browse.
        probe: runs the text query under a relaxed filter (one hit deep is
            enough: its candidate lists are what is counted); called only when
            ``result`` is not None.
        servable: the search's hydration check.
        facets: the facets asked for; none gives no counts (None).
        filters: the request's filters, each dropped in turn by
            :func:`relaxations`.
        relaxed_spec: the filter of the search run with relaxed ``filters``
            (built as ``spec`` is).
        suggest: look for a suggestion (a first page came back empty).

    Returns:
        ``(facet counts or None, suggestion or None)``: counts as
        :func:`facet_counts`, the suggestion as :func:`best_relaxation` (one
        extra count per filter, at most :data:`MAX_RELAXATIONS`).

    Raises:
        VectorStoreError: the store failed.
        EncoderError: ``probe`` could not embed the query.
    """
    counts = None
    if facets:
        counts = facet_counts(store, spec, result=result, facets=facets, servable=servable)
    if not suggest:
        return counts, None
    text_query = result is not None

    def count(relaxed: FilterSpec) -> int:
        found = probe(relaxed) if text_query else None
        return len(counted_payloads(store, relaxed, result=found, fields=(), servable=servable))

    options = (
        (drop, value, relaxed_spec(relaxed)) for drop, value, relaxed in relaxations(filters)
    )
    return counts, best_relaxation(options, count, original=spec)


def _version(payload: Mapping[str, Any]) -> int | None:
    value = payload.get(BROWSE_ORDER_FIELD)
    return int(value) if value is not None else None
