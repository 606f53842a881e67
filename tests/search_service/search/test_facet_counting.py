"""The pure parts of facets and suggestions: counting, relaxations, the best one."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, cast

import pytest

from indexers import FilterSpec, Hit, SearchResult, VectorStore
from models import FacetBasis, GigSearchFilters, PayUnit, SearchFilters
from search_service.metrics import Metrics
from search_service.search.facets import (
    MAX_RELAXATIONS,
    Facet,
    best_relaxation,
    count_facets,
    facets_and_suggestion,
    relaxations,
)


class TestCountFacets:
    def test_counts_each_payload_once_per_value(self) -> None:
        payloads: list[dict[str, Any]] = [
            {"skills": ["a", "b", "a"]},
            {"skills": ["b"]},
            {"skills": []},
            {},
        ]
        got = count_facets(payloads, [Facet("skills", "skills")])
        assert [(v.value, v.count) for v in got["skills"]] == [("b", 2), ("a", 1)]

    def test_first_only_labels_and_missing_values(self) -> None:
        payloads: list[dict[str, Any]] = [
            {"location_terms": ["berlin, germany", "berlin", "germany"], "workplace": "remote"},
            {"location_terms": [], "workplace": "onsite", "availability": None},
        ]
        facets = [
            Facet("location", "location_terms", first_only=True),
            Facet("remote", "workplace", labels={"remote": "true", "onsite": "false"}),
            Facet("availability", "availability"),
        ]
        got = count_facets(payloads, facets)
        assert [(v.value, v.count) for v in got["location"]] == [("berlin, germany", 1)]
        assert [(v.value, v.count) for v in got["remote"]] == [("false", 1), ("true", 1)]
        assert got["availability"] == []

    def test_top_n_by_count_then_value(self) -> None:
        payloads = [{"k": ["z", "y"]}, {"k": ["y", "x"]}, {"k": ["w"]}]
        got = count_facets(payloads, [Facet("k", "k")], limit=3)
        assert [(v.value, v.count) for v in got["k"]] == [("y", 2), ("w", 1), ("x", 1)]


class TestRelaxations:
    def test_one_per_list_item_and_per_set_scalar(self) -> None:
        filters = SearchFilters(skills=["a", "b", "a"], location="berlin")
        got = [(drop, value, f.model_dump()) for drop, value, f in relaxations(filters)]
        assert [(d, v) for d, v, _ in got] == [
            ("skills", "a"),
            ("skills", "b"),
            ("location", "berlin"),
        ]
        assert got[0][2]["skills"] == ["b"]
        assert got[1][2]["skills"] == ["a", "a"]
        assert got[2][2]["location"] is None
        assert filters.skills == ["a", "b", "a"]  # the request is not changed

    def test_wire_names_and_plain_values(self) -> None:
        filters = GigSearchFilters(remote=False, pay_min=100, pay_unit=PayUnit.HOUR)
        got = [(d, v) for d, v, _ in relaxations(filters)]
        assert got == [("remote", False), ("payMin", 100), ("payUnit", "hour")]

    def test_nothing_to_drop_without_filters(self) -> None:
        assert list(relaxations(SearchFilters())) == []


def _spec(name: str) -> FilterSpec:
    return FilterSpec(keywords=(("k", name),))


class TestBestRelaxation:
    def test_most_results_wins_and_ties_keep_request_order(self) -> None:
        counts = {"a": 2, "b": 5, "c": 5, "d": 0}
        options = [("f", name, _spec(name)) for name in counts]
        best = best_relaxation(options, lambda s: counts[s.keywords[0][1]], original=FilterSpec())
        assert best is not None
        assert (best.drop, best.value, best.results) == ("f", "b", 5)

    def test_none_when_no_removal_helps(self) -> None:
        options = [("f", "a", _spec("a"))]
        assert best_relaxation(options, lambda s: 0, original=FilterSpec()) is None

    def test_skips_no_ops_and_stops_at_the_cap(self) -> None:
        original = _spec("same")
        options = [("f", "noop", original)] + [
            ("f", str(i), _spec(str(i))) for i in range(MAX_RELAXATIONS + 5)
        ]
        seen: list[FilterSpec] = []

        def count(spec: FilterSpec) -> int:
            seen.append(spec)
            return 1

        best_relaxation(options, count, original=original)
        assert len(seen) == MAX_RELAXATIONS
        assert original not in seen


class _Payloads:
    """The two reads facet counting makes of a store, over fixed payloads: a point
    matches a spec when it holds every keyword value."""

    def __init__(self, points: Mapping[int, dict[str, Any]]) -> None:
        self.points = points

    def scan_payloads(
        self, spec: FilterSpec, *, fields: Sequence[str]
    ) -> dict[int, dict[str, Any]]:
        return {
            pid: p
            for pid, p in self.points.items()
            if all(v in p.get(k, ()) for k, v in spec.keywords)
        }

    def payloads(
        self, ids: Sequence[int], fields: Sequence[str] | None = None
    ) -> dict[int, dict[str, Any]]:
        return {pid: self.points[pid] for pid in ids if pid in self.points}


def _filters_spec(filters: SearchFilters) -> FilterSpec:
    keywords = [("skills", s) for s in filters.skills]
    if filters.location:
        keywords.append(("location_terms", filters.location))
    return FilterSpec(keywords=tuple(keywords))


class TestFacetsAndSuggestion:
    POINTS: dict[int, dict[str, Any]] = {
        1: {"skills": ["a"], "location_terms": ["berlin"], "updated_at": 1},
        2: {"skills": ["a", "b"], "location_terms": ["paris"], "updated_at": 1},
        3: {"skills": ["b"], "location_terms": ["paris"], "updated_at": 1},
        4: {"skills": ["b"], "location_terms": ["paris"], "updated_at": 1},  # not servable
    }

    @staticmethod
    def _servable(versions: Mapping[int, int | None]) -> Collection[int]:
        return [pid for pid in versions if pid != 4]

    def test_a_browse_counts_every_servable_match_and_never_probes(self) -> None:
        filters = SearchFilters(skills=["b"])
        probed: list[FilterSpec] = []

        def probe(spec: FilterSpec) -> SearchResult:
            probed.append(spec)
            return SearchResult()

        counts, suggestion = facets_and_suggestion(
            cast(VectorStore, _Payloads(self.POINTS)),
            _filters_spec(filters),
            result=None,
            probe=probe,
            servable=self._servable,
            facets=[Facet("location", "location_terms")],
            filters=filters,
            relaxed_spec=_filters_spec,
            suggest=False,
        )
        assert counts is not None and counts.basis == FacetBasis.ALL_MATCHES
        assert counts.counted == 2  # points 2 and 3; 4 is refused by the check
        assert [(v.value, v.count) for v in counts.values["location"]] == [("paris", 2)]
        assert suggestion is None and probed == []

    def test_a_text_query_suggests_from_probes_without_facets(self) -> None:
        filters = SearchFilters(skills=["a", "b"], location="berlin")
        probed: list[FilterSpec] = []

        def probe(spec: FilterSpec) -> SearchResult:
            probed.append(spec)
            found = _Payloads(self.POINTS).scan_payloads(spec, fields=())
            return SearchResult(keyword=[Hit(id=pid, score=1.0) for pid in found])

        counts, suggestion = facets_and_suggestion(
            cast(VectorStore, _Payloads(self.POINTS)),
            _filters_spec(filters),
            result=SearchResult(),
            probe=probe,
            servable=self._servable,
            facets=[],
            filters=filters,
            relaxed_spec=_filters_spec,
            suggest=True,
        )
        assert counts is None
        assert len(probed) == 3  # one per filter value
        # Dropping "berlin" leaves point 2; dropping "b" leaves point 1: a tie, first wins.
        assert suggestion is not None
        assert (suggestion.drop, suggestion.value, suggestion.results) == ("skills", "b", 1)


def test_an_unknown_search_kind_is_refused() -> None:
    metrics = Metrics()
    with pytest.raises(ValueError, match="unknown search kind"):
        metrics.record_search("jobs", results=0)
    metrics.record_search("gigs", results=0)
    assert metrics.zero_result_searches.labels(kind="gigs")._value.get() == 1
