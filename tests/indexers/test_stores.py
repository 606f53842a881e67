"""Both vector-store adapters (Qdrant Edge and qdrant-client) against one protocol.

Read-only behaviour runs on a module-scoped store loaded once per adapter;
anything that writes gets a fresh store. ``TestCongruence`` runs the same
queries on both adapters and compares the rankings.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest
from qdrant_client import QdrantClient

from indexers import (
    PROFILE_SCHEMA,
    Bm25Encoder,
    CollectionSchema,
    FilterSpec,
    Fusion,
    FusionSpec,
    HashingEncoder,
    Hit,
    IndexPoint,
    Range,
    SearchResult,
    StoreUnavailableError,
    VectorStore,
    VectorStoreError,
    open_store,
)
from indexers.store_client import ClientStore
from indexers.store_edge import EdgeStore
from tests.indexers.factories import (
    DIM,
    LOCAL_QDRANT_PAYLOAD_INDEX_WARNING,
    make_points,
    make_store,
)

pytestmark = LOCAL_QDRANT_PAYLOAD_INDEX_WARNING


@dataclass(frozen=True)
class Person:
    text: str
    skills: tuple[str, ...]
    languages: tuple[str, ...]
    location: tuple[str, ...]
    availability: str
    updated_at: int
    hours: int
    rating: float | None

    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "skills": list(self.skills),
            "languages": list(self.languages),
            "location_terms": list(self.location),
            "availability": self.availability,
            "updated_at": self.updated_at,
            "hours": self.hours,
        }
        if self.rating is not None:
            out["rating"] = self.rating
        return out


SCHEMA = CollectionSchema(
    keyword_fields=PROFILE_SCHEMA.keyword_fields,
    integer_fields=("updated_at", "hours"),
    float_fields=("rating",),
)
"""The profile keyword fields plus a numeric field of each kind, for range filters."""


# Texts have distinct lengths so that keyword scores do not tie.
PROFILES: dict[int, Person] = {
    1: Person(
        "Python backend developer building Django REST APIs and PostgreSQL schemas",
        ("python", "django"),
        ("english", "german"),
        ("berlin, germany", "berlin", "germany"),
        "part_time",
        1_000,
        20,
        4.5,
    ),
    2: Person(
        "React frontend developer, TypeScript",
        ("react", "typescript"),
        ("english",),
        ("munich, germany", "munich", "germany"),
        "full_time",
        2_000,
        40,
        3.25,
    ),
    3: Person(
        "Machine learning engineer training PyTorch models in Python",
        ("python", "pytorch"),
        ("english", "french"),
        ("paris, france", "paris", "france"),
        "part_time",
        3_000,
        15,
        4.75,
    ),
    4: Person(
        "Data analyst: SQL, Python notebooks, Tableau dashboards and weekly reports for sales",
        ("python", "sql"),
        ("german",),
        ("berlin",),
        "weekends",
        4_000,
        10,
        4.0,
    ),
    5: Person(
        "Graphic designer, Figma and Illustrator",
        ("figma",),
        ("french",),
        ("lyon, france", "lyon", "france"),
        "flexible",
        5_000,
        25,
        None,
    ),
    6: Person(
        "Rust systems programmer writing embedded Linux drivers",
        ("rust", "linux"),
        ("english",),
        ("berlin, germany", "berlin", "germany"),
        "full_time",
        6_000,
        40,
        4.5,
    ),
    7: Person(
        "Mobile developer shipping Kotlin Android apps and one Swift app, formerly a Python tutor",
        ("kotlin", "android"),
        ("spanish", "english"),
        ("madrid, spain", "madrid", "spain"),
        "evenings",
        7_000,
        12,
        3.5,
    ),
    8: Person(
        "DevOps engineer: Kubernetes, Docker, Terraform",
        ("kubernetes", "docker"),
        ("english", "german"),
        ("hamburg, germany", "hamburg", "germany"),
        "full_time",
        8_000,
        35,
        5.0,
    ),
}
TEXTS = {pid: p.text for pid, p in PROFILES.items()}
BM25 = Bm25Encoder(avg_len=Bm25Encoder.corpus_avg_len(TEXTS.values()))
DENSE = HashingEncoder(DIM)
ALL = FilterSpec()


def _points(ids: list[int] | None = None) -> list[IndexPoint]:
    chosen = ids if ids is not None else list(PROFILES)
    return make_points(
        texts={i: TEXTS[i] for i in chosen},
        bm25=BM25,
        dense=DENSE,
        payloads={i: PROFILES[i].payload() for i in chosen},
    )


def _loaded(store: VectorStore) -> VectorStore:
    store.ensure_collection(DIM)
    store.upsert(_points())
    return store


def _search(
    store: VectorStore,
    query: str,
    *,
    mode: str,
    filters: FilterSpec = ALL,
    limit: int = 10,
    offset: int = 0,
    candidates: int = 10,
    fusion: Fusion = Fusion.RRF,
    rrf_k: int = 60,
) -> SearchResult:
    return store.search(
        dense=DENSE.encode_query(query) if mode in ("semantic", "hybrid") else None,
        sparse=BM25.encode_query(query) if mode in ("keyword", "hybrid") else None,
        filters=filters,
        limit=limit,
        offset=offset,
        candidates=candidates,
        fusion=FusionSpec(method=fusion, rrf_k=rrf_k),
    )


def _ids(result: SearchResult) -> list[int]:
    return [h.id for h in result.page]


def _has_keyword(value: Any, keyword: str) -> bool:
    return keyword in value if isinstance(value, list) else value == keyword


def _in_range(value: Any, bounds: Range) -> bool:
    if not isinstance(value, int | float):
        return False
    above = bounds.gte is None or value >= bounds.gte
    below = bounds.lte is None or value <= bounds.lte
    return above and below


def _matching(spec: FilterSpec) -> set[int]:
    """Ids whose payload satisfies ``spec`` (computed in Python, for comparison)."""
    out = set()
    for pid, p in PROFILES.items():
        payload = p.payload()
        if pid in spec.exclude_ids:
            continue
        if not all(_has_keyword(payload.get(key), kw) for key, kw in spec.keywords):
            continue
        if all(_in_range(payload.get(r.field), r) for r in spec.ranges):
            out.add(pid)
    return out


@pytest.fixture(scope="module", params=["edge", "client"])
def loaded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[VectorStore]:
    """A store holding ``PROFILES``, shared by the read-only tests of one adapter."""
    store = _loaded(
        make_store(str(request.param), tmp_path_factory.mktemp("loaded"), schema=SCHEMA)
    )
    yield store
    store.close()


# --- collection lifecycle ------------------------------------------------------------


class TestCollection:
    def test_count_is_zero_before_creation(self, store: VectorStore) -> None:
        assert store.count() == 0

    def test_ensure_collection_is_idempotent(self, store: VectorStore) -> None:
        store.ensure_collection(DIM)
        store.ensure_collection(DIM)
        store.upsert(_points([1, 2]))
        store.ensure_collection(DIM)
        assert store.count() == 2

    def test_dim_mismatch_raises_once_points_exist(self, store: VectorStore) -> None:
        store.ensure_collection(DIM)
        store.upsert(_points([1]))
        with pytest.raises(VectorStoreError, match="reindex --recreate"):
            store.ensure_collection(DIM * 2)
        assert store.count() == 1

    def test_recreate_empties(self, store: VectorStore) -> None:
        _loaded(store)
        store.recreate(DIM)
        assert store.count() == 0
        assert store.payloads([1, 2]) == {}
        assert _ids(_search(store, "python developer", mode="keyword")) == []

    def test_recreate_accepts_a_new_dim(self, store: VectorStore) -> None:
        _loaded(store)
        store.recreate(DIM * 2)
        wide = HashingEncoder(DIM * 2)
        store.upsert(make_points(texts={1: TEXTS[1]}, bm25=BM25, dense=wide))
        assert store.count() == 1
        store.ensure_collection(DIM * 2)
        assert store.dense_vectors([1])[1].shape == (DIM * 2,)


EXPECTED_INDEXES = {
    "skills": "keyword",
    "languages": "keyword",
    "location_terms": "keyword",
    "availability": "keyword",
    "updated_at": "integer",
    "hours": "integer",
    "rating": "float",
}
"""The payload indexes ``SCHEMA`` asks for, by field."""


class TestSchema:
    def test_edge_creates_the_schema_indexes(self, tmp_path: Path) -> None:
        store = EdgeStore(tmp_path / "shard", schema=SCHEMA)
        try:
            store.ensure_collection(DIM)
            info = store.shard.info().payload_schema
            got = {name: str(i.data_type).rsplit(".", 1)[-1].lower() for name, i in info.items()}
            assert got == EXPECTED_INDEXES
        finally:
            store.close()

    def test_edge_recreate_uses_the_schema(self, tmp_path: Path) -> None:
        _loaded(EdgeStore(tmp_path / "shard", schema=PROFILE_SCHEMA)).close()
        store = EdgeStore(tmp_path / "shard", schema=SCHEMA)
        try:
            assert "hours" not in store.shard.info().payload_schema
            store.recreate(DIM)
            assert set(store.shard.info().payload_schema) == set(EXPECTED_INDEXES)
        finally:
            store.close()

    def test_client_creates_the_schema_indexes(self) -> None:
        # Local mode keeps no payload indexes, so the calls themselves are checked.
        client = QdrantClient(":memory:")
        store = ClientStore(client, "profiles", schema=SCHEMA)

        def created(spy: mock.MagicMock) -> dict[str, str]:
            return {c.args[1]: str(c.kwargs["field_schema"].value) for c in spy.call_args_list}

        with mock.patch.object(
            client, "create_payload_index", wraps=client.create_payload_index
        ) as spy:
            store.ensure_collection(DIM)
            assert created(spy) == EXPECTED_INDEXES
            spy.reset_mock()
            store.ensure_collection(DIM)
            assert created(spy) == {}
            store.recreate(DIM)
            assert created(spy) == EXPECTED_INDEXES
        store.close()


class TestWrites:
    def test_upsert_then_count(self, store: VectorStore) -> None:
        _loaded(store)
        assert store.count() == len(PROFILES)

    def test_upsert_nothing_is_a_no_op(self, store: VectorStore) -> None:
        store.ensure_collection(DIM)
        store.upsert([])
        assert store.count() == 0

    def test_upsert_replaces_by_id(self, store: VectorStore) -> None:
        _loaded(store)
        store.upsert(
            make_points(
                texts={1: "Figma illustrator"},
                bm25=BM25,
                dense=DENSE,
                payloads={1: {"skills": ["figma"], "updated_at": 9_000}},
            )
        )
        assert store.count() == len(PROFILES)
        assert store.payloads([1])[1] == {"skills": ["figma"], "updated_at": 9_000}
        assert 1 not in _ids(_search(store, "python django", mode="keyword"))
        assert 1 in _ids(_search(store, "illustrator", mode="keyword"))

    def test_delete_removes_points_and_ignores_unknown_ids(self, store: VectorStore) -> None:
        _loaded(store)
        store.delete([1, 3, 999])
        assert store.count() == len(PROFILES) - 2
        assert set(store.payloads([1, 2, 3])) == {2}
        for mode in ("keyword", "semantic", "hybrid"):
            ids = _ids(_search(store, "python developer", mode=mode))
            assert ids and not {1, 3} & set(ids), mode
        assert {1, 3}.isdisjoint(h.id for h in store.browse(ALL, limit=10, offset=0))

    def test_delete_nothing_is_a_no_op(self, store: VectorStore) -> None:
        _loaded(store)
        store.delete([])
        assert store.count() == len(PROFILES)

    def test_optimize_keeps_every_point_and_answer(self, store: VectorStore) -> None:
        _loaded(store)
        before = {
            mode: [
                (h.id, round(h.score, 5))
                for h in _search(store, "python developer", mode=mode).page
            ]
            for mode in ("keyword", "semantic", "hybrid")
        }
        store.optimize()
        assert store.count() == len(PROFILES)
        for mode, hits in before.items():
            after = [
                (h.id, round(h.score, 5))
                for h in _search(store, "python developer", mode=mode).page
            ]
            assert after == hits, mode

    def test_optimize_before_the_collection_exists_is_a_no_op(self, store: VectorStore) -> None:
        store.optimize()
        store.ensure_collection(DIM)
        assert store.count() == 0


class TestReads:
    def test_payloads_of_existing_points(self, loaded: VectorStore) -> None:
        got = loaded.payloads([2, 5, 999])
        assert got == {2: PROFILES[2].payload(), 5: PROFILES[5].payload()}

    def test_payloads_of_no_ids(self, loaded: VectorStore) -> None:
        assert loaded.payloads([]) == {}

    def test_payloads_of_chosen_fields(self, loaded: VectorStore) -> None:
        got = loaded.payloads([2, 5, 999], fields=["updated_at", "no_such_field"])
        assert got == {
            2: {"updated_at": PROFILES[2].updated_at},
            5: {"updated_at": PROFILES[5].updated_at},
        }


class TestPointValues:
    """``point_values`` answers what ``payloads`` holds, through every write."""

    FIELDS = ("updated_at", "skills", "availability")

    def _agree(self, store: VectorStore, ids: list[int]) -> None:
        expected = {i: p for i, p in store.payloads(ids, fields=self.FIELDS).items() if p}
        assert store.point_values(ids, self.FIELDS) == expected

    def test_they_agree_through_upserts_deletes_and_a_recreate(self, store: VectorStore) -> None:
        _loaded(store)
        ids = [*PROFILES, 999]
        self._agree(store, ids)  # loads the columns
        store.upsert(
            make_points(
                texts={1: "Figma illustrator", 998: "new"},
                bm25=BM25,
                dense=DENSE,
                # 1 loses availability and changes skills; 998 is new, no fields asked for
                payloads={1: {"skills": ["figma"], "updated_at": 9_000}, 998: {"other": 1}},
            )
        )
        self._agree(store, [*ids, 998])
        assert store.point_values([1], self.FIELDS) == {
            1: {"skills": ["figma"], "updated_at": 9_000}
        }
        store.delete([2, 3])
        self._agree(store, ids)
        assert not {2, 3} & set(store.point_values(ids, self.FIELDS))
        store.recreate(DIM)
        assert store.point_values(ids, self.FIELDS) == {}
        store.upsert(_points([4]))
        self._agree(store, ids)

    def test_no_ids(self, store: VectorStore) -> None:
        _loaded(store)
        assert store.point_values([], self.FIELDS) == {}


@pytest.mark.parametrize("mode", ["keyword", "semantic", "hybrid"])
def test_equal_scores_are_ordered_by_id(store: VectorStore, mode: str) -> None:
    """Points of one text score alike in both retrievers: every candidate list and
    the page order them by id, whatever order the engine returned them in (an
    explanation's ranks are positions in these lists)."""
    ids = [31, 7, 19, 2, 24]
    text = "barista espresso latte art"
    store.ensure_collection(DIM)
    store.upsert(
        make_points(
            texts={i: text for i in ids},
            bm25=BM25,
            dense=DENSE,
            payloads={i: {"updated_at": 1_000} for i in ids},
        )
    )
    result = _search(store, "espresso latte", mode=mode)
    for listed in (result.dense, result.keyword, result.page):
        if listed:
            assert [h.id for h in listed] == sorted(ids)
    assert result.page


class TestPageDetails:
    """A ranked list retrieves its pool with ids and scores only
    (``details=False``) and reads term ids and versions for the page it shows."""

    @pytest.mark.parametrize("mode", ["keyword", "semantic", "hybrid"])
    def test_without_details_the_page_carries_ids_and_scores_only(
        self, loaded: VectorStore, mode: str
    ) -> None:
        detailed = _search(loaded, "python developer", mode=mode)
        bare = loaded.search(
            dense=DENSE.encode_query("python developer") if mode != "keyword" else None,
            sparse=BM25.encode_query("python developer") if mode != "semantic" else None,
            filters=ALL,
            limit=10,
            offset=0,
            candidates=10,
            fusion=FusionSpec(method=Fusion.RRF),
            details=False,
        )
        assert [h.id for h in bare.page] == [h.id for h in detailed.page]
        assert [h.score for h in bare.page] == pytest.approx([h.score for h in detailed.page])
        assert all(h.terms is None and h.version is None for h in bare.page)

    def test_page_details_fill_terms_and_versions_in_order(self, loaded: VectorStore) -> None:
        hits = [Hit(id=7, score=0.5), Hit(id=999, score=0.4), Hit(id=2, score=0.3)]
        got = loaded.page_details(hits)
        assert [(h.id, h.score) for h in got] == [(7, 0.5), (999, 0.4), (2, 0.3)]
        assert got[0].terms == frozenset(BM25.term_frequencies(TEXTS[7]))
        assert got[0].version == PROFILES[7].updated_at
        assert (got[1].terms, got[1].version) == (frozenset(), None)  # no such point
        assert got[2].version == PROFILES[2].updated_at

    def test_page_details_of_nothing(self, loaded: VectorStore) -> None:
        assert loaded.page_details([]) == []

    def test_dense_vectors_round_trip(self, loaded: VectorStore) -> None:
        got = loaded.dense_vectors([3, 4, 999])
        assert set(got) == {3, 4}
        expected = DENSE.encode_documents([TEXTS[3], TEXTS[4]])
        for row, pid in enumerate([3, 4]):
            assert got[pid].dtype == np.float32
            assert got[pid].shape == (DIM,)
            np.testing.assert_allclose(got[pid], expected[row], rtol=1e-5, atol=1e-6)

    def test_dense_vectors_of_no_ids(self, loaded: VectorStore) -> None:
        assert loaded.dense_vectors([]) == {}


# --- filters -------------------------------------------------------------------------


def _kw(
    *pairs: tuple[str, str],
    ranges: tuple[Range, ...] = (),
    exclude_ids: frozenset[int] = frozenset(),
) -> FilterSpec:
    """A spec whose ``(field, keyword)`` pairs must all match, plus ranges and exclusions."""
    return FilterSpec(keywords=pairs, ranges=ranges, exclude_ids=exclude_ids)


GERMANY = _kw(("location_terms", "germany"))

KEYWORD_CASES: list[tuple[FilterSpec, set[int]]] = [
    (_kw(("skills", "python")), {1, 3, 4}),
    (_kw(("skills", "python"), ("skills", "sql")), {4}),
    (_kw(("skills", "python"), ("skills", "rust")), set()),
    (_kw(("languages", "german")), {1, 4, 8}),
    (_kw(("languages", "english"), ("languages", "german")), {1, 8}),
    (GERMANY, {1, 2, 6, 8}),
    (_kw(("location_terms", "berlin")), {1, 4, 6}),
    (_kw(("location_terms", "berlin, germany")), {1, 6}),
    (_kw(("availability", "full_time")), {2, 6, 8}),
    (_kw(("skills", "python"), ("location_terms", "berlin")), {1, 4}),
    (_kw(("languages", "english"), ("availability", "part_time")), {1, 3}),
    (FilterSpec(exclude_ids=frozenset({1, 2, 3, 4, 5})), {6, 7, 8}),
    (_kw(("skills", "python"), exclude_ids=frozenset({1})), {3, 4}),
]

RANGE_CASES: list[tuple[FilterSpec, set[int]]] = [
    (FilterSpec(ranges=(Range("hours", gte=20),)), {1, 2, 5, 6, 8}),
    (FilterSpec(ranges=(Range("hours", lte=15),)), {3, 4, 7}),
    (FilterSpec(ranges=(Range("hours", gte=20, lte=35),)), {1, 5, 8}),
    (FilterSpec(ranges=(Range("hours", gte=19.5, lte=20.5),)), {1}),
    (FilterSpec(ranges=(Range("hours", gte=41),)), set()),
    (FilterSpec(ranges=(Range("hours", gte=30, lte=20),)), set()),
    (FilterSpec(ranges=(Range("hours", gte=15), Range("hours", lte=25))), {1, 3, 5}),
    (FilterSpec(ranges=(Range("updated_at", gte=3_000, lte=6_000),)), {3, 4, 5, 6}),
    (FilterSpec(ranges=(Range("rating", gte=4.5),)), {1, 3, 6, 8}),
    (FilterSpec(ranges=(Range("rating", lte=3.5),)), {2, 7}),
    # 5 has no rating: a range never matches a missing field.
    (FilterSpec(ranges=(Range("rating", lte=10),)), {1, 2, 3, 4, 6, 7, 8}),
    (_kw(("location_terms", "germany"), ranges=(Range("hours", gte=35),)), {2, 6, 8}),
    (
        _kw(
            ("languages", "english"),
            ranges=(Range("rating", gte=4.5),),
            exclude_ids=frozenset({6}),
        ),
        {1, 3, 8},
    ),
]

FILTER_CASES = KEYWORD_CASES + RANGE_CASES


class TestFilterValues:
    def test_cases_agree_with_the_payloads(self) -> None:
        for spec, expected in FILTER_CASES:
            assert _matching(spec) == expected, spec

    @pytest.mark.parametrize(
        "spec",
        [
            _kw(("skills", "python")),
            FilterSpec(ranges=(Range("hours", lte=1),)),
            FilterSpec(exclude_ids=frozenset({1})),
        ],
    )
    def test_any_condition_makes_a_spec_non_empty(self, spec: FilterSpec) -> None:
        assert ALL.is_empty
        assert not spec.is_empty

    def test_a_range_needs_a_bound(self) -> None:
        with pytest.raises(ValueError, match="lower or an upper bound"):
            Range("hours")
        assert Range("hours", gte=0).lte is None

    def test_a_schema_lists_each_field_once(self) -> None:
        with pytest.raises(ValueError, match="listed twice"):
            CollectionSchema(keyword_fields=("hours",), integer_fields=("updated_at", "hours"))

    def test_a_schema_indexes_the_browse_order(self) -> None:
        with pytest.raises(ValueError, match="'updated_at' must be an integer field"):
            CollectionSchema(keyword_fields=("skills",), integer_fields=("hours",))
        assert CollectionSchema(keyword_fields=("skills",)).integer_fields == ("updated_at",)


class TestFilters:
    @pytest.mark.parametrize(("spec", "expected"), FILTER_CASES)
    def test_browse_returns_exactly_the_matches(
        self, loaded: VectorStore, spec: FilterSpec, expected: set[int]
    ) -> None:
        assert {h.id for h in loaded.browse(spec, limit=20, offset=0)} == expected

    @pytest.mark.parametrize(("spec", "expected"), FILTER_CASES)
    def test_semantic_search_returns_exactly_the_matches(
        self, loaded: VectorStore, spec: FilterSpec, expected: set[int]
    ) -> None:
        result = _search(loaded, "developer", mode="semantic", filters=spec)
        assert set(_ids(result)) == expected

    @pytest.mark.parametrize(("spec", "expected"), FILTER_CASES)
    def test_keyword_and_hybrid_search_stay_inside_the_matches(
        self, loaded: VectorStore, spec: FilterSpec, expected: set[int]
    ) -> None:
        for mode in ("keyword", "hybrid"):
            result = _search(loaded, "python developer engineer", mode=mode, filters=spec)
            assert set(_ids(result)) <= expected, mode
            assert {h.id for h in result.dense + result.keyword} <= expected, mode

    def test_filter_narrows_keyword_hits(self, loaded: VectorStore) -> None:
        ids = _ids(_search(loaded, "python developer", mode="keyword", filters=GERMANY))
        assert ids == [1, 2]


# --- search modes --------------------------------------------------------------------


class TestScanPayloads:
    @pytest.mark.parametrize(("spec", "expected"), FILTER_CASES)
    def test_returns_exactly_the_matches(
        self, loaded: VectorStore, spec: FilterSpec, expected: set[int]
    ) -> None:
        assert set(loaded.scan_payloads(spec, fields=["skills"])) == expected

    def test_returns_only_the_asked_fields(self, loaded: VectorStore) -> None:
        got = loaded.scan_payloads(GERMANY, fields=["skills", "updated_at", "rating"])
        assert got == {
            pid: {
                "skills": list(PROFILES[pid].skills),
                "updated_at": PROFILES[pid].updated_at,
                "rating": PROFILES[pid].rating,
            }
            for pid in (1, 2, 6, 8)
        }

    def test_a_missing_field_is_absent(self, loaded: VectorStore) -> None:
        got = loaded.scan_payloads(_kw(("skills", "figma")), fields=["rating", "skills"])
        assert got == {5: {"skills": ["figma"]}}

    def test_pages_through_more_points_than_one_scroll_holds(
        self, store: VectorStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(f"{type(store).__module__}.SCAN_PAGE", 3)
        _loaded(store)
        assert set(store.scan_payloads(ALL, fields=["updated_at"])) == set(PROFILES)

    def test_is_empty_before_creation(self, store: VectorStore) -> None:
        assert store.scan_payloads(ALL, fields=["skills"]) == {}


class TestKeywordSearch:
    def test_returns_only_documents_sharing_a_term(self, loaded: VectorStore) -> None:
        result = _search(loaded, "python developer", mode="keyword")
        assert set(_ids(result)) == {1, 2, 3, 4, 7}
        assert result.dense == []
        assert [(h.id, h.score) for h in result.keyword] == [(h.id, h.score) for h in result.page]

    def test_best_match_first_and_scores_descending(self, loaded: VectorStore) -> None:
        result = _search(loaded, "python developer", mode="keyword")
        scores = [h.score for h in result.page]
        assert scores == sorted(scores, reverse=True)
        # Doc 1 has both terms in the shortest such text.
        assert result.page[0].id == 1

    def test_unknown_words_match_nothing(self, loaded: VectorStore) -> None:
        assert _ids(_search(loaded, "haskell", mode="keyword")) == []

    def test_filter_does_not_change_scores(self, loaded: VectorStore) -> None:
        """IDF is computed over the whole collection, not the filtered subset."""
        query = "python developer engineer"
        full = {h.id: h.score for h in _search(loaded, query, mode="keyword").page}
        result = _search(loaded, query, mode="keyword", filters=GERMANY)
        narrowed = {h.id: h.score for h in result.page}
        assert narrowed
        assert narrowed == pytest.approx({i: full[i] for i in narrowed}, rel=1e-6)

    def test_hits_carry_their_terms(self, loaded: VectorStore) -> None:
        for hit in _search(loaded, "python developer", mode="keyword").page:
            assert hit.terms == frozenset(BM25.term_frequencies(TEXTS[hit.id]))


class TestSemanticSearch:
    def test_exact_text_is_the_top_hit(self, loaded: VectorStore) -> None:
        result = _search(loaded, TEXTS[5], mode="semantic")
        assert result.page[0].id == 5
        assert result.page[0].score == pytest.approx(1.0, abs=1e-5)
        assert result.keyword == []

    def test_ranks_every_point_by_cosine(self, loaded: VectorStore) -> None:
        query = "python developer"
        result = _search(loaded, query, mode="semantic")
        q = DENSE.encode_query(query)
        docs = DENSE.encode_documents([TEXTS[i] for i in PROFILES])
        expected = {pid: float(q @ docs[row]) for row, pid in enumerate(PROFILES)}
        assert {h.id: h.score for h in result.page} == pytest.approx(expected, abs=1e-5)
        scores = [h.score for h in result.page]
        assert scores == sorted(scores, reverse=True)

    def test_hits_carry_their_terms(self, loaded: VectorStore) -> None:
        for hit in _search(loaded, "python developer", mode="semantic").page:
            assert hit.terms == frozenset(BM25.term_frequencies(TEXTS[hit.id]))


class TestHybridSearch:
    def test_runs_both_retrievers(self, loaded: VectorStore) -> None:
        result = _search(loaded, "python developer", mode="hybrid")
        assert len(result.dense) == len(PROFILES)
        assert {h.id for h in result.keyword} == {1, 2, 3, 4, 7}
        assert set(_ids(result)) == {h.id for h in result.dense + result.keyword}

    @pytest.mark.parametrize("rrf_k", [2, 60])
    def test_rrf_score_is_sum_of_reciprocal_ranks(self, loaded: VectorStore, rrf_k: int) -> None:
        """RRF (as Qdrant's): sum over lists of 1 / (k + rank), rank counted from 0."""
        result = _search(loaded, "python developer", mode="hybrid", rrf_k=rrf_k)
        ranks = [{h.id: r for r, h in enumerate(lst)} for lst in (result.dense, result.keyword)]
        for hit in result.page:
            expected = sum(1.0 / (rrf_k + r[hit.id]) for r in ranks if hit.id in r)
            assert hit.score == pytest.approx(expected, rel=1e-5), hit.id
        scores = [h.score for h in result.page]
        assert scores == sorted(scores, reverse=True)

    def test_dbsf_puts_the_double_winner_first(self, loaded: VectorStore) -> None:
        result = _search(loaded, TEXTS[4], mode="hybrid", fusion=Fusion.DBSF)
        assert result.dense[0].id == result.keyword[0].id == 4
        assert result.page[0].id == 4
        scores = [h.score for h in result.page]
        assert scores == sorted(scores, reverse=True)
        assert set(_ids(result)) == {h.id for h in result.dense + result.keyword}

    def test_dbsf_and_rrf_differ_in_scores(self, loaded: VectorStore) -> None:
        rrf = _search(loaded, "python developer", mode="hybrid")
        dbsf = _search(loaded, "python developer", mode="hybrid", fusion=Fusion.DBSF)
        assert [h.score for h in rrf.page] != pytest.approx([h.score for h in dbsf.page])

    @pytest.mark.parametrize("fusion", list(Fusion))
    def test_page_hits_carry_their_terms(self, loaded: VectorStore, fusion: Fusion) -> None:
        result = _search(loaded, "python developer", mode="hybrid", fusion=fusion)
        assert result.page
        for hit in result.page:
            assert hit.terms == frozenset(BM25.term_frequencies(TEXTS[hit.id]))

    @pytest.mark.parametrize("fusion", list(Fusion))
    def test_page_hits_carry_their_version(self, loaded: VectorStore, fusion: Fusion) -> None:
        """Hydration drops a hit older than its user's privacy floor: every page hit
        needs the ``updated_at`` of the document its point was built from."""
        result = _search(loaded, "python developer", mode="hybrid", fusion=fusion)
        assert result.page
        assert {h.id: h.version for h in result.page} == {
            h.id: PROFILES[h.id].updated_at for h in result.page
        }

    def test_candidate_lists_do_not_carry_terms(self, loaded: VectorStore) -> None:
        result = _search(loaded, "python developer", mode="hybrid")
        assert all(h.terms is None for h in result.dense + result.keyword)

    def test_fusion_is_limited_to_the_candidate_pool(self, loaded: VectorStore) -> None:
        result = _search(loaded, "python developer", mode="hybrid", candidates=2, limit=1)
        assert len(result.dense) == len(result.keyword) == 2
        assert len(result.page) == 1


class TestPaging:
    @pytest.mark.parametrize("mode", ["keyword", "semantic", "hybrid"])
    def test_pages_concatenate_to_the_full_list(self, loaded: VectorStore, mode: str) -> None:
        """Pages agree while ``offset + limit <= candidates`` (the pool stays the same).

        Past that the pool grows with the offset, and a fused ranking over a larger
        pool may order the tail differently.
        """
        query = "python developer engineer"
        full = _ids(_search(loaded, query, mode=mode, limit=8, candidates=9))
        paged: list[int] = []
        for offset in range(0, 9, 3):
            paged += _ids(_search(loaded, query, mode=mode, limit=3, offset=offset, candidates=9))
        assert len(full) > 3
        assert paged == full

    def test_offset_past_the_end_is_empty(self, loaded: VectorStore) -> None:
        for mode in ("keyword", "semantic", "hybrid"):
            assert _ids(_search(loaded, "python", mode=mode, offset=50)) == [], mode

    def test_pool_grows_with_offset(self, loaded: VectorStore) -> None:
        result = _search(loaded, "developer", mode="semantic", limit=2, offset=4, candidates=1)
        assert len(result.dense) == 6
        assert len(result.page) == 2

    def test_search_without_vectors_raises(self, loaded: VectorStore) -> None:
        with pytest.raises(ValueError, match="dense or a sparse"):
            _search(loaded, "python", mode="none")


class TestBrowse:
    def test_newest_first_with_updated_at_as_score(self, loaded: VectorStore) -> None:
        hits = loaded.browse(ALL, limit=20, offset=0)
        assert [h.id for h in hits] == [8, 7, 6, 5, 4, 3, 2, 1]
        assert [h.score for h in hits] == [float(PROFILES[h.id].updated_at) for h in hits]
        assert all(h.terms is None for h in hits)

    def test_filtered_and_ordered(self, loaded: VectorStore) -> None:
        hits = loaded.browse(GERMANY, limit=20, offset=0)
        assert [h.id for h in hits] == [8, 6, 2, 1]

    def test_offset_and_limit(self, loaded: VectorStore) -> None:
        spec = GERMANY
        assert [h.id for h in loaded.browse(spec, limit=2, offset=1)] == [6, 2]
        assert [h.id for h in loaded.browse(spec, limit=2, offset=3)] == [1]
        assert loaded.browse(spec, limit=2, offset=4) == []


# --- IDF after deletes ---------------------------------------------------------------


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param(
            "edge",
            marks=pytest.mark.xfail(
                strict=True,
                reason="qdrant-edge 0.9.0 keeps deleted points in the IDF statistics of an"
                " open shard (even after optimize()); they drop out only on reopen",
            ),
        ),
        "client",
    ],
)
def test_keyword_scores_forget_deleted_points(kind: str, tmp_path: Path) -> None:
    query = "python developer engineer"
    store = _loaded(make_store(kind, tmp_path / "a"))
    fresh = make_store(kind, tmp_path / "b")
    try:
        store.delete([5, 6, 8])
        fresh.ensure_collection(DIM)
        fresh.upsert(_points([1, 2, 3, 4, 7]))
        got = {h.id: h.score for h in _search(store, query, mode="keyword").page}
        expected = {h.id: h.score for h in _search(fresh, query, mode="keyword").page}
        assert got == pytest.approx(expected, rel=1e-5)
    finally:
        store.close()
        fresh.close()


