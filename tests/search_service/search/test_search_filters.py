"""``filter_spec``: the API's search filters as the store's generic keyword conditions."""

from __future__ import annotations

from indexers import build_document
from models import Availability, SearchFilters
from search_service.search.service import filter_spec
from tests.indexers.factories import make_rows


def test_every_filter_becomes_a_normalised_payload_keyword() -> None:
    spec = filter_spec(
        SearchFilters(
            skills=["JS", "React.js", "js"],
            languages=[" English ", "english", "Korean"],
            location=" Berlin,  Germany",
            availability=Availability.PART_TIME,
        )
    )
    assert spec.keywords == (
        ("skills", "javascript"),
        ("skills", "react"),
        ("languages", "english"),
        ("languages", "korean"),
        ("location_terms", "berlin, germany"),
        ("availability", "part_time"),
    )
    assert spec.ranges == ()
    assert spec.exclude_ids == frozenset()


def test_no_filters_is_an_empty_spec() -> None:
    assert filter_spec(SearchFilters()).is_empty
    assert filter_spec(SearchFilters(location="   ")).is_empty


def test_each_keyword_is_in_the_payload_of_a_matching_profile() -> None:
    """The fields and values ``filter_spec`` asks for are those ``build_document`` writes."""
    doc = build_document(
        make_rows(
            skills=["JavaScript", "React"],
            languages=["English", "Korean"],
            location="Berlin, Germany",
            availability="part_time",
        )
    )
    filters = SearchFilters(
        skills=["js", "react"],
        languages=["korean"],
        location="germany",
        availability=Availability.PART_TIME,
    )
    for field, keyword in filter_spec(filters).keywords:
        value = doc.payload[field]
        assert keyword in value if isinstance(value, list) else value == keyword, field
