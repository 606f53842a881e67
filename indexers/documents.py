"""Turning a user's rows into the text that is embedded and the payload that is filtered.

Privacy by construction: a section whose visibility is ``private`` contributes
nothing to the text, the BM25 vector or the payload, so it can neither be found
nor influence ranking.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from models import (
    Education,
    Language,
    Profile,
    Project,
    Skill,
    User,
    Visibility,
    WorkExperience,
)

__all__ = [
    "ProfileDocument",
    "ProfileRows",
    "build_document",
    "location_terms",
    "normalise_keyword",
    "text_hash",
]

_SPACES = re.compile(r"\s+")


def normalise_keyword(value: str) -> str:
    """Lowercase, trim and collapse inner whitespace.

    ``" Machine  Learning"`` -> ``"machine learning"``.
    """
    return _SPACES.sub(" ", value.strip().lower())


def location_terms(location: str | None) -> list[str]:
    """Keywords a location filter can match: the whole string and each comma part.

    ``"Berlin, Germany"`` -> ``["berlin, germany", "berlin", "germany"]``.
    """
    if not location:
        return []
    whole = normalise_keyword(location)
    parts = [normalise_keyword(p) for p in whole.split(",")]
    return list(dict.fromkeys([whole, *[p for p in parts if p]]))


def text_hash(text: str) -> str:
    """First 16 hex digits of the sha256 of ``text`` (detects unchanged documents)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(slots=True)
class ProfileRows:
    """Everything stored about one user that search may use."""

    user: User
    profile: Profile | None
    education: Sequence[Education] = field(default_factory=list)
    work_experience: Sequence[WorkExperience] = field(default_factory=list)
    projects: Sequence[Project] = field(default_factory=list)
    languages: Sequence[Language] = field(default_factory=list)
    skills: Sequence[Skill] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ProfileDocument:
    """What gets indexed for one user.

    Attributes:
        user_id: point id.
        text: the document embedded (dense) and BM25-encoded.
        payload: filterable fields plus ``text_hash`` and ``updated_at`` (epoch ms).
        version: the ``users.updated_at`` (epoch ms) this document was built from.
    """

    user_id: int
    text: str
    payload: dict[str, Any]
    version: int


def _visible(profile: Profile | None, section: str) -> bool:
    if profile is None:
        return True
    return profile.visibility.get(section, Visibility.EMPLOYERS.value) != Visibility.PRIVATE.value


def _years(start: int | None, end: int | None) -> str:
    if start and end:
        return f" ({start}-{end})"
    if start:
        return f" ({start}-)"
    return ""


def build_document(rows: ProfileRows) -> ProfileDocument:
    """Build the indexed document of one user; private sections are left out.

    Raises:
        ValueError: the user has no id yet (not flushed).
    """
    user, profile = rows.user, rows.profile
    if user.id is None:
        raise ValueError("user must be flushed (have an id) before indexing")
    parts: list[str] = []
    if profile is not None:
        parts += [profile.headline, profile.bio]
    skills: list[str] = []
    if _visible(profile, "skills"):
        skills = list(dict.fromkeys(normalise_keyword(s.name) for s in rows.skills if s.name))
        if skills:
            parts.append("Skills: " + ", ".join(skills))
    if _visible(profile, "work_experience"):
        for w in rows.work_experience:
            at = f" at {w.company}" if w.company else ""
            parts.append(f"{w.title}{at}{_years(w.start_year, w.end_year)}. {w.description}")
    if _visible(profile, "projects"):
        for p in rows.projects:
            used = f" ({', '.join(p.skills)})" if p.skills else ""
            parts.append(f"Project: {p.title}{used}. {p.description}")
    if _visible(profile, "education"):
        for e in rows.education:
            what = " in ".join(x for x in (e.degree, e.field_of_study) if x)
            parts.append(f"{what}, {e.school}{_years(e.start_year, e.end_year)}".lstrip(", "))
    languages: list[str] = []
    if _visible(profile, "languages"):
        languages = list(dict.fromkeys(normalise_keyword(lang.name) for lang in rows.languages))
        if languages:
            parts.append("Languages: " + ", ".join(languages))
    text = "\n".join(p.strip() for p in parts if p and p.strip())
    payload: dict[str, Any] = {
        "skills": skills,
        "languages": languages,
        "location_terms": location_terms(profile.location if profile else None),
        "availability": profile.availability if profile and profile.availability else None,
        "updated_at": user.updated_at,
        "text_hash": text_hash(text),
    }
    return ProfileDocument(user_id=user.id, text=text, payload=payload, version=user.updated_at)