# --- Qdrant Edge specifics -----------------------------------------------------------


class TestEdgeStore:
    def test_shard_before_creation_raises(self, tmp_path: Path) -> None:
        store = EdgeStore(tmp_path / "shard", schema=SCHEMA)
        with pytest.raises(StoreUnavailableError, match="reindex"):
            _ = store.shard

    def test_reads_before_creation_are_empty(self, tmp_path: Path) -> None:
        store = EdgeStore(tmp_path / "shard", schema=SCHEMA)
        assert store.payloads([1]) == {}
        assert store.dense_vectors([1]) == {}
        store.delete([1])
        assert not (tmp_path / "shard").exists()

    def test_upsert_before_creation_raises(self, tmp_path: Path) -> None:
        with pytest.raises(StoreUnavailableError):
            EdgeStore(tmp_path / "shard", schema=SCHEMA).upsert(_points([1]))

    def test_persists_across_close_and_reopen(self, tmp_path: Path) -> None:
        first = _loaded(EdgeStore(tmp_path / "shard", schema=SCHEMA))
        before = _ids(_search(first, "python developer", mode="keyword"))
        first.close()
        again = EdgeStore(tmp_path / "shard", schema=SCHEMA)
        try:
            assert again.count() == len(PROFILES)
            assert again.payloads([3]) == {3: PROFILES[3].payload()}
            assert _ids(_search(again, "python developer", mode="keyword")) == before
            again.ensure_collection(DIM)
            assert again.count() == len(PROFILES)
        finally:
            again.close()

    def test_search_threads_apply_on_create_and_on_every_load(self, tmp_path: Path) -> None:
        # Qdrant Edge persists its configuration (edge_config.json); a reopen with
        # another thread count must take it, and keep the data and dense size.
        def persisted() -> object:
            return json.loads((tmp_path / "shard" / "edge_config.json").read_text())[
                "max_search_threads"
            ]

        first = _loaded(EdgeStore(tmp_path / "shard", schema=SCHEMA))
        before = _ids(_search(first, "python developer", mode="hybrid"))
        first.close()
        assert persisted() == 1
        again = EdgeStore(tmp_path / "shard", schema=SCHEMA, search_threads=0)
        try:
            assert persisted() == 0
            assert _ids(_search(again, "python developer", mode="hybrid")) == before
        finally:
            again.close()
        with pytest.raises(ValueError, match="search_threads"):
            EdgeStore(tmp_path / "shard", schema=SCHEMA, search_threads=-1)

    def test_second_open_of_a_held_shard_is_unavailable(self, tmp_path: Path) -> None:
        first = _loaded(EdgeStore(tmp_path / "shard", schema=SCHEMA))
        try:
            with pytest.raises(StoreUnavailableError, match="in use by another process"):
                EdgeStore(tmp_path / "shard", schema=SCHEMA)
        finally:
            first.close()

    def test_open_store_with_a_path_is_an_edge_shard(self, tmp_path: Path) -> None:
        store = open_store(path=tmp_path, collection="people", schema=SCHEMA)
        assert isinstance(store, EdgeStore)
        assert store.path == tmp_path / "people"

    def test_open_store_without_url_or_path_raises(self) -> None:
        with pytest.raises(ValueError, match="url or a path"):
            open_store(collection="people", schema=SCHEMA)

    def test_open_store_memory_is_a_client_store(self) -> None:
        store = open_store(url=":memory:", collection="people", schema=SCHEMA)
        try:
            assert isinstance(store, ClientStore)
            assert store.collection == "people"
            assert store.count() == 0
        finally:
            store.close()


