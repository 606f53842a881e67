"""Rows to document: what goes into the indexed text and the filterable payload."""

from __future__ import annotations

from typing import Any

import pytest

from indexers import (
    ProfileRows,
    build_document,
    location_terms,
    normalise_keyword,
    reduces,
    text_hash,
)
from models import Education, Project, WorkExperience
from tests.indexers.factories import make_profile, make_rows, make_user


def _full_rows(*, visibility: dict[str, str] | None = None) -> ProfileRows:
    """One user with every section filled, each section carrying a unique marker word."""
    return make_rows(
        user_id=7,
        updated_at=1_700_000_123_456,
        headline="Aspiring zephyrheadline engineer",
        bio="I like zephyrbio things.",
        location="Berlin, Germany",
        availability="part_time",
        visibility=visibility,
        skills=["React", " Machine  Learning", "react", "Zephyrskill"],
        languages=["German", "English", "Zephyrlang"],
        work=[
            WorkExperience(
                user_id=7,
                title="Intern",
                company="Zephyrwork GmbH",
                description="Built dashboards.",
                start_year=2022,
                end_year=2023,
            )
        ],
        projects=[
            Project(
                user_id=7,
                title="Zephyrproject",
                description="A chess engine.",
                skills=["rust", "wasm"],
            )
        ],
        education=[
            Education(
                user_id=7,
                school="Zephyredu University",
                degree="BSc",
                field_of_study="Computer Science",
                start_year=2020,
            )
        ],
    )


class TestText:
    def test_contains_every_section(self) -> None:
        text = build_document(_full_rows()).text
        for marker in (
            "zephyrheadline",
            "zephyrbio",
            "zephyrskill",
            "Zephyrwork",
            "Zephyrproject",
            "Zephyredu",
            "zephyrlang",
        ):
            assert marker in text, marker

    def test_sections_are_formatted(self) -> None:
        lines = build_document(_full_rows()).text.splitlines()
        assert lines == [
            "Aspiring zephyrheadline engineer",
            "I like zephyrbio things.",
            "Skills: react, machine learning, zephyrskill",
            "Intern at Zephyrwork GmbH (2022-2023). Built dashboards.",
            "Project: Zephyrproject (rust, wasm). A chess engine.",
            "BSc in Computer Science, Zephyredu University (2020-)",
            "Languages: german, english, zephyrlang",
        ]

    def test_education_without_degree_is_just_the_school(self) -> None:
        rows = make_rows(education=[Education(user_id=1, school="Open University")])
        assert build_document(rows).text == "Open University"

    def test_empty_profile_has_empty_text(self) -> None:
        assert build_document(make_rows()).text == ""

    def test_user_without_profile_still_gets_visible_sections(self) -> None:
        rows = make_rows(skills=["Go"])
        rows.profile = None
        doc = build_document(rows)
        assert doc.text == "Skills: go"
        assert doc.payload["location_terms"] == []
        assert doc.payload["availability"] is None


class TestPrivateSections:
    @pytest.mark.parametrize(
        ("section", "marker"),
        [
            ("skills", "zephyrskill"),
            ("work_experience", "zephyrwork"),
            ("projects", "zephyrproject"),
            ("education", "zephyredu"),
            ("languages", "zephyrlang"),
        ],
    )
    def test_private_section_contributes_nothing(self, section: str, marker: str) -> None:
        public = build_document(_full_rows())
        private = build_document(_full_rows(visibility={section: "private"}))
        assert marker in public.text.lower()
        assert marker not in private.text.lower()
        assert marker not in repr(private.payload).lower()
        # Every other section is still there.
        assert len(private.text.splitlines()) == len(public.text.splitlines()) - 1

    def test_private_skills_leave_the_payload_empty(self) -> None:
        payload = build_document(_full_rows(visibility={"skills": "private"})).payload
        assert payload["skills"] == []

    def test_private_languages_leave_the_payload_empty(self) -> None:
        payload = build_document(_full_rows(visibility={"languages": "private"})).payload
        assert payload["languages"] == []

    @pytest.mark.parametrize("visibility", ["public", "employers"])
    def test_non_private_visibility_keeps_the_section(self, visibility: str) -> None:
        doc = build_document(_full_rows(visibility={"skills": visibility}))
        assert "zephyrskill" in doc.payload["skills"]

    def test_private_section_changes_the_text_hash(self) -> None:
        public = build_document(_full_rows())
        private = build_document(_full_rows(visibility={"projects": "private"}))
        assert public.payload["text_hash"] != private.payload["text_hash"]


