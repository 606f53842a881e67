"""Wire schemas of ``POST /v1/search`` and ``POST /v1/gigs/search`` (requests,
responses, explanations, facet counts, zero-result suggestions).

Validation here is the API contract: unknown fields are rejected (422 naming
the field), types are strict (``CamelRequest``: ``"5"`` is not a number, ``"yes"``
not a boolean), ``limit`` is 1..100, ``query`` at most ``MAX_QUERY_LENGTH`` characters,
each skill or language filter not blank and at most ``MAX_LIST_ITEM_LENGTH`` (100)
characters, ``cursor`` at most ``MAX_CURSOR_LENGTH`` characters, ``diversity`` 0..1.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field

from models.common import CamelRequest, CamelResponse, ListItem, WireEnum
from models.gig import CandidateDecision, GigPay, PayUnit
from models.profile import Availability
from models.user import display_name

__all__ = [
    "FACET_LIMIT",
    "CURSOR_DESCRIPTION",
    "DIVERSITY_DESCRIPTION",
    "MAX_CURSOR_LENGTH",
    "MAX_QUERY_LENGTH",
    "CandidateHit",
    "CandidateResponse",
    "FacetBasis",
    "FacetCounts",
    "FacetName",
    "FacetValue",
    "FilterSuggestion",
    "GigFacetName",
    "GigHit",
    "GigSearchFilters",
    "GigSearchRequest",
    "GigSearchResponse",
    "AppliedBoost",
    "BoostSwitches",
    "Explanation",
    "SearchFilters",
    "SearchHit",
    "SearchMode",
    "SearchRequest",
    "SearchResponse",
]

MAX_QUERY_LENGTH = 512
"""Longest accepted query, in characters (a long job ad fits; a whole CV does not)."""
MAX_CURSOR_LENGTH = 8192
"""Longest accepted ``cursor``, in characters: a cursor grows by two to four
characters per result served before it, and paging stops at ``search.max_depth``
results (default 500, at most 1000), below this."""
CURSOR_DESCRIPTION = (
    "Opaque cursor: the nextCursor of the previous page. Bound to the request "
    "(query, filters, mode, diversity, list); not with offset > 0."
)
DIVERSITY_DESCRIPTION = (
    "0..1: Maximal Marginal Relevance re-ranking, lambda = 1 - diversity; "
    "0 (default) keeps the ranking as it is."
)


FACET_LIMIT = 20
"""Values returned per facet: the most frequent, by count descending then value."""


class FacetName(WireEnum):
    """Facets of employer search; each counts a profile payload field."""

    SKILLS = "skills"
    LANGUAGES = "languages"
    AVAILABILITY = "availability"
    LOCATION = "location"


class GigFacetName(WireEnum):
    """Facets of gig search; each counts a gig payload field (``remote``: the
    values ``"true"`` and ``"false"``)."""

    SKILLS = "skills"
    AVAILABILITY = "availability"
    LOCATION = "location"
    REMOTE = "remote"


class FacetBasis(WireEnum):
    """Which set a facet count is over.

    ``all_matches``: a filter-only browse: every servable point matching the
    filters, exact. ``candidates``: a text query: the servable points in the
    union of the candidate lists the retrievers returned at their prefetch
    depth (``GIGSY_SEARCH__CANDIDATES``, deeper for a deep page), which is
    the set the fused ranking is drawn from.
    """

    ALL_MATCHES = "all_matches"
    CANDIDATES = "candidates"


class FacetValue(CamelResponse):
    """One facet value and how many counted results hold it."""

    value: str
    count: int


class FacetCounts(CamelResponse):
    """Facet counts of a search: for each requested facet, the ``FACET_LIMIT``
    most frequent values (count descending, then value ascending). Only
    results the search may serve are counted, and only what their indexed,
    employer-visible document holds (never a private section's values)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "basis": "all_matches",
                    "counted": 42,
                    "values": {
                        "skills": [{"value": "python", "count": 17}, {"value": "sql", "count": 9}],
                        "location": [{"value": "berlin, germany", "count": 12}],
                    },
                }
            ]
        }
    )

    basis: FacetBasis
    counted: int = Field(description="How many results the counts are over.")
    values: dict[str, list[FacetValue]] = Field(
        description="Facet name -> its top values; every requested facet is a key."
    )


