"""Profile strength: a 0-100 completeness score and the gaps behind it (seed 004, A4).

The weights are a product choice, not a published standard: they favour what
employers filter and rank on (skills, experience, education, a real bio) over
decoration. A section marked ``private`` earns nothing, because employers never
see it; its gap says so, which is the actionable advice.
"""

from __future__ import annotations

from dataclasses import dataclass

from models import MissingItem, ProfileDraft, ProfileStrength, Visibility

__all__ = ["BIO_MIN_CHARS", "SKILLS_FOR_FULL_SCORE", "WEIGHTS", "score_profile"]

BIO_MIN_CHARS = 150
"""A bio at least this long (characters) earns full points; a shorter one half."""

SKILLS_FOR_FULL_SCORE = 5
"""Skills needed for the full skills score; each skill earns an equal share."""

WEIGHTS: dict[str, int] = {
    "headline": 10,
    "bio": 15,
    "location": 5,
    "availability": 5,
    "education": 15,
    "workExperience": 15,
    "projects": 10,
    "skills": 20,
    "languages": 5,
}
"""Points per item; they sum to 100."""

_SECTION_FIELDS = {
    "education": "education",
    "workExperience": "work_experience",
    "projects": "projects",
    "skills": "skills",
    "languages": "languages",
}

_HINTS = {
    "headline": "Add a headline: one line on what you do and want.",
    "bio": f"Write a bio of at least {BIO_MIN_CHARS} characters.",
    "location": "Add your location so employers nearby can filter for you.",
    "availability": "Say when you are available (full time, weekends, ...).",
    "education": "Add your school or university.",
    "workExperience": "Add a job, internship or volunteer role.",
    "projects": "Add a project you built or contributed to.",
    "skills": f"List at least {SKILLS_FOR_FULL_SCORE} skills.",
    "languages": "Add the languages you speak.",
}


@dataclass(frozen=True, slots=True)
class _Gap:
    item: str
    hint: str
    points: int


def _gaps(draft: ProfileDraft) -> list[_Gap]:
    gaps: list[_Gap] = []
    if len(draft.headline.strip()) < 10:
        gaps.append(_Gap("headline", _HINTS["headline"], WEIGHTS["headline"]))
    bio = len(draft.bio.strip())
    if bio == 0:
        gaps.append(_Gap("bio", _HINTS["bio"], WEIGHTS["bio"]))
    elif bio < BIO_MIN_CHARS:
        gaps.append(_Gap("bio", _HINTS["bio"], WEIGHTS["bio"] - WEIGHTS["bio"] // 2))
    if not (draft.location or "").strip():
        gaps.append(_Gap("location", _HINTS["location"], WEIGHTS["location"]))
    if draft.availability is None:
        gaps.append(_Gap("availability", _HINTS["availability"], WEIGHTS["availability"]))
    for item, field in _SECTION_FIELDS.items():
        count = len(getattr(draft, field))
        weight = WEIGHTS[item]
        if draft.visibility.get(field) == Visibility.PRIVATE and count:
            gaps.append(_Gap(item, "Employers cannot see this private section; share it.", weight))
            continue
        if item == "skills":
            have = min(count, SKILLS_FOR_FULL_SCORE)
            lost = weight - weight * have // SKILLS_FOR_FULL_SCORE
            if lost:
                gaps.append(_Gap(item, _HINTS[item], lost))
        elif count == 0:
            gaps.append(_Gap(item, _HINTS[item], weight))
    return gaps


def score_profile(draft: ProfileDraft) -> ProfileStrength:
    """Score a profile.

    Args:
        draft: the profile as written (skills already normalised or not: only
            counts matter).

    Returns:
        ``score`` in 0..100 = 100 minus the points of every gap; ``missing`` lists
        the gaps, largest first. Never raises.
    """
    gaps = sorted(_gaps(draft), key=lambda g: (-g.points, g.item))
    lost = sum(g.points for g in gaps)
    return ProfileStrength(
        score=max(0, 100 - lost),
        missing=[MissingItem(item=g.item, hint=g.hint, points=g.points) for g in gaps],
    )
