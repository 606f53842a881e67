"""Gigs (employers' postings) and interactions (feedback between a gig and a student).

``gigs`` holds one row per posting, owned by an employer (``owner_id``), with the
same index-state columns as ``users`` (``search_service.index.entity``): gigs are
the second indexed entity, one point per servable gig in the ``gigs`` collection.
Pay is in minor units (cents) of an ISO 4217 currency, per hour or fixed. Only an
``open`` gig before its ``deadline`` is shown to students.

``interactions`` holds one row per (gig, student) pair: the employer's decision
(``shortlisted``/``rejected``) and the student's action (``applied``/``dismissed``),
each a soft state that can be cleared, with the time it was set. Times are epoch ms.
"""

from __future__ import annotations

from pydantic import ConfigDict, field_validator
from pydantic import Field as PydField
from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlmodel import Column, Field, Index, SQLModel

from models.common import (
    CamelModel,
    CamelRequest,
    ListItem,
    WireEnum,
    json_column,
    ms_column,
    now_ms,
    stale_index,
)
from models.profile import Availability

__all__ = [
    "MAX_DESCRIPTION_LENGTH",
    "MAX_GIG_SKILLS",
    "CandidateDecision",
    "DecisionWrite",
    "Gig",
    "GigActionList",
    "GigActionView",
    "GigPay",
    "GigStatus",
    "GigView",
    "GigWrite",
    "Interaction",
    "InteractionView",
    "PayUnit",
    "StudentAction",
]

MAX_DESCRIPTION_LENGTH = 20_000
"""Longest gig description, in characters (the longest real posting in the sample
CSV is under 12,000)."""
MAX_GIG_SKILLS = 30
"""Most required (and, separately, nice-to-have) skills a gig lists."""


class GigStatus(WireEnum):
    """A gig's life cycle. Only ``open`` gigs (before their deadline) reach students."""

    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"
    FILLED = "filled"


class PayUnit(WireEnum):
    """What the pay amount is for."""

    HOUR = "hour"
    FIXED = "fixed"


class CandidateDecision(WireEnum):
    """The gig owner's decision on a student."""

    SHORTLISTED = "shortlisted"
    REJECTED = "rejected"


class StudentAction(WireEnum):
    """A student's action on a gig."""

    APPLIED = "applied"
    DISMISSED = "dismissed"


class Gig(SQLModel, table=True):
    """One posting. ``deleted_at`` set means soft-deleted; times are epoch ms."""

    __tablename__ = "gigs"
    __table_args__ = (
        stale_index("gigs"),
        Index("ix_gigs_owner", "owner_id", "deleted_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(sa_column=Column(Integer, ForeignKey("users.id"), nullable=False))
    external_id: str | None = Field(
        default=None,
        sa_column=Column(String(255), unique=True, nullable=True),
        description="Source key of an imported posting (e.g. ``linkedin:<job id>``).",
    )
    title: str = Field(sa_column=Column(String(200), nullable=False))
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    required_skills: list[str] = Field(default_factory=list, sa_column=json_column())
    nice_skills: list[str] = Field(default_factory=list, sa_column=json_column())
    location: str | None = Field(default=None, max_length=200)
    remote: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, default=False))
    availability: str | None = Field(default=None, max_length=16)
    pay_amount: int | None = Field(
        default=None, sa_column=Column(BigInteger, nullable=True), description="Minor units."
    )
    pay_currency: str | None = Field(default=None, max_length=3)
    pay_unit: str | None = Field(default=None, max_length=8)
    deadline: int | None = Field(default=None, sa_column=ms_column())
    status: str = Field(default=GigStatus.DRAFT.value, max_length=16)
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False, default=1))
    embedding_updated_at: int | None = Field(default=None, sa_column=ms_column())
    visible_updated_at: int | None = Field(
        default=None,
        sa_column=ms_column(),
        description="When the indexed document last changed (ms): the index version clock.",
    )
    privacy_floor: int | None = Field(default=None, sa_column=ms_column())
    index_doc_hash: str | None = Field(default=None, max_length=64)
    index_lease_owner: str | None = Field(default=None, max_length=64)
    index_lease_expires_at: int | None = Field(default=None, sa_column=ms_column())
    index_attempts: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, default=0, server_default="0")
    )
    index_retry_at: int | None = Field(default=None, sa_column=ms_column())
    created_at: int = Field(default_factory=now_ms, sa_column=ms_column(nullable=False))
    updated_at: int = Field(default_factory=now_ms, sa_column=ms_column(nullable=False))
    deleted_at: int | None = Field(default=None, sa_column=ms_column())

    def is_live(self, now: int) -> bool:
        """True when students may see it at ``now`` (epoch ms): open, not deleted,
        deadline (if any) not passed. The owner's account is checked separately."""
        return (
            self.deleted_at is None
            and self.status == GigStatus.OPEN.value
            and (self.deadline is None or self.deadline > now)
        )


