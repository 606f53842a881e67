"""The pure parts of facets and suggestions: counting, relaxations, the best one."""

from __future__ import annotations

from typing import Any

import pytest

from indexers import FilterSpec
from models import GigSearchFilters, PayUnit, SearchFilters
from search_service.metrics import Metrics
from search_service.search.facets import (
    MAX_RELAXATIONS,
    Facet,
    best_relaxation,
    count_facets,
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


def test_an_unknown_search_kind_is_refused() -> None:
    metrics = Metrics()
    with pytest.raises(ValueError, match="unknown search kind"):
        metrics.record_search("jobs", results=0)
    metrics.record_search("gigs", results=0)
    assert metrics.zero_result_searches.labels(kind="gigs")._value.get() == 1
