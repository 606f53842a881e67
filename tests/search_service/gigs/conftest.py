"""Fixtures shared by the gig tests."""

from __future__ import annotations

import pytest

from search_service.runtime import Runtime
from tests.search_service.profile_helpers import Student, new_user_with_key


@pytest.fixture
def owner(runtime: Runtime) -> Student:
    """An employer on the default runtime (SQL-only tests)."""
    return new_user_with_key(runtime, "emp_owner", role="employer")
