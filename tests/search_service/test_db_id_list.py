"""``db.in_id_list``: an id list bound as one parameter selects exactly those rows,
on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlmodel import Session, col

from models import User
from search_service.db import id_list_param, in_id_list, make_engine


@pytest.mark.parametrize(
    "picks",
    [[], [1], [2, 0], [0, 0, 1], [1, -1, 3], [-1, -2]],
    ids=["none", "one", "two", "repeated", "with-unknown", "only-unknown"],
)
def test_in_id_list_selects_exactly_the_listed_rows(database_url: str, picks: list[int]) -> None:
    # picks: indexes of the four users made here; negative ones name ids no row has.
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            users = [User(clerk_id=f"user_{i}", name=f"User {i}") for i in range(4)]
            session.add_all(users)
            session.flush()
            ids = [u.id for u in users if u.id is not None]
            wanted = [ids[p] if p >= 0 else max(ids) - 100 * p for p in picks]
            dialect = engine.dialect.name
            stmt = select(col(User.id)).where(in_id_list(dialect, col(User.id), "ids"))
            rows = session.execute(stmt, {"ids": id_list_param(dialect, wanted)}).scalars()
            assert sorted(rows) == sorted(set(wanted) & set(ids))
    finally:
        engine.dispose()
