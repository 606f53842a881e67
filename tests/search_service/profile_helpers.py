"""Helpers for profile tests: a student with an API key acting as them."""

from __future__ import annotations

from dataclasses import dataclass

from models import User
from search_service.db import session_scope
from search_service.runtime import Runtime
from search_service.users.api_keys import create_api_key
from tests.factories import make_student


@dataclass(frozen=True)
class Student:
    """A student user and the headers of a key that acts as them."""

    user: User
    headers: dict[str, str]

    @property
    def id(self) -> int:
        """The user id."""
        assert self.user.id is not None
        return self.user.id


def student_with_key(rt: Runtime, clerk_id: str, **profile: object) -> Student:
    """A student (``make_student`` fields) with a student API key."""
    user = make_student(rt, clerk_id=clerk_id, **profile)  # type: ignore[arg-type]
    with session_scope(rt.engine) as session:
        _, key = create_api_key(session, role="student", user_id=user.id)
    return Student(user=user, headers={"Authorization": f"Bearer {key}"})


def new_user_with_key(rt: Runtime, clerk_id: str, role: str = "student") -> Student:
    """A user without a profile, with a key of ``role``."""
    with session_scope(rt.engine) as session:
        user = User(clerk_id=clerk_id, roles=[role], first_name="Ada", last_name="Lovelace")
        session.add(user)
        session.flush()
        _, key = create_api_key(session, role=role, user_id=user.id)
    return Student(user=user, headers={"Authorization": f"Bearer {key}"})