class Interaction(SQLModel, table=True):
    """Feedback between one gig and one student (unique per pair)."""

    __tablename__ = "interactions"
    __table_args__ = (
        UniqueConstraint("gig_id", "user_id", name="uq_interactions_pair"),
        Index("ix_interactions_user", "user_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    gig_id: int = Field(sa_column=Column(Integer, ForeignKey("gigs.id"), nullable=False))
    user_id: int = Field(sa_column=Column(Integer, ForeignKey("users.id"), nullable=False))
    decision: str | None = Field(default=None, max_length=16)
    decided_at: int | None = Field(default=None, sa_column=ms_column())
    action: str | None = Field(default=None, max_length=16)
    acted_at: int | None = Field(default=None, sa_column=ms_column())
    created_at: int = Field(default_factory=now_ms, sa_column=ms_column(nullable=False))
    updated_at: int = Field(default_factory=now_ms, sa_column=ms_column(nullable=False))


class GigPay(CamelRequest):
    """Pay in minor units (cents) of an ISO 4217 currency, per hour or fixed."""

    amount_minor: int = PydField(ge=0, le=10**12, examples=[2500])
    currency: str = PydField(pattern=r"^[A-Z]{3}$", examples=["EUR"])
    unit: PayUnit = PayUnit.HOUR


class GigWrite(CamelRequest):
    """A gig as its owner writes it. Skills are mapped through the skill taxonomy on
    write ("JS" -> "javascript"); ``deadline`` is epoch ms."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "title": "React developer for a student-run startup",
                    "description": "Build the booking flow of our web app, 10 h a week.",
                    "requiredSkills": ["React", "TypeScript"],
                    "niceSkills": ["Figma"],
                    "location": "Berlin, Germany",
                    "remote": True,
                    "availability": "part_time",
                    "pay": {"amountMinor": 2500, "currency": "EUR", "unit": "hour"},
                    "deadline": 1798761600000,
                    "status": "open",
                }
            ]
        }
    )

    title: str = PydField(min_length=1, max_length=200, examples=["Barista for weekend events"])
    description: str = PydField(default="", max_length=MAX_DESCRIPTION_LENGTH)
    required_skills: list[ListItem] = PydField(default_factory=list, max_length=MAX_GIG_SKILLS)
    nice_skills: list[ListItem] = PydField(default_factory=list, max_length=MAX_GIG_SKILLS)
    location: str | None = PydField(default=None, max_length=200)
    remote: bool = False
    availability: Availability | None = None
    pay: GigPay | None = None
    deadline: int | None = PydField(default=None, ge=0, le=253_402_300_799_999)
    status: GigStatus = GigStatus.DRAFT

    @field_validator("title")
    @classmethod
    def _title_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("title must not be blank")
        return value


class GigView(GigWrite):
    """A gig as the API returns it.

    ``version`` is also sent as the ``ETag``; ``searchable`` is true once the
    current version is in the index; ``expired`` once the deadline has passed
    (an expired gig is never shown to students, whatever its status).
    """

    id: int
    owner_id: int
    company: str = ""
    version: int
    created_at: int
    updated_at: int
    embedding_updated_at: int | None = None
    searchable: bool = False
    expired: bool = False


class DecisionWrite(CamelRequest):
    """The gig owner's decision on a student (``PUT /v1/gigs/{gigId}/decisions/{userId}``)."""

    decision: CandidateDecision


class InteractionView(CamelModel):
    """One (gig, student) pair as the gig's owner sees it. Times are epoch ms.

    Only the owner's side and what the owner may know: ``action`` is ``applied``
    or null (a student's dismissal is theirs alone, so it shows as null), and
    ``updatedAt`` is the latest of the times shown here (null when nothing is).
    Nothing of the student's profile is included.
    """

    gig_id: int
    user_id: int
    decision: CandidateDecision | None = None
    decided_at: int | None = None
    action: StudentAction | None = None
    acted_at: int | None = None
    updated_at: int | None = None


class GigActionView(CamelModel):
    """A student's own action on a gig, as the student sees it. Times are epoch ms.

    The owner's decision is not part of it (it is the owner's working note).
    ``gig`` is the gig while students may see it (open, before its deadline, its
    owner in good standing), null once it is closed, filled or expired.
    """

    gig_id: int
    action: StudentAction
    acted_at: int
    gig: GigView | None = None


class GigActionList(CamelModel):
    """A page of the caller's actions on gigs, newest first; ``nextOffset`` is null
    on the last page."""

    results: list[GigActionView]
    total: int
    next_offset: int | None = None
