"""Test data factories (keyword-only arguments)."""

from __future__ import annotations

from models import (
    Availability,
    LanguageItem,
    ProfileDraft,
    SkillItem,
    User,
    UserDraft,
    Visibility,
    WorkItem,
)
from search_service.profiles.repository import upsert_user_profile
from search_service.runtime import Runtime


def make_student(
    rt: Runtime,
    *,
    clerk_id: str,
    headline: str = "",
    bio: str = "",
    skills: tuple[str, ...] = (),
    languages: tuple[str, ...] = (),
    location: str | None = None,
    availability: Availability | None = None,
    work: tuple[tuple[str, str], ...] = (),
    visibility: dict[str, Visibility] | None = None,
    first_name: str = "Test",
    last_name: str = "Student",
) -> User:
    """Create or replace a student with a profile; returns the committed user."""
    user_in = UserDraft(
        clerk_id=clerk_id,
        email=f"{clerk_id}@example.test",
        first_name=first_name,
        last_name=last_name,
        external_id=f"ext-{clerk_id}",
    )
    profile_in = ProfileDraft(
        headline=headline,
        bio=bio,
        location=location,
        availability=availability,
        skills=[SkillItem(name=s) for s in skills],
        languages=[LanguageItem(name=lang) for lang in languages],
        work_experience=[WorkItem(title=t, description=d) for t, d in work],
        visibility=visibility or {},
    )
    with rt.session() as session:
        user, _ = upsert_user_profile(session, user_in, profile_in)
    return user
