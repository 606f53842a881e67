"""Profile strength: weights, partial credit, private sections earn nothing."""

from __future__ import annotations

from models import (
    Availability,
    EducationItem,
    LanguageItem,
    ProfileDraft,
    ProjectItem,
    SkillItem,
    Visibility,
    WorkItem,
)
from search_service.profiles.strength import WEIGHTS, score_profile


def _complete() -> ProfileDraft:
    return ProfileDraft(
        headline="Frontend developer and designer",
        bio="x" * 150,
        location="Lisbon",
        availability=Availability.WEEKENDS,
        education=[EducationItem(school="IST")],
        work_experience=[WorkItem(title="Intern")],
        projects=[ProjectItem(title="Portfolio site")],
        languages=[LanguageItem(name="Portuguese")],
        skills=[SkillItem(name=n) for n in ("react", "css", "html", "figma", "typescript")],
    )


def test_weights_sum_to_100_and_a_complete_profile_scores_100() -> None:
    assert sum(WEIGHTS.values()) == 100
    s = score_profile(_complete())
    assert (s.score, s.missing) == (100, [])


def test_an_empty_profile_scores_0_and_lists_every_gap_largest_first() -> None:
    s = score_profile(ProfileDraft())
    assert s.score == 0
    assert [m.item for m in s.missing][0] == "skills"
    assert sum(m.points for m in s.missing) == 100


def test_partial_credit_for_short_bio_and_few_skills() -> None:
    d = _complete().model_copy(update={"bio": "short", "skills": [SkillItem(name="react")]})
    s = score_profile(d)
    missing = {m.item: m.points for m in s.missing}
    assert missing == {"bio": 8, "skills": 16}
    assert s.score == 76


def test_a_private_section_earns_nothing_and_says_why() -> None:
    d = _complete().model_copy(update={"visibility": {"work_experience": Visibility.PRIVATE}})
    s = score_profile(d)
    assert s.score == 85
    assert s.missing[0].item == "workExperience" and "private" in s.missing[0].hint
