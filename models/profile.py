"""Profiles and their sections (profile plan, seed 004, workstream A6).

``profiles`` holds one row per student (keyed by ``user_id``) with the free-text
fields and a per-section visibility map; each section is its own table
(``education``, ``work_experience``, ``projects``, ``languages``, ``skills``),
ordered by ``position``. ``ProfileDraft`` is the write schema used by imports,
the demo generator and (later) the profile API.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import Field as PydField
from sqlalchemy import ForeignKey, Integer, Text
from sqlmodel import Column, Field, SQLModel

from models.common import (
    CamelModel,
    CamelRequest,
    HttpUrlStr,
    ListItem,
    WireEnum,
    json_column,
    ms_column,
    now_ms,
)

__all__ = [
    "SECTIONS",
    "Availability",
    "Education",
    "EducationItem",
    "MAX_SECTION_ITEMS",
    "Language",
    "LanguageItem",
    "MissingItem",
    "Profile",
    "ProfileDraft",
    "ProfileStrength",
    "ProfileView",
    "ProfileWrite",
    "Section",
    "SharedProfileView",
    "Project",
    "ProjectItem",
    "Skill",
    "SkillItem",
    "UserDraft",
    "Visibility",
    "WorkExperience",
    "WorkItem",
]

SECTIONS: tuple[str, ...] = ("education", "work_experience", "projects", "languages", "skills")
"""Profile section names, as stored in ``Profile.visibility`` keys."""


class Visibility(WireEnum):
    """Who may see a section; ``employers`` is the default (privacy by default)."""

    PUBLIC = "public"
    EMPLOYERS = "employers"
    PRIVATE = "private"


class Availability(WireEnum):
    """When a student can take gigs."""

    FULL_TIME = "full_time"
    PART_TIME = "part_time"
    WEEKENDS = "weekends"
    EVENINGS = "evenings"
    FLEXIBLE = "flexible"


def _default_visibility() -> dict[str, str]:
    return {s: Visibility.EMPLOYERS.value for s in SECTIONS}


def _user_fk() -> Column:  # type: ignore[type-arg]
    return Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)


class Profile(SQLModel, table=True):
    """A student's profile; one per user. Times are epoch ms."""

    __tablename__ = "profiles"

    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    )
    headline: str = Field(default="", max_length=300)
    bio: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    location: str | None = Field(default=None, max_length=200)
    availability: str | None = Field(default=None, max_length=16)
    visibility: dict[str, str] = Field(default_factory=_default_visibility, sa_column=json_column())
    version: int = Field(
        default=1,
        sa_column=Column(Integer, nullable=False, default=1, server_default="1"),
        description="Optimistic-locking version (the ETag); +1 on every change.",
    )
    content_hash: str | None = Field(
        default=None,
        max_length=64,
        description="sha256 of the canonical JSON snapshot (``users.portfolio``).",
    )
    strength: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, default=0, server_default="0")
    )
    strength_missing: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=json_column(nullable=True)
    )
    updated_at: int = Field(default_factory=now_ms, sa_column=ms_column(nullable=False))
    created_at: int = Field(default_factory=now_ms, sa_column=ms_column(nullable=False))


class Education(SQLModel, table=True):
    """One education entry of a profile."""

    __tablename__ = "education"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=_user_fk())
    position: int = 0
    school: str = Field(max_length=300)
    degree: str | None = Field(default=None, max_length=200)
    field_of_study: str | None = Field(default=None, max_length=200)
    start_year: int | None = None
    end_year: int | None = None


class WorkExperience(SQLModel, table=True):
    """One job or internship of a profile."""

    __tablename__ = "work_experience"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=_user_fk())
    position: int = 0
    title: str = Field(max_length=300)
    company: str | None = Field(default=None, max_length=300)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    start_year: int | None = None
    end_year: int | None = None


class Project(SQLModel, table=True):
    """One portfolio project of a profile."""

    __tablename__ = "projects"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=_user_fk())
    position: int = 0
    title: str = Field(max_length=300)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    url: str | None = Field(default=None, max_length=2048)
    skills: list[str] = Field(default_factory=list, sa_column=json_column())


class Language(SQLModel, table=True):
    """A spoken language and proficiency."""

    __tablename__ = "languages"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=_user_fk())
    position: int = 0
    name: str = Field(max_length=100)
    proficiency: str | None = Field(default=None, max_length=32)


class Skill(SQLModel, table=True):
    """A skill, stored normalised (lowercase, trimmed)."""

    __tablename__ = "skills"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=_user_fk())
    position: int = 0
    name: str = Field(max_length=100, index=True)
    level: str | None = Field(default=None, max_length=32)
    years: int | None = None


# --- write schemas (camelCase on the wire) -----------------------------------------


class EducationItem(CamelRequest):
    """Education entry as written by clients."""

    school: str = PydField(min_length=1, max_length=300)
    degree: str | None = PydField(default=None, max_length=200)
    field_of_study: str | None = PydField(default=None, max_length=200)
    start_year: int | None = PydField(default=None, ge=1950, le=2100)
    end_year: int | None = PydField(default=None, ge=1950, le=2100)


class WorkItem(CamelRequest):
    """Work experience entry as written by clients."""

    title: str = PydField(min_length=1, max_length=300)
    company: str | None = PydField(default=None, max_length=300)
    description: str = PydField(default="", max_length=20_000)
    start_year: int | None = PydField(default=None, ge=1950, le=2100)
    end_year: int | None = PydField(default=None, ge=1950, le=2100)