class TestPayload:
    def test_keys_and_values(self) -> None:
        doc = build_document(_full_rows())
        assert doc.payload == {
            "skills": ["react", "machine learning", "zephyrskill"],
            "languages": ["german", "english", "zephyrlang"],
            "location_terms": ["berlin, germany", "berlin", "germany"],
            "availability": "part_time",
            "strength": _full_rows().profile.strength,  # type: ignore[union-attr]
            "updated_at": 1_700_000_123_456,
            "text_hash": text_hash(doc.text),
        }

    def test_strength_is_the_profile_rows_score(self) -> None:
        rows = _full_rows()
        assert rows.profile is not None
        rows.profile.strength = 73
        assert build_document(rows).payload["strength"] == 73

    def test_ids_and_version_come_from_the_user(self) -> None:
        doc = build_document(_full_rows())
        assert (doc.user_id, doc.version) == (7, 1_700_000_123_456)

    def test_missing_location_and_availability(self) -> None:
        payload = build_document(make_rows()).payload
        assert payload["location_terms"] == []
        assert payload["availability"] is None

    def test_user_without_id_raises(self) -> None:
        with pytest.raises(ValueError, match="id"):
            build_document(ProfileRows(user=make_user(user_id=None), profile=make_profile()))


class TestTextHash:
    def test_is_stable(self) -> None:
        assert (
            build_document(_full_rows()).payload["text_hash"]
            == build_document(_full_rows()).payload["text_hash"]
        )

    def test_is_sixteen_hex_digits(self) -> None:
        digest = text_hash("python developer")
        assert len(digest) == 16
        int(digest, 16)

    def test_changes_with_the_text(self) -> None:
        assert text_hash("python developer") != text_hash("python developers")

    def test_ignores_payload_only_changes(self) -> None:
        a = build_document(make_rows(headline="Rustacean", availability="weekends"))
        b = build_document(make_rows(headline="Rustacean", availability="full_time"))
        assert a.payload["text_hash"] == b.payload["text_hash"]


class TestLocationTerms:
    def test_whole_string_then_each_part(self) -> None:
        assert location_terms("Berlin, Germany") == ["berlin, germany", "berlin", "germany"]

    def test_single_place(self) -> None:
        assert location_terms("  Paris ") == ["paris"]

    def test_duplicate_and_empty_parts_are_dropped(self) -> None:
        assert location_terms("Berlin, , Berlin") == ["berlin, , berlin", "berlin"]

    @pytest.mark.parametrize("location", [None, ""])
    def test_nothing_gives_nothing(self, location: str | None) -> None:
        assert location_terms(location) == []


class TestNormaliseKeyword:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            (" Machine  Learning", "machine learning"),
            ("React", "react"),
            ("\tNode.js\n", "node.js"),
            ("C++", "c++"),
            ("", ""),
        ],
    )
    def test_lowercases_trims_and_collapses_spaces(self, raw: str, expected: str) -> None:
        assert normalise_keyword(raw) == expected


class TestReduces:
    """What counts as taking something findable away (privacy reductions)."""

    def test_adding_words_or_items_is_not_a_reduction(self) -> None:
        old = build_document(make_rows(headline="Frontend developer", skills=["react"]))
        new = build_document(
            make_rows(headline="Frontend developer, weekends", skills=["react", "figma"])
        )
        assert not reduces(old, new)

    @pytest.mark.parametrize(
        "change",
        [
            {"headline": "Frontend"},
            {"skills": ["figma"]},
            {"visibility": {"skills": "private"}},
            {"work": []},
        ],
        ids=["word removed", "skill replaced", "section made private", "item removed"],
    )
    def test_taking_anything_away_is_a_reduction(self, change: dict[str, Any]) -> None:
        base: dict[str, Any] = {
            "headline": "Frontend developer",
            "skills": ["react"],
            "work": [WorkExperience(user_id=1, position=0, title="Intern", description="BI")],
        }
        old = build_document(make_rows(**base))
        assert reduces(old, build_document(make_rows(**{**base, **change})))

    def test_leaving_search_is_a_reduction(self) -> None:
        assert reduces(build_document(make_rows(headline="x")), None)
        assert not reduces(None, build_document(make_rows(headline="x")))
