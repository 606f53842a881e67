"""Seeded, realistic demo student profiles for Gigsy talent search.

``generate_demo_profiles`` builds ``(UserDraft, ProfileDraft)`` pairs from the
vocabulary in ``search_service.profiles.demo_vocab``. Output depends only on ``n`` and
``seed`` (a private ``random.Random``; the global generator is never touched), so
demo databases, indexes and benchmarks are reproducible. Every person is invented;
emails use the reserved ``.invalid`` top-level domain.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Sequence
from typing import TypeVar

from models.profile import (
    Availability,
    EducationItem,
    LanguageItem,
    ProfileDraft,
    ProjectItem,
    SkillItem,
    UserDraft,
    WorkItem,
)
from search_service.profiles import demo_vocab as vocab
from search_service.profiles.demo_vocab import Track

__all__ = ["generate_demo_profiles"]

_T = TypeVar("_T")

REFERENCE_YEAR = 2025
"""The demo's "current" year (fixed, so output never depends on the wall clock)."""

_EMAIL_DOMAIN = "demo.gigsy.invalid"
_ORDINALS = ("first", "second", "third", "fourth", "fifth")
_TRACK_WEIGHTS = tuple(t.weight for t in vocab.TRACKS)
_AVAILABILITY = tuple(Availability)
_AVAILABILITY_WEIGHTS = {
    Availability.PART_TIME: 35,
    Availability.FLEXIBLE: 20,
    Availability.WEEKENDS: 15,
    Availability.EVENINGS: 15,
    Availability.FULL_TIME: 15,
}
_YEARS_WEIGHTS = (15, 25, 25, 17, 10, 8)  # skill years 0..5, main track
_SECOND_YEARS_WEIGHTS = (35, 35, 18, 8, 3, 1)  # secondary track: less experience
_LEVELS_BY_YEARS = ((0, 1), (0, 1), (1, 2), (1, 2), (2, 3), (2, 3))  # SKILL_LEVELS indexes


def _pick(rng: random.Random, items: Sequence[_T], weights: Sequence[int]) -> _T:
    return rng.choices(items, weights=weights)[0]


