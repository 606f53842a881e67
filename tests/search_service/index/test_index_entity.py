"""The index mechanism is entity-agnostic: an entity names its table and its rules."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlmodel import col, select

from models import Profile, User
from search_service.index.entity import INDEX_STATE_COLUMNS, PROFILE_ROWS
from search_service.index.repository import active_user_ids
from search_service.runtime import Runtime
from tests.factories import make_student


def test_an_entity_table_must_carry_the_index_state() -> None:
    with pytest.raises(TypeError, match="index_lease_owner"):
        replace(
            PROFILE_ROWS,
            name="profiles-without-state",
            model=Profile,
            searchable=lambda: (),
            has_document=lambda: (),
        )
    assert all(hasattr(User, c) for c in INDEX_STATE_COLUMNS)


def test_the_entity_decides_which_rows_belong_in_the_index(runtime: Runtime) -> None:
    a = make_student(runtime, clerk_id="ent_a", headline="platypus")
    b = make_student(runtime, clerk_id="ent_b", headline="echidna")
    only_a = replace(
        PROFILE_ROWS, name="profiles-of-a", has_document=lambda: (col(User.clerk_id) == "ent_a",)
    )
    with runtime.session() as session:
        assert active_user_ids(session, entity=PROFILE_ROWS) == sorted([a.id or 0, b.id or 0])
        assert active_user_ids(session, entity=only_a) == [a.id]
        assert session.exec(select(User.id).where(*only_a.indexable())).all() == [a.id]
