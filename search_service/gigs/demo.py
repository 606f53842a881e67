"""Seeded demo gigs for ``gigsy-search demo``: a handful of invented companies
posting gigs in the skill tracks of the demo students.

:func:`generate_demo_gigs` is pure: its output depends only on the vocabulary,
``count``, ``seed`` and the UTC day of ``now`` (deadlines are 14-90 days after it),
through a private ``random.Random``. The vocabulary comes from the caller
(``search_service.profiles.demo_vocab`` in the CLI: the gig and profile domains do
not import each other), so the demo's gigs and students share skills, roles and
cities. :func:`load_demo_gigs` writes them through the bulk import
(:mod:`search_service.gigs.ingest`): re-running updates rather than duplicates, and
never reopens a gig that was closed or deleted.

Every company and gig is invented.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from models import Availability, GigPay, GigStatus, GigWrite, PayUnit, now_ms
from search_service.gigs.ingest import Employer, GigImport, GigImportReport, import_gigs
from search_service.runtime import Runtime

__all__ = [
    "DEMO_COMPANIES",
    "DEMO_EMPLOYER_CLERK_ID",
    "DemoVocabulary",
    "TrackVocabulary",
    "demo_employer_clerk_id",
    "generate_demo_gigs",
    "load_demo_gigs",
]

DAY_MS = 86_400_000

DEMO_COMPANIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Pixelhof Studio", ("frontend", "ux_design", "graphic_design")),
    ("Northwind Payments", ("backend", "devops", "finance")),
    ("Quantara Insights", ("data_science", "data_engineering", "research")),
    ("Fernway Mobility", ("mobile", "ux_design", "sales_support")),
    ("Sprout & Co", ("digital_marketing", "content_writing", "video_photo")),
    ("Harbourside Events", ("hospitality_events", "video_photo", "sales_support")),
    ("Brightminds Tutoring", ("tutoring", "content_writing", "research")),
)
"""``(company, track names it hires for)``; company ``k`` (0-based) is the demo employer
``demo_employer_<k+1:02d>``. Together they cover every track of the demo vocabulary."""

_TASKS: dict[str, tuple[str, ...]] = {
    "frontend": (
        "Build the front end of our new booking page from finished Figma designs.",
        "Fix layout and accessibility bugs across our customer web app.",
    ),
    "backend": (
        "Add REST endpoints and tests to our order service.",
        "Speed up the slow database queries behind our reporting pages.",
    ),
    "mobile": (
        "Polish screens and fix crashes in our iOS and Android app.",
        "Build an offline mode for our mobile ticketing app.",
    ),
    "data_science": (
        "Analyse customer churn and present what drives it.",
        "Build a first forecasting model for weekly demand.",
    ),
    "data_engineering": (
        "Move nightly CSV exports into a tested data pipeline.",
        "Model our sales tables for the analytics team's dashboards.",
    ),
    "devops": (
        "Set up CI pipelines and container builds for two services.",
        "Add monitoring and alerting to our cloud servers.",
    ),
    "ux_design": (
        "Run five user interviews and turn the findings into wireframes.",
        "Redesign the onboarding flow of our app, from sketches to a clickable prototype.",
    ),
    "graphic_design": (
        "Design a set of social media templates in our brand style.",
        "Create illustrations and a poster series for a product launch.",
    ),
    "digital_marketing": (
        "Plan and run our social media calendar for the next two months.",
        "Set up small paid campaigns for a new product and report on them weekly.",
    ),
    "content_writing": (
        "Write four blog articles a month on topics our editor assigns.",
        "Edit and proofread product pages before the spring launch.",
    ),
    "video_photo": (
        "Film and edit short videos for our social channels.",
        "Photograph two evening events and deliver edited pictures the next day.",
    ),
    "finance": (
        "Help with bookkeeping and the monthly reconciliations.",
        "Prepare expense reports and keep our invoices in order.",
    ),
    "tutoring": (
        "Tutor secondary-school pupils in maths twice a week.",
        "Run homework-club sessions and help pupils prepare for exams.",
    ),
    "hospitality_events": (
        "Welcome guests and run the check-in desk at conferences.",
        "Serve coffee and help in the kitchen at weekend events.",
    ),
    "sales_support": (
        "Answer customer emails and chats and log their feedback.",
        "Call leads, book product demos and keep the CRM up to date.",
    ),
    "research": (
        "Run survey interviews and code the answers.",
        "Collect and clean the data of a study and write up the method.",
    ),
}
_GENERIC_TASK = "Support our team with {skills}."

_PAY_EUR_CENTS: dict[str, tuple[int, int]] = {
    **dict.fromkeys(
        ("frontend", "backend", "mobile", "data_science", "data_engineering", "devops"),
        (1800, 3200),
    ),
    **dict.fromkeys(("hospitality_events", "sales_support"), (1300, 1800)),
    "tutoring": (1600, 2500),
}
"""Hourly pay range per track, EUR cents (invented, roughly student rates in Germany in
2025); other tracks get :data:`_DEFAULT_PAY`."""
_DEFAULT_PAY = (1500, 2400)

_AVAILABILITY_TEXT = {
    Availability.FULL_TIME: "full-time",
    Availability.PART_TIME: "part-time, about 15 hours a week",
    Availability.WEEKENDS: "on weekends",
    Availability.EVENINGS: "in the evenings",
    Availability.FLEXIBLE: "with flexible hours",
}
_AVAILABILITY_WEIGHTS = {
    Availability.PART_TIME: 35,
    Availability.FLEXIBLE: 25,
    Availability.WEEKENDS: 15,
    Availability.EVENINGS: 15,
    Availability.FULL_TIME: 10,
}
_REMOTE_SHARE = 0.25
_EURO_COUNTRIES = frozenset(
    {"Austria", "Belgium", "Finland", "France", "Germany", "Ireland", "Italy"}
    | {"Netherlands", "Portugal", "Spain"}
)
"""Countries of the demo companies' cities: pay is in euros, and all ten use it."""
_STATUS_CYCLE = 15
"""Of every 15 gigs, the 14th is a draft and the 15th closed (the others open)."""

