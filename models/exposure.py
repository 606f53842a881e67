"""Which students a gig's owner has been shown for that gig."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer
from sqlmodel import Field, SQLModel

from models.common import ms_column

__all__ = ["CandidateExposure"]


class CandidateExposure(SQLModel, table=True):
    """A student shown to a gig's owner in that gig's candidates or applicants list
    (one row per pair, kept from the first time; epoch ms).

    The owner may decide on (shortlist or reject) only students the gig has shown
    them or who applied to it, so a decision cannot probe which user ids are
    students (``search_service/gigs/feedback.py``).
    """

    __tablename__ = "candidate_exposures"

    gig_id: int = Field(
        sa_column=Column(Integer, ForeignKey("gigs.id"), primary_key=True, nullable=False)
    )
    user_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("users.id"), primary_key=True, nullable=False, index=True
        )
    )
    first_shown_at: int = Field(sa_column=ms_column(nullable=False))
