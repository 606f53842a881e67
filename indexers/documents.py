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

from indexers.store import CollectionSchema
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
    "FILTER_FIELDS",
    "PROFILE_SCHEMA",
    "ProfileDocument",
    "ProfileRows",
    "build_document",
    "location_terms",
    "normalise_keyword",
    "reduces",
    "text_hash",
]

FILTER_FIELDS: tuple[str, ...] = ("skills", "languages", "location_terms", "availability")
"""Payload fields employers filter on (keyword lists, or one keyword)."""

PROFILE_SCHEMA = CollectionSchema(keyword_fields=FILTER_FIELDS)
"""Payload indexes of the profile collection: a keyword index per filter field and
an integer one on ``updated_at`` (the document version, epoch ms)."""

_CLOCK_FIELDS = frozenset({"updated_at", "text_hash"})

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
        payload: filterable fields plus ``text_hash`` and ``updated_at`` (epoch ms,
            the version below: filter-only browsing orders by it).
        version: the ``users.visible_updated_at`` (epoch ms) this document was built
            from (0 before the user has one).
        segments: one text per section item (work, project, education); the
            headline and bio are compared word by word, the skill and language
            lines are the payload lists.
        title: the headline, weighted apart in the dense vector
            (:func:`indexers.embed_documents`); it is also the text's first line.
    """

    user_id: int
    text: str
    payload: dict[str, Any]
    version: int
    segments: tuple[str, ...] = ()
    title: str = ""

    @property
    def id(self) -> int:
        """The point id (``users.id``)."""
        return self.user_id

    @property
    def fingerprint(self) -> str:
        """sha256 (64 hex digits) of what employers can find: the text and the
        filterable payload, clocks excluded. Equal fingerprints mean nothing
        employer-visible changed."""
        stable = {k: v for k, v in sorted(self.payload.items()) if k not in _CLOCK_FIELDS}
        blob = repr((self.text, sorted(stable.items())))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _keywords(doc: ProfileDocument, name: str) -> set[str]:
    value = doc.payload.get(name)
    if value is None:
        return set()
    return {str(v) for v in value} if isinstance(value, list) else {str(value)}


def reduces(old: ProfileDocument | None, new: ProfileDocument | None) -> bool:
    """True when ``new`` takes away something employers could find in ``old``: a
    section item that is gone or changed, a word that is gone from the text
    (headline and bio included), or a filter value (skill, language, location,
    availability) that is gone. A
    section made private or emptied, an item deleted and an account leaving search
    (``new`` is None) are all reductions; pure additions are not.
    """
    if old is None:
        return False
    if new is None:
        return True
    if not set(old.segments) <= set(new.segments):
        return True
    if not _words(old.text) <= _words(new.text):
        return True
    return any(not _keywords(old, f) <= _keywords(new, f) for f in FILTER_FIELDS)


_WORD = re.compile(r"\w+")


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


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

    Its version (and payload ``updated_at``) is ``users.visible_updated_at``, the
    clock of employer-visible changes, never the row's ``updated_at``.

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
    skills_line = ""
    if _visible(profile, "skills"):
        skills = list(dict.fromkeys(normalise_keyword(s.name) for s in rows.skills if s.name))
        if skills:
            skills_line = "Skills: " + ", ".join(skills)
            parts.append(skills_line)
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
    languages_line = ""
    if _visible(profile, "languages"):
        languages = list(dict.fromkeys(normalise_keyword(lang.name) for lang in rows.languages))
        if languages:
            languages_line = "Languages: " + ", ".join(languages)
            parts.append(languages_line)
    kept = [p.strip() for p in parts if p and p.strip()]
    text = "\n".join(kept)
    version = user.visible_updated_at or 0
    payload: dict[str, Any] = {
        "skills": skills,
        "languages": languages,
        "location_terms": location_terms(profile.location if profile else None),
        "availability": profile.availability if profile and profile.availability else None,
        "strength": profile.strength if profile is not None else 0,
        "updated_at": version,
        "text_hash": text_hash(text),
    }
    free_text = {skills_line.strip(), languages_line.strip()}
    if profile is not None:
        free_text |= {profile.headline.strip(), profile.bio.strip()}
    segments = tuple(dict.fromkeys(p for p in kept if p not in free_text))
    return ProfileDocument(
        user_id=user.id,
        text=text,
        payload=payload,
        version=version,
        segments=segments,
        title=profile.headline.strip() if profile is not None else "",
    )