DEMO_EMPLOYER_CLERK_ID = "demo_employer_01"
"""The first company's account: it owns the first demo gig, which is always open."""


class TrackVocabulary(Protocol):
    """What the generator reads of a skill track (``profiles.demo_vocab.Track``)."""

    @property
    def name(self) -> str: ...

    @property
    def role(self) -> str: ...

    @property
    def skills(self) -> tuple[str, ...]: ...

    @property
    def titles(self) -> tuple[str, ...]: ...


@dataclass(frozen=True, slots=True)
class DemoVocabulary:
    """The demo vocabulary the gigs are made of: tracks (every track named in
    :data:`DEMO_COMPANIES` must be among them), ``"City, Country"`` locations, and
    display spellings of skills (others are shown as written)."""

    tracks: Sequence[TrackVocabulary]
    cities: Sequence[str]
    skill_labels: Mapping[str, str]


def demo_employer_clerk_id(k: int) -> str:
    """Clerk id of company ``k`` (0-based) of :data:`DEMO_COMPANIES`."""
    return f"demo_employer_{k + 1:02d}"


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeio" else "a"


def _gig(
    rng: random.Random,
    i: int,
    vocab: DemoVocabulary,
    tracks: Mapping[str, TrackVocabulary],
    cities: Sequence[str],
    homes: Sequence[str],
    today: int,
) -> GigImport:
    k = i % len(DEMO_COMPANIES)
    company, track_names = DEMO_COMPANIES[k]
    track = tracks[track_names[(i // len(DEMO_COMPANIES)) % len(track_names)]]

    def label(skill: str) -> str:
        return vocab.skill_labels.get(skill, skill)

    pool = rng.sample(track.skills, len(track.skills))
    n_required = rng.randint(2, 4)
    required, nice = pool[:n_required], pool[n_required : n_required + rng.randint(1, 2)]
    availability = rng.choices(
        list(_AVAILABILITY_WEIGHTS), weights=list(_AVAILABILITY_WEIGHTS.values())
    )[0]
    remote = rng.random() < _REMOTE_SHARE
    location = None if remote else (homes[k] if rng.random() < 0.7 else rng.choice(cities))
    low, high = _PAY_EUR_CENTS.get(track.name, _DEFAULT_PAY)
    pay = GigPay(amount_minor=rng.randrange(low, high + 1, 50), currency="EUR", unit=PayUnit.HOUR)
    deadline = today + (rng.randint(14, 90) + 1) * DAY_MS - 1  # end of that UTC day
    task = rng.choice(
        _TASKS.get(track.name, (_GENERIC_TASK.format(skills=", ".join(map(label, required))),))
    )
    first = label(required[0])
    title = f"{rng.choice(track.titles)} ({first[:1].upper() + first[1:]}, {label(required[1])})"
    where = "Remote, from anywhere in the EU." if remote else f"On site in {location}."
    description = " ".join(
        [
            f"{company} is looking for {_article(track.role)} {track.role}, "
            f"{_AVAILABILITY_TEXT[availability]}.",
            task,
            f"Must have: {', '.join(map(label, required))}.",
            f"Nice to have: {', '.join(map(label, nice))}." if nice else "",
            where,
        ]
    ).strip()
    position = i % _STATUS_CYCLE
    status = (
        GigStatus.DRAFT
        if position == _STATUS_CYCLE - 2
        else GigStatus.CLOSED
        if position == _STATUS_CYCLE - 1
        else GigStatus.OPEN
    )
    body = GigWrite(
        title=title,
        description=description,
        required_skills=required,
        nice_skills=nice,
        location=location,
        remote=remote,
        availability=availability,
        pay=pay,
        deadline=deadline,
        status=status,
    )
    employer = Employer(
        clerk_id=demo_employer_clerk_id(k), name=company, created_by="demo", tags=("demo",)
    )
    return GigImport(external_id=f"demo:gig-{i:03d}", employer=employer, body=body)


def generate_demo_gigs(
    vocab: DemoVocabulary, n: int = 60, *, seed: int = 42, now: int | None = None
) -> list[GigImport]:
    """Generate ``n`` deterministic demo gigs.

    Gig ``i`` belongs to company ``i % 7`` of :data:`DEMO_COMPANIES` (account
    ``demo_employer_<k+1:02d>``, ``created_by`` ``"demo"``) and to that company's
    tracks in turn, so every track gets gigs. Each has a title from the track's job
    titles and two of its required skills, a description (company, role,
    availability, a task, the skills, where), 2-4 required and 1-2 nice-to-have
    skills of the track, an availability, a location (about 25% remote, without
    one; the others mostly in the company's home city, all in euro-area
    countries when the vocabulary has such cities), hourly pay in EUR minor
    units (cents, multiples of 50) and a deadline at the end of a UTC day 14-90
    days after ``now``'s. Of every 15 gigs the 14th is a draft and the 15th closed;
    the others are open (gig 0 always is).

    Args:
        vocab: the demo vocabulary (tracks, cities, skill labels).
        n: number of gigs.
        seed: seed of the private random generator; gig ``i`` does not depend on ``n``.
        now: epoch ms the deadlines count from (default: now); only its UTC day matters.

    Returns:
        ``n`` gigs with external ids ``demo:gig-000``, ``demo:gig-001``, ...

    Raises:
        ValueError: ``n`` is negative.
        KeyError: a track of :data:`DEMO_COMPANIES` is missing from ``vocab``.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    tracks = {t.name: t for t in vocab.tracks}
    missing = {name for _, names in DEMO_COMPANIES for name in names} - set(tracks)
    if missing:
        raise KeyError(f"tracks missing from the vocabulary: {', '.join(sorted(missing))}")
    ts = now if now is not None else now_ms()
    today = ts - ts % DAY_MS
    rng = random.Random(f"demo-gigs:{seed}")
    cities = [c for c in vocab.cities if c.rsplit(", ", 1)[-1] in _EURO_COUNTRIES]
    cities = cities or list(vocab.cities)
    homes = [rng.choice(cities) for _ in DEMO_COMPANIES]
    return [_gig(rng, i, vocab, tracks, cities, homes, today) for i in range(n)]


def load_demo_gigs(
    rt: Runtime,
    vocab: DemoVocabulary,
    *,
    count: int = 60,
    seed: int = 42,
    now: int | None = None,
    progress: bool = True,
) -> GigImportReport:
    """Upsert ``count`` demo gigs and their employers into SQL (idempotent for the same
    seed and day); indexing is separate.

    Raises:
        ValueError: ``count`` is negative.
    """
    gigs = generate_demo_gigs(vocab, count, seed=seed, now=now)
    return import_gigs(rt, gigs, desc="demo gigs", progress=progress)