# --- congruence ----------------------------------------------------------------------

CONGRUENCE_QUERIES: tuple[str, ...] = (
    "python developer",
    "pytorch engineer",
    "machine learning",
    "designer figma",
    "kubernetes docker devops",
    "data sql dashboards reports",
    "mobile apps kotlin",
)


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[VectorStore, VectorStore]]:
    edge = _loaded(EdgeStore(tmp_path_factory.mktemp("congruence") / "shard", schema=SCHEMA))
    client = _loaded(ClientStore(QdrantClient(":memory:"), "profiles", schema=SCHEMA))
    yield edge, client
    edge.close()
    client.close()


def _strictly_ordered(scores: list[float]) -> bool:
    return all(a - b > 1e-5 for a, b in zip(scores, scores[1:], strict=False))


class TestCongruence:
    @pytest.mark.parametrize("mode", ["keyword", "semantic"])
    @pytest.mark.parametrize("query", CONGRUENCE_QUERIES)
    def test_same_ranking_on_both_adapters(
        self, both: tuple[VectorStore, VectorStore], mode: str, query: str
    ) -> None:
        edge, client = (_search(s, query, mode=mode) for s in both)
        assert _strictly_ordered([h.score for h in edge.page]), "corpus must avoid ties"
        assert _ids(edge) == _ids(client)
        # Edge scores in float32, qdrant-client's local mode in float64.
        assert [h.score for h in edge.page] == pytest.approx(
            [h.score for h in client.page], rel=1e-4, abs=1e-5
        )

    @pytest.mark.parametrize("query", CONGRUENCE_QUERIES)
    def test_same_rrf_top_k_on_both_adapters(
        self, both: tuple[VectorStore, VectorStore], query: str
    ) -> None:
        edge, client = (_search(s, query, mode="hybrid", limit=4) for s in both)
        assert set(_ids(edge)) == set(_ids(client))
        assert [h.score for h in edge.page] == pytest.approx(
            [h.score for h in client.page], rel=1e-5
        )

    def test_same_filtered_browse_on_both_adapters(
        self, both: tuple[VectorStore, VectorStore]
    ) -> None:
        spec = _kw(("languages", "english"))
        edge, client = (s.browse(spec, limit=5, offset=1) for s in both)
        assert edge == client

    @pytest.mark.parametrize(("spec", "expected"), FILTER_CASES)
    def test_same_filtered_results_on_both_adapters(
        self, both: tuple[VectorStore, VectorStore], spec: FilterSpec, expected: set[int]
    ) -> None:
        edge, client = (s.browse(spec, limit=20, offset=0) for s in both)
        assert edge == client
        assert {h.id for h in edge} == expected
        edge_hits, client_hits = (
            _search(s, "python developer", mode="semantic", filters=spec).page for s in both
        )
        assert [h.id for h in edge_hits] == [h.id for h in client_hits]
        assert {h.id for h in edge_hits} == expected
