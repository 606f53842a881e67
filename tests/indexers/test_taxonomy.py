"""Skill taxonomy: aliases to canonical names, for skill fields and free query text."""

from __future__ import annotations

import pytest

from indexers.documents import normalise_keyword
from indexers.taxonomy import (
    SKILL_ALIASES,
    TEXT_UNSAFE_ALIASES,
    canonical_skills,
    canonicalise_query,
    extract_skills,
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


class TestExtractSkills:
    """Skills named in free text (job descriptions), with canonicalise_query's matching."""

    def test_docstring_examples(self) -> None:
        assert extract_skills("React.js dev; we love reactjs and MS Excel") == ["react", "excel"]
        assert extract_skills("JS, Excel, js") == ["javascript", "excel"]
        assert extract_skills("node.js, not a node") == ["node.js"]
        assert extract_skills("Grade C or R; go above and beyond; excel in a team") == []

    def test_orders_by_mentions_then_first_occurrence(self) -> None:
        text = "SQL and Python. Tableau, then python3, then Py again; sql once more; Tableau."
        assert extract_skills(text) == ["python", "sql", "tableau"]
        assert extract_skills("Canva, Figma, Trello") == ["canva", "figma", "trello"]

    def test_aliases_and_canonical_names_count_as_one_skill(self) -> None:
        text = "Microsoft Excel, MS Excel, Excel; Amazon Web Services and AWS; k8s, Kubernetes"
        assert extract_skills(text) == ["excel", "aws", "kubernetes"]

    def test_word_boundaries(self) -> None:
        assert extract_skills("jsx components, adjs, alpine.js, foo-ml") == []
        assert extract_skills("C++ and C# developers") == ["c++", "c#"]
        assert extract_skills("Telecommunications and jest-like tooling") == []

    def test_single_letter_skills_only_through_longer_aliases(self) -> None:
        assert extract_skills("Languages: C, R and Go; grade A") == []
        assert extract_skills("C programming language and R language") == ["c", "r"]

    def test_text_unsafe_aliases_are_never_extracted(self) -> None:
        for alias in TEXT_UNSAFE_ALIASES:
            assert extract_skills(f"we need a {alias} here") == [], alias

    def test_prose_words_need_a_capital(self) -> None:
        text = "excel in a fast pace, react to change, a positive outlook, word of mouth"
        assert extract_skills(text) == []
        assert extract_skills("MS Office (Word, Excel, Outlook) and React") == [
            "microsoft office",
            "word",
            "excel",
            "outlook",
            "react",
        ]
        assert extract_skills("we are agile") == []
        assert extract_skills("Agile and Scrum") == ["agile", "scrum"]

    def test_bare_unsafe_canonical_names_need_their_alias(self) -> None:
        assert extract_skills("Go above and beyond at Toyota Express; Swift Transportation") == []
        assert extract_skills("Golang services with Express.js") == ["go", "express"]

    def test_every_text_safe_alias_is_extracted(self) -> None:
        for canonical, aliases in SKILL_ALIASES.items():
            for alias in aliases:
                key = normalise_keyword(alias)
                if key in TEXT_UNSAFE_ALIASES:
                    continue
                assert extract_skills(f"x {alias} y") == [canonical], alias

    def test_limit(self) -> None:
        text = "Excel Word Outlook PowerPoint SQL"
        assert extract_skills(text, limit=2) == ["excel", "word"]
        assert extract_skills(text, limit=0) == []
        assert len(extract_skills(text)) == 5
        with pytest.raises(ValueError, match="limit"):
            extract_skills(text, limit=-1)

    def test_empty_and_skill_free_text(self) -> None:
        assert extract_skills("") == []
        assert extract_skills("Lift 50 pounds and stand for long periods.") == []