def _ascii(text: str) -> str:
    """Lowercase ASCII letters/digits only: ``"O'Brien"`` -> ``"obrien"``."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in plain.lower() if ch.isalnum())


def _label(skill: str, *, capitalize: bool = False) -> str:
    label = vocab.SKILL_LABELS.get(skill, skill)
    return label[:1].upper() + label[1:] if capitalize else label


def _join(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _dedupe(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _education(
    rng: random.Random, track: Track, school: str, field: str
) -> tuple[list[EducationItem], int, int]:
    """Return education items (newest first), the current start year and end year."""
    bachelor, master = track.degrees
    if rng.random() < 0.3:  # master's student with a finished bachelor's
        b_start = rng.randint(2018, 2021)
        b_end = b_start + 3
        b_school = rng.choice(vocab.UNIVERSITIES)[0] if rng.random() < 0.4 else school
        m_end = b_end + 2
        return (
            [
                EducationItem(
                    school=school,
                    degree=master,
                    field_of_study=field,
                    start_year=b_end,
                    end_year=m_end,
                ),
                EducationItem(
                    school=b_school,
                    degree=bachelor,
                    field_of_study=rng.choice(track.fields),
                    start_year=b_start,
                    end_year=b_end,
                ),
            ],
            b_start,
            m_end,
        )
    start = rng.randint(2019, 2025)
    end = start + rng.choice((3, 3, 4))
    item = EducationItem(
        school=school, degree=bachelor, field_of_study=field, start_year=start, end_year=end
    )
    return [item], start, end


def _work(
    rng: random.Random, track: Track, second: Track, skills: Sequence[str], start: int, end: int
) -> list[WorkItem]:
    """0-3 jobs: mostly in the main track, some side jobs; newest first."""
    jobs: dict[tuple[str, str], str] = {}
    for _ in range(_pick(rng, (0, 1, 2, 3), (25, 40, 25, 10))):
        roll = rng.random()
        if roll < 0.3:
            title, company, description = rng.choice(vocab.SIDE_JOBS)
        else:
            job_track = second if roll < 0.4 else track
            title, company = rng.choice(job_track.titles), rng.choice(job_track.employers)
            description = rng.choice(job_track.duties)
            used = [s for s in skills if s in job_track.skills]
            if used and rng.random() < 0.6:
                description += f" Worked mostly with {_join([_label(s) for s in used[:2]])}."
        jobs.setdefault((title, company), description)
    items: list[WorkItem] = []
    for (title, company), description in jobs.items():
        job_start = rng.randint(start, min(end, REFERENCE_YEAR))
        job_end: int | None = min(job_start + rng.randint(0, 1), REFERENCE_YEAR)
        if job_end == REFERENCE_YEAR and rng.random() < 0.5:
            job_end = None  # ongoing
        items.append(
            WorkItem(
                title=title,
                company=company,
                description=description,
                start_year=job_start,
                end_year=job_end,
            )
        )
    items.sort(key=lambda w: w.start_year or 0, reverse=True)
    return items


def _skill_items(rng: random.Random, names: Sequence[str], n_main: int) -> list[SkillItem]:
    items: list[SkillItem] = []
    for pos, name in enumerate(names):
        weights = _YEARS_WEIGHTS if pos < n_main else _SECOND_YEARS_WEIGHTS
        years = _pick(rng, range(6), weights)
        level = vocab.SKILL_LEVELS[rng.choice(_LEVELS_BY_YEARS[years])]
        items.append(SkillItem(name=name, level=level, years=years))
    return items


def _languages(rng: random.Random, country: str) -> list[LanguageItem]:
    """1-3 languages: the local one, English (usually) and sometimes a third."""
    local = vocab.COUNTRY_LANGUAGES.get(country)
    langs: dict[str, str] = {}
    if local is None:  # English-speaking country
        langs["English"] = "native"
    else:
        if rng.random() < 0.15:  # international student learning the local language
            langs[rng.choice([x for x in vocab.LANGUAGES if x != local])] = "native"
            langs[local] = rng.choice(("basic", "conversational"))
        else:
            langs[local] = "native"
        if rng.random() < 0.9:
            langs["English"] = _pick(rng, ("fluent", "conversational", "native"), (65, 30, 5))
    while len(langs) < 3 and rng.random() < 0.3:
        other = rng.choice(vocab.LANGUAGES)
        if other not in langs:
            langs[other] = _pick(rng, ("basic", "conversational", "fluent"), (45, 40, 15))
    return [LanguageItem(name=name, proficiency=level) for name, level in langs.items()]


def _profile(rng: random.Random, i: int) -> tuple[UserDraft, ProfileDraft]:
    track = _pick(rng, vocab.TRACKS, _TRACK_WEIGHTS)
    second = rng.choice([t for t in vocab.TRACKS if t is not track])
    first, last = rng.choice(vocab.FIRST_NAMES), rng.choice(vocab.LAST_NAMES)
    school, short, uni_city = rng.choice(vocab.UNIVERSITIES)
    location = uni_city if rng.random() < 0.8 else rng.choice(vocab.CITIES)
    city, country = location.split(", ")[0], location.rsplit(", ", 1)[-1]
    field = rng.choice(track.fields)
    availability = _pick(rng, _AVAILABILITY, [_AVAILABILITY_WEIGHTS[a] for a in _AVAILABILITY])
    education, start, end = _education(rng, track, school, field)
    graduated = end <= REFERENCE_YEAR
    year_of_study = REFERENCE_YEAR - (education[0].start_year or start)

    # Projects first, so the skill list always covers the skills they use.
    templates: list[tuple[Track, tuple[str, str, tuple[str, ...]]]] = []
    if rng.random() >= 0.1:
        count = rng.randint(1, min(3, len(track.projects)))
        templates = [(track, p) for p in rng.sample(track.projects, count)]
        if count < 3 and rng.random() < 0.2:
            templates.append((second, rng.choice(second.projects)))
    core = {t.name: [s for tr, p in templates if tr is t for s in p[2]] for t in (track, second)}
    main = _dedupe([*core[track.name], *rng.sample(track.skills, len(track.skills))])
    main = main[: max(len(_dedupe(core[track.name])), rng.randint(4, 8))]
    n_second = max(len(core[second.name]), _pick(rng, (0, 1, 2, 3), (35, 25, 25, 15)))
    extra = [
        s
        for s in (*core[second.name], *rng.sample(second.skills, len(second.skills)))
        if s not in main
    ]
    skills = main + _dedupe(extra)[: min(n_second, 10 - len(main))]

    projects: list[ProjectItem] = []
    for tr, (title, description, base) in templates:
        pool = [s for s in skills if s in tr.skills and s not in base]
        want = rng.randint(2, 4) - len(base)
        projects.append(
            ProjectItem(
                title=title,
                description=description.format(city=city),
                skills=[*base, *pool[: max(0, want)]],
            )
        )

    top = ", ".join(_label(s, capitalize=True) for s in main[:3])
    headline = rng.choice((track.headline, *vocab.GENERIC_HEADLINES)).format(
        role=track.role, field=field, school=short, skills=top
    )
    headline = headline[:1].upper() + headline[1:]
    if graduated:
        headline = headline.replace(" student at ", " graduate from ")

    bio = ""
    if rng.random() >= 0.1:
        fmt = {
            "field": field,
            "school": school,
            "role": track.role,
            "city": city,
            "year": _ORDINALS[min(year_of_study, 4)],
        }
        intro = vocab.BIO_GRAD_INTRO if graduated else rng.choice(vocab.BIO_INTROS)
        shown = _join([_label(s) for s in skills[: rng.randint(3, 4)]])
        sentences = [intro.format(**fmt), rng.choice(vocab.BIO_SKILLS).format(skills=shown)]
        if rng.random() < 0.7:
            sentences.append(rng.choice(track.pitch))
        if rng.random() < 0.5:
            sentences.append(vocab.BIO_AVAILABILITY[availability.value].format(**fmt))
        bio = " ".join(s[:1].upper() + s[1:] for s in sentences)

    first_a, last_a = _ascii(first), _ascii(last)
    user = UserDraft(
        clerk_id=f"demo_{i:05d}",
        email=f"{first_a}.{last_a}.{i}@{_EMAIL_DOMAIN}",
        first_name=first,
        last_name=last,
        username=f"{first_a}{last_a[:1]}{i}",
        external_id=f"demo-{i:05d}",
        roles=["student"],
        tags=["demo", track.name],
        created_by="demo",
    )
    profile = ProfileDraft(
        headline=headline,
        bio=bio,
        location=location,
        availability=availability,
        education=education,
        work_experience=_work(rng, track, second, skills, start, end),
        projects=projects,
        languages=_languages(rng, country),
        skills=_skill_items(rng, skills, len(main)),
    )
    return user, profile


def generate_demo_profiles(
    n: int = 2000, *, seed: int = 42
) -> list[tuple[UserDraft, ProfileDraft]]:
    """Generate ``n`` deterministic, realistic demo student profiles.

    Each student gets a main skill track (e.g. ``frontend``, ``finance``) and a
    secondary one; headline, bio, education, jobs, projects, languages and skills are
    composed from ``search_service.profiles.demo_vocab`` so they agree with each other. About
    10% of profiles have an empty bio and about 10% have no projects.

    Args:
        n: Number of profiles to generate.
        seed: Seed for the private random generator; the same ``(n, seed)`` always
            yields the same profiles, and profile ``i`` does not depend on ``n``.

    Returns:
        ``n`` ``(UserDraft, ProfileDraft)`` pairs. User ``i`` has clerk id
        ``demo_{i:05d}``, external id ``demo-{i:05d}``, a unique email at
        ``demo.gigsy.invalid`` and tags ``["demo", <track name>]``; profile visibility
        is left empty so the defaults apply.

    Raises:
        ValueError: If ``n`` is negative.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = random.Random(seed)
    return [_profile(rng, i) for i in range(n)]