class FilterSuggestion(CamelResponse):
    """What to drop from a search that found nothing: the one filter whose
    removal gives the most results, and how many (counted like facets: every
    match of a filter-only browse, the retrievers' candidates of a text query)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"drop": "skills", "value": "cobol", "results": 7}]}
    )

    drop: str = Field(description="The filter's name as in the request's ``filters``.")
    value: str | int | bool = Field(
        description="The value to drop: one item of a list filter, else the filter's value."
    )
    results: int = Field(ge=1, description="How many results the search gives without it.")


class SearchMode(WireEnum):
    """Which retrievers rank the results."""

    HYBRID = "hybrid"
    KEYWORD = "keyword"
    SEMANTIC = "semantic"


class SearchFilters(CamelRequest):
    """Hard filters applied inside every retriever. Lists match all of their values."""

    skills: list[ListItem] = Field(default_factory=list, max_length=20)
    languages: list[ListItem] = Field(default_factory=list, max_length=10)
    location: str | None = Field(default=None, max_length=200)
    availability: Availability | None = None


class BoostSwitches(CamelRequest):
    """Boosts of employer search, applied to the fused score of a text query
    (``search_service/search/boosts.py`` gives the factors and their bounds)."""

    recency: bool = Field(
        default=True,
        description="Favour recent employer-visible activity (30-day half-life, at most x1.05).",
    )
    strength: bool = Field(
        default=True, description="Favour complete profiles (profile strength, at most x1.05)."
    )
    availability: Availability | None = Field(
        default=None,
        description="Favour this availability (x1.05) without filtering the others out.",
    )


class SearchRequest(CamelRequest):
    """Employer search. An empty ``query`` browses by filters, most recently updated first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "query": "python data analyst",
                    "filters": {"skills": ["sql"], "availability": "part_time"},
                    "limit": 10,
                    "facets": ["skills", "location"],
                }
            ]
        }
    )

    query: str = Field(default="", max_length=MAX_QUERY_LENGTH)
    mode: SearchMode = SearchMode.HYBRID
    filters: SearchFilters = Field(default_factory=SearchFilters)
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=10_000)
    facets: list[FacetName] = Field(
        default_factory=list,
        max_length=len(FacetName),
        description="Facets to count for these filters (none by default).",
    )
    cursor: str | None = Field(
        default=None, max_length=MAX_CURSOR_LENGTH, description=CURSOR_DESCRIPTION
    )
    diversity: float = Field(default=0.0, ge=0.0, le=1.0, description=DIVERSITY_DESCRIPTION)
    boosts: BoostSwitches = Field(
        default_factory=BoostSwitches,
        description="Boosts after fusion (text queries only); each can be switched off.",
    )


class AppliedBoost(CamelResponse):
    """One boost applied to a result: its name and the factor its score was multiplied by."""

    name: str
    factor: float


class Explanation(CamelResponse):
    """Why a result ranks where it does.

    Ranks are 1-based positions in each retriever's candidate list (``None`` when
    the retriever did not return the profile within its candidate pool); scores are
    the retriever's raw scores (BM25 with IDF; cosine similarity).
    """

    keyword_rank: int | None = None
    keyword_score: float | None = None
    semantic_rank: int | None = None
    semantic_score: float | None = None
    matched_terms: list[str] = Field(default_factory=list)
    matched_skills: list[str] = Field(
        default_factory=list,
        description="Skills both sides list (employer-visible ones only); in search, the "
        "query's skills (through the skill taxonomy) the profile lists.",
    )
    missing_skills: list[str] = Field(
        default_factory=list,
        description="Recommendations: the gig's required skills the student does not list.",
    )
    boosts: list[AppliedBoost] = Field(
        default_factory=list,
        description="Boosts applied after fusion, each with its factor (score = fused x factors).",
    )


class SearchHit(CamelResponse):
    """One ranked candidate, as an employer sees them (``docs/privacy.md``,
    "Identity before and after contact").

    Before contact an employer sees the student's display name (first name and
    last initial, as on the public page) and never their identity-provider id;
    the full name once the student applied to the employer's gig. Every hit is
    built with :meth:`employer_name`, the one place that rule is written.
    """

    user_id: int
    external_id: str | None = Field(
        description="The id of the student's record in the system they were imported "
        "from (null when they signed up here)."
    )
    name: str = Field(
        description='The display name ("Ada L."), or the full name on a gig\'s '
        "candidates and applicants who applied to it."
    )
    headline: str
    top_skills: list[str]
    score: float
    explanation: Explanation

    @staticmethod
    def employer_name(
        *,
        first_name: str | None,
        last_name: str | None,
        username: str | None,
        full_name: str,
        applied: bool,
    ) -> str:
        """The name an employer is shown: the full name once the student applied to
        the employer's gig (``applied``), otherwise :func:`models.user.display_name`."""
        if applied and full_name.strip():
            return full_name
        return display_name(first_name, last_name, username)


