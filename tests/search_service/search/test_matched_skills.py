"""Matched skills: one definition (``search.service.shown_skills``) behind a hit's
``explanation.matchedSkills`` and its ``topSkills``, each skill once."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from indexers.taxonomy import canonicalise_query
from models import Skill
from search_service.refresh.writer import reindex
from search_service.runtime import Runtime
from search_service.search.service import TOP_SKILLS, shown_skills
from tests.factories import make_student

URL = "/v1/search"
FRONTEND = ("html", "css", "git", "jest", "typescript", "react", "figma")
"""Skills whose matches for a React and Figma query sit past the first five."""


class TestShownSkills:
    def test_a_lowercase_product_name_in_a_query_is_a_skill(self) -> None:
        top, matched = shown_skills(FRONTEND, "react developer with figma")
        assert matched == ["react", "figma"]
        assert top == ["react", "figma", "html", "css", "git"]

    def test_matched_skills_follow_the_query_order(self) -> None:
        _, matched = shown_skills(FRONTEND, "Figma and React")
        assert matched == ["figma", "react"]

    def test_an_alias_names_its_skill_once_the_query_is_canonical(self) -> None:
        _, matched = shown_skills(FRONTEND, canonicalise_query("ReactJS dev"))
        assert matched == ["react"]

    def test_repeats_and_spellings_of_one_skill_show_once(self) -> None:
        top, matched = shown_skills(
            ["color grading", "Color  Grading", "React.js", "react"], "color grading, react"
        )
        assert top == ["color grading", "react"]
        assert matched == ["color grading", "react"]

    @pytest.mark.parametrize(
        ("skills", "query"),
        [
            (["java"], "javascript developer"),  # a longer word is not the skill
            (["javascript"], "node.js backend"),  # nor a part of a dotted token
            (["c"], "grade c student"),  # a single letter reads as a letter
            (["python"], ""),  # no query, no match
        ],
    )
    def test_what_does_not_name_a_skill(self, skills: list[str], query: str) -> None:
        top, matched = shown_skills(skills, query)
        assert matched == []
        assert top == skills

    def test_at_most_top_skills_are_shown(self) -> None:
        many = [f"skill {i}" for i in range(TOP_SKILLS + 3)]
        top, matched = shown_skills(many, f"skill {TOP_SKILLS + 2}")
        assert matched == [f"skill {TOP_SKILLS + 2}"]
        assert top == [f"skill {TOP_SKILLS + 2}", *many[: TOP_SKILLS - 1]]


def _search(client: TestClient, headers: dict[str, str], query: str) -> list[dict[str, Any]]:
    r = client.post(URL, json={"query": query, "mode": "keyword"}, headers=headers)
    assert r.status_code == 200, r.text
    results: list[dict[str, Any]] = r.json()["results"]
    return results


def _assert_consistent(hit: dict[str, Any]) -> None:
    top: list[str] = hit["topSkills"]
    matched: list[str] = hit["explanation"]["matchedSkills"]
    assert len(set(top)) == len(top), top
    assert len(set(matched)) == len(matched), matched
    # What a card marks (its shown skills that match) is the explanation's set.
    assert set(matched) <= set(top), (top, matched)


def test_the_explanation_and_the_top_skills_agree_for_a_react_query(
    client: TestClient, employer_headers: dict[str, str], runtime: Runtime
) -> None:
    make_student(
        runtime,
        clerk_id="frontend",
        headline="Frontend developer, React and Figma",
        skills=FRONTEND,
    )
    reindex(runtime, progress=False)
    [hit] = _search(client, employer_headers, "react developer with figma")
    assert hit["explanation"]["matchedSkills"] == ["react", "figma"]
    assert hit["topSkills"] == ["react", "figma", "html", "css", "git"]
    _assert_consistent(hit)


def test_a_skill_stored_twice_is_shown_once(
    client: TestClient, employer_headers: dict[str, str], runtime: Runtime
) -> None:
    user = make_student(
        runtime,
        clerk_id="colourist",
        headline="Colourist: color grading for short films",
        skills=("color grading", "davinci resolve"),
    )
    reindex(runtime, progress=False)
    assert user.id is not None
    # Rows written before skills were normalised on write: the same skill again.
    with Session(runtime.engine) as session:
        session.add(Skill(user_id=user.id, position=2, name="Color Grading"))
        session.add(Skill(user_id=user.id, position=3, name="color grading"))
        session.commit()
    [hit] = _search(client, employer_headers, "color grading")
    assert hit["topSkills"] == ["color grading", "davinci resolve"]
    assert hit["explanation"]["matchedSkills"] == ["color grading"]
    _assert_consistent(hit)
