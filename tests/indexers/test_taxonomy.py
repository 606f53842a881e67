"""Skill taxonomy: aliases to canonical names, for skill fields and free query text."""

from __future__ import annotations

import pytest

from indexers.documents import normalise_keyword
from indexers.taxonomy import (
    SKILL_ALIASES,
    TEXT_UNSAFE_ALIASES,
    canonical_skills,
    canonicalise_query,
    normalise_skill,
    normalise_skills,
)

_ALL_NAMES = sorted(
    {c for c in SKILL_ALIASES} | {a for aliases in SKILL_ALIASES.values() for a in aliases}
)


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("JS", "javascript"),
        ("React.js", "react"),
        ("ReactJS", "react"),
        ("react js", "react"),
        ("MS Excel", "excel"),
        ("Microsoft Excel", "excel"),
        ("TS", "typescript"),
        ("Py", "python"),
        ("python3", "python"),
        ("ML", "machine learning"),
        ("k8s", "kubernetes"),
        ("postgres", "postgresql"),
        ("PostgreSQL", "postgresql"),
        ("nodejs", "node.js"),
        ("node", "node.js"),
        ("Node JS", "node.js"),
        ("golang", "go"),
        ("MS Word", "word"),
        ("Photoshop", "photoshop"),
        ("Adobe Photoshop", "photoshop"),
        ("GCP", "google cloud"),
        ("AWS", "aws"),
        ("Amazon Web Services", "aws"),
        ("sklearn", "scikit-learn"),
        ("scikit learn", "scikit-learn"),
        ("vue.js", "vue"),
        ("vuejs", "vue"),
        ("c sharp", "c#"),
        ("cpp", "c++"),
        ("C++", "c++"),
        ("  Machine   Learning ", "machine learning"),
    ],
)
def test_required_aliases_map_to_canonical(written: str, canonical: str) -> None:
    assert normalise_skill(written) == canonical


def test_unknown_skill_passes_through_normalised() -> None:
    assert normalise_skill("  Underwater   Basket Weaving ") == "underwater basket weaving"
    assert normalise_skill("Zephyrskill") == "zephyrskill"
    assert normalise_skill("   ") == ""
    assert normalise_skill("") == ""


def test_canonical_names_are_normalised_and_map_to_themselves() -> None:
    for canonical in SKILL_ALIASES:
        assert canonical == normalise_keyword(canonical), canonical
        assert normalise_skill(canonical) == canonical, canonical


def test_every_alias_maps_to_its_own_canonical() -> None:
    for canonical, aliases in SKILL_ALIASES.items():
        for alias in aliases:
            assert normalise_skill(alias) == canonical, alias
            assert normalise_skill(alias.upper()) == canonical, alias


def test_normalise_skill_is_idempotent_over_whole_table() -> None:
    for name in _ALL_NAMES:
        once = normalise_skill(name)
        assert normalise_skill(once) == once, name


def test_no_canonical_is_an_alias_of_another_canonical() -> None:
    canonicals = set(SKILL_ALIASES)
    for canonical, aliases in SKILL_ALIASES.items():
        clashes = {normalise_keyword(a) for a in aliases} & (canonicals - {canonical})
        assert not clashes, (canonical, clashes)


def test_no_alias_is_shared_between_canonicals() -> None:
    owner: dict[str, str] = {}
    for canonical, aliases in SKILL_ALIASES.items():
        for alias in aliases:
            key = normalise_keyword(alias)
            assert owner.setdefault(key, canonical) == canonical, alias


def test_table_size_and_canonical_skills() -> None:
    skills = canonical_skills()
    assert isinstance(skills, frozenset)
    assert skills == frozenset(SKILL_ALIASES)
    assert 150 <= len(skills) <= 250
    assert {"javascript", "react", "excel", "node.js", "c++", "c#"} <= skills
    assert {"machine learning", "google analytics", "customer service", "tutoring"} <= skills
    assert "js" not in skills


def test_normalise_skills_dedupes_keeps_order_and_drops_blanks() -> None:
    names = ["React.js", "JS", "reactjs", " ", "", "Cooking", "javascript", "REACT", "cooking"]
    assert normalise_skills(names) == ["react", "javascript", "cooking"]
    assert normalise_skills([]) == []
    assert normalise_skills(iter(["k8s", "Kubernetes"])) == ["kubernetes"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("JS developer", "javascript developer"),
        ("React.js and MS Excel", "react and excel"),
        ("react.JS AND ms   excel", "react AND excel"),
        (
            "Senior ReactJS/TypeScript dev with k8s, GCP.",
            ("Senior react/TypeScript dev with kubernetes, google cloud."),
        ),
        ("I know JS.", "I know javascript."),
        ("ml engineer", "machine learning engineer"),
        ("Amazon Web Services or gcp", "aws or google cloud"),
        ("C sharp and cpp", "c# and c++"),
        ("sklearn, golang", "scikit-learn, go"),
        ("react-native dev", "react native dev"),
        ("postgres admin", "postgresql admin"),
    ],
)
def test_canonicalise_query_rewrites_aliases(text: str, expected: str) -> None:
    assert canonicalise_query(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "jsx components",
        "adjs",
        "node.js and next.js",
        "Node.js",
        "alpine.js and foo-ml",
        "html5x",
        "Go and R and C",
        "word processing",
        "a node in a graph",
        "ts",
        "UX designer",
        "math tutoring",
        "python 3.11",
        "c++ and c#",
        "barista in Berlin",
        "",
    ],
)
def test_canonicalise_query_leaves_non_aliases_alone(text: str) -> None:
    assert canonicalise_query(text) is text


def test_canonicalise_query_unchanged_text_is_same_object() -> None:
    text = "".join(["friendly ", "waiter ", "for weekend shifts"])
    assert canonicalise_query(text) is text


def test_canonicalise_query_is_case_insensitive() -> None:
    for written in ("JS", "js", "Js", "jS"):
        assert canonicalise_query(f"{written} dev") == "javascript dev"
    assert canonicalise_query("MICROSOFT EXCEL") == "excel"


def test_canonicalise_query_keeps_every_canonical_name_unchanged() -> None:
    for canonical in SKILL_ALIASES:
        assert canonicalise_query(canonical) is canonical, canonical
        sentence = f"need {canonical} help"
        assert canonicalise_query(sentence) is sentence, canonical


def test_canonicalise_query_rewrites_every_text_safe_alias() -> None:
    for canonical, aliases in SKILL_ALIASES.items():
        for alias in aliases:
            if normalise_keyword(alias) in TEXT_UNSAFE_ALIASES:
                continue
            assert canonicalise_query(f"x {alias} y") == f"x {canonical} y", alias


def test_canonicalise_query_skips_text_unsafe_aliases() -> None:
    assert {"node", "ts"} <= TEXT_UNSAFE_ALIASES
    for alias in TEXT_UNSAFE_ALIASES:
        text = f"a {alias} here"
        assert canonicalise_query(text) is text, alias