class SearchResponse(CamelResponse):
    """Ranked results and server-side time in milliseconds; ``nextOffset`` is the
    offset of the next page and ``nextCursor`` its cursor (both null on the last).
    ``facets`` when the request asked for some; ``suggestion`` when the first page
    is empty and a filter was set (null when no single filter's removal helps)."""

    results: list[SearchHit]
    took_ms: float
    next_offset: int | None = None
    facets: FacetCounts | None = None
    suggestion: FilterSuggestion | None = None
    next_cursor: str | None = Field(
        default=None, description="Cursor of the next page (null on the last)."
    )


class GigSearchFilters(CamelRequest):
    """Hard filters of gig search, applied inside every retriever; all must hold.

    ``skills``: each must be among the gig's required or nice-to-have skills.
    ``remote``: true keeps remote gigs only, false on-site ones only.
    Pay bounds are minor units (cents) and compare the gig's amount as posted;
    give ``currency`` and ``payUnit`` to compare like with like. Deadlines are
    epoch ms; a gig without a deadline is later than any bound.
    """

    skills: list[ListItem] = Field(default_factory=list, max_length=20)
    location: str | None = Field(default=None, max_length=200)
    remote: bool | None = None
    availability: Availability | None = None
    pay_min: int | None = Field(default=None, ge=0, le=10**12)
    pay_max: int | None = Field(default=None, ge=0, le=10**12)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    pay_unit: PayUnit | None = None
    deadline_after: int | None = Field(default=None, ge=0)
    deadline_before: int | None = Field(default=None, ge=0)


class GigSearchRequest(CamelRequest):
    """Student gig search. An empty ``query`` browses open gigs by filters, newest first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "query": "frontend developer",
                    "filters": {"skills": ["react"], "remote": True, "payMin": 1500},
                    "limit": 10,
                    "facets": ["skills", "remote"],
                }
            ]
        }
    )

    query: str = Field(default="", max_length=MAX_QUERY_LENGTH)
    mode: SearchMode = SearchMode.HYBRID
    filters: GigSearchFilters = Field(default_factory=GigSearchFilters)
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=10_000)
    facets: list[GigFacetName] = Field(
        default_factory=list,
        max_length=len(GigFacetName),
        description="Facets to count for these filters (none by default).",
    )
    cursor: str | None = Field(
        default=None, max_length=MAX_CURSOR_LENGTH, description=CURSOR_DESCRIPTION
    )
    diversity: float = Field(default=0.0, ge=0.0, le=1.0, description=DIVERSITY_DESCRIPTION)


class GigHit(CamelResponse):
    """One ranked open gig, as students see it (pay in minor units, times epoch ms)."""

    gig_id: int
    title: str
    company: str
    location: str | None
    remote: bool
    availability: Availability | None
    pay: GigPay | None
    deadline: int | None
    required_skills: list[str]
    score: float
    explanation: Explanation


class GigSearchResponse(CamelResponse):
    """Ranked gigs; ``nextOffset`` and ``nextCursor`` lead to the next page (null on
    the last); ``facets`` and ``suggestion`` as in employer search."""

    results: list[GigHit]
    took_ms: float
    next_offset: int | None = None
    facets: FacetCounts | None = None
    suggestion: FilterSuggestion | None = None
    next_cursor: str | None = Field(
        default=None, description="Cursor of the next page (null on the last)."
    )


class CandidateHit(SearchHit):
    """A student ranked for a gig, with the owner's decision and whether they applied."""

    decision: CandidateDecision | None = None
    applied: bool = False


class CandidateResponse(CamelResponse):
    """Ranked students; ``nextOffset`` and ``nextCursor`` lead to the next page
    (null on the last)."""

    results: list[CandidateHit]
    took_ms: float
    next_offset: int | None = None
    next_cursor: str | None = Field(
        default=None, description="Cursor of the next page (null on the last)."
    )