class ProjectItem(CamelRequest):
    """Portfolio project as written by clients.

    ``url`` must be an absolute ``http``/``https`` URL; skill names are at most
    ``MAX_LIST_ITEM_LENGTH`` characters. Rows stored before these rules stay
    readable (``models.common.STORED``).
    """

    title: str = PydField(min_length=1, max_length=300)
    description: str = PydField(default="", max_length=20_000)
    url: HttpUrlStr | None = None
    skills: list[ListItem] = PydField(default_factory=list, max_length=50)


class LanguageItem(CamelRequest):
    """Spoken language as written by clients; ``name`` is not blank."""

    name: ListItem
    proficiency: str | None = PydField(default=None, max_length=32)


class SkillItem(CamelRequest):
    """Skill as written by clients; ``name`` is not blank, ``level`` is free text such
    as ``advanced``."""

    name: ListItem
    level: str | None = PydField(default=None, max_length=32)
    years: int | None = PydField(default=None, ge=0, le=80)


class UserDraft(CamelModel):
    """Identity fields for creating or updating a user outside Clerk (imports, demo)."""

    clerk_id: str = PydField(min_length=1, max_length=255)
    email: str | None = PydField(default=None, max_length=320)
    first_name: str | None = PydField(default=None, max_length=255)
    last_name: str | None = PydField(default=None, max_length=255)
    username: str | None = PydField(default=None, max_length=255)
    image_url: str | None = PydField(default=None, max_length=2048)
    external_id: str | None = PydField(default=None, max_length=255)
    roles: list[str] = PydField(default_factory=lambda: ["student"])
    tags: list[str] = PydField(default_factory=list)
    created_by: str = "system"


class ProfileDraft(CamelModel):
    """A whole profile as written: free-text fields plus every section's items."""

    headline: str = PydField(default="", max_length=300)
    bio: str = PydField(default="", max_length=100_000)
    location: str | None = PydField(default=None, max_length=200)
    availability: Availability | None = None
    education: list[EducationItem] = PydField(default_factory=list)
    work_experience: list[WorkItem] = PydField(default_factory=list)
    projects: list[ProjectItem] = PydField(default_factory=list)
    languages: list[LanguageItem] = PydField(default_factory=list)
    skills: list[SkillItem] = PydField(default_factory=list)
    visibility: dict[str, Visibility] = PydField(default_factory=dict)


# --- the profile API (owner writes, owner/employer/public reads) --------------------

ItemT = TypeVar("ItemT", EducationItem, WorkItem, ProjectItem, LanguageItem, SkillItem)

MAX_SECTION_ITEMS = 100
"""Most items one section may hold (a bound on write size, not a product rule)."""


class Section(CamelRequest, Generic[ItemT]):
    """One profile section on the wire: who may see it and its items, in order."""

    visibility: Visibility = Visibility.EMPLOYERS
    items: list[ItemT] = PydField(default_factory=list, max_length=MAX_SECTION_ITEMS)


class ProfileWrite(CamelRequest):
    """The whole editable profile (``PUT /v1/me/profile``; the result of a merge patch).

    A section left out is empty with the default visibility (``employers``).
    """

    headline: str = PydField(default="", max_length=300)
    bio: str = PydField(default="", max_length=100_000)
    location: str | None = PydField(default=None, max_length=200)
    availability: Availability | None = None
    education: Section[EducationItem] = PydField(default_factory=Section[EducationItem])
    work_experience: Section[WorkItem] = PydField(default_factory=Section[WorkItem])
    projects: Section[ProjectItem] = PydField(default_factory=Section[ProjectItem])
    languages: Section[LanguageItem] = PydField(default_factory=Section[LanguageItem])
    skills: Section[SkillItem] = PydField(default_factory=Section[SkillItem])

    def to_draft(self) -> ProfileDraft:
        """The flat write form used by the repository (items plus a visibility map)."""
        return ProfileDraft(
            headline=self.headline,
            bio=self.bio,
            location=self.location,
            availability=self.availability,
            education=list(self.education.items),
            work_experience=list(self.work_experience.items),
            projects=list(self.projects.items),
            languages=list(self.languages.items),
            skills=list(self.skills.items),
            visibility={s: getattr(self, s).visibility for s in SECTIONS},
        )


class MissingItem(CamelModel):
    """Something that would raise the profile strength, and by how many points."""

    item: str
    hint: str
    points: int


class ProfileStrength(CamelModel):
    """Completeness score 0-100 with what is missing (seed 004, A4)."""

    score: int = PydField(ge=0, le=100)
    missing: list[MissingItem] = PydField(default_factory=list)


class ProfileView(ProfileWrite):
    """The owner's view of their profile: every section, with version and state.

    ``version`` is also sent as the ``ETag``; ``searchable`` is true once the
    current version is in the search index (``embeddingUpdatedAt >= updatedAt``).
    Times are epoch ms.
    """

    user_id: int
    version: int
    updated_at: int
    embedding_updated_at: int | None
    searchable: bool
    strength: ProfileStrength


class SharedProfileView(CamelModel):
    """A profile as another person sees it: only the sections they may see.

    Anonymous viewers (``/v1/profiles/{id}/public``) get ``public`` sections;
    employers get ``public`` and ``employers`` sections plus bio, location and
    availability. A section the viewer may not see is ``null``.
    """

    user_id: int
    display_name: str
    headline: str
    bio: str | None = None
    location: str | None = None
    availability: Availability | None = None
    education: Section[EducationItem] | None = None
    work_experience: Section[WorkItem] | None = None
    projects: Section[ProjectItem] | None = None
    languages: Section[LanguageItem] | None = None
    skills: Section[SkillItem] | None = None
