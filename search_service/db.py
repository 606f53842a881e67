"""Database engine, sessions (units of work) and migrations.

One unit of work per request or job step: services and repositories never
commit; the request's session commits on success and rolls back on error
(:func:`session_scope`). Side effects outside SQL (index deletes, wake-ups) are
registered with :func:`after_commit` and run once, right after the commit, from
one place; a rollback discards them. All SQL lives in repository modules
(each domain's ``repository.py``, ``search_service.index.repository``,
``search_service.outbox``). Migrations are Alembic's, run at start-up
(``upgrade head``) so a fresh ``./var`` works without a separate step.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import JSON, Engine, Integer, bindparam, event, func, literal_column
from sqlalchemy import select as sa_select
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, create_engine

__all__ = [
    "after_commit",
    "alembic_config",
    "has_pending_hooks",
    "id_list_param",
    "in_id_list",
    "json_rows",
    "json_rows_value",
    "make_engine",
    "migrate",
    "session_scope",
]

_MIGRATIONS = Path(__file__).parent / "migrations"
_HOOKS = "after_commit_hooks"

log = logging.getLogger(__name__)


def after_commit(session: OrmSession, hook: Callable[[], None]) -> None:
    """Run ``hook`` once, right after ``session``'s transaction commits.

    Hooks run in registration order; one that raises is logged and the others
    still run (the work they do must also be recoverable without them, e.g. from
    an outbox event). A rollback discards pending hooks. A hook must not use
    ``session`` itself: it is between transactions.
    """
    session.info.setdefault(_HOOKS, []).append(hook)


def has_pending_hooks(session: OrmSession) -> bool:
    """Whether ``session`` holds :func:`after_commit` hooks its next commit will run."""
    return bool(session.info.get(_HOOKS))


@event.listens_for(OrmSession, "after_commit")
def _run_hooks(session: OrmSession) -> None:
    hooks: list[Callable[[], None]] = session.info.pop(_HOOKS, [])
    for hook in hooks:
        try:
            hook()
        except Exception:
            log.exception("post-commit hook %s failed", getattr(hook, "__name__", hook))


@event.listens_for(OrmSession, "after_rollback")
def _drop_hooks(session: OrmSession) -> None:
    session.info.pop(_HOOKS, None)


def make_engine(url: str) -> Engine:
    """Create the SQLAlchemy engine; SQLite gets WAL mode, foreign keys and a busy timeout.

    Bound parameters are hidden in error messages: a failing statement's values
    (profile text, emails) must not reach the logs (docs/privacy.md, "Logs").
    """
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            hide_parameters=True,
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=10, hide_parameters=True
    )


def alembic_config(engine: Engine) -> Config:
    """Alembic configuration bound to ``engine`` (no ``alembic.ini`` needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the latest Alembic revision.

    A schema already at the latest revision costs one query: the revision
    scripts are read once per process, and Alembic's environment runs only when
    there is something to upgrade.
    """
    with engine.connect() as conn:
        current = frozenset(MigrationContext.configure(conn).get_current_heads())
    if current == _script_heads():
        return
    command.upgrade(alembic_config(engine), "head")


@cache
def _script_heads() -> frozenset[str]:
    return frozenset(ScriptDirectory(str(_MIGRATIONS)).get_heads())


@contextmanager
def session_scope(engine: Engine, **info: Any) -> Iterator[Session]:
    """A unit of work: commits on success (then runs its :func:`after_commit`
    hooks) and rolls back on any exception.

    Args:
        engine: the SQL engine.
        **info: entries for ``session.info`` (e.g. ``runtime=`` so post-commit
            hooks can reach the vector store).
    """
    with Session(engine, expire_on_commit=False, info=info) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def json_rows(dialect: str, model: Any, *where: Any, columns: Sequence[str] = ()) -> Any:
    """A correlated scalar subquery: the rows of ``model``'s table meeting ``where``
    as one JSON array of objects (column name -> value; ``columns``, default all),
    so one statement can read a row together with the rows that belong to it
    (SQLite ``json_group_array(json_object(...))``, JSON columns embedded with
    ``json()``; PostgreSQL ``json_agg(json_build_object(...))``). Neither orders
    the array: sort what :func:`json_rows_value` returns.

    Args:
        dialect: ``session.get_bind().dialect.name``.
        model: a SQLModel table class.
        where: its conditions, correlated to the outer statement's tables.
        columns: column names to carry (default every column).
    """
    table = model.__table__
    cols = [table.c[name] for name in (columns or table.c.keys())]
    pairs: list[Any] = []
    for c in cols:
        pairs.append(literal_column(f"'{c.name}'"))
        pairs.append(func.json(c) if dialect != "postgresql" and isinstance(c.type, JSON) else c)
    if dialect == "postgresql":
        agg = func.json_agg(func.json_build_object(*pairs))
    else:
        agg = func.json_group_array(func.json_object(*pairs))
    return sa_select(agg).where(*where).scalar_subquery()


def json_rows_value(value: Any) -> list[dict[str, Any]]:
    """The rows of a :func:`json_rows` column as dicts: text on SQLite, decoded by
    psycopg already, ``None`` (no rows) on PostgreSQL."""
    rows = json.loads(value) if isinstance(value, str) else value
    return list(rows or [])


def in_id_list(dialect: str, column: Any, name: str) -> Any:
    """SQL condition: ``column`` is one of the integers bound to ``name`` as one
    parameter (:func:`id_list_param` makes its value): PostgreSQL
    ``column = ANY(:name)`` over an integer array, SQLite ``column IN (SELECT
    value FROM json_each(:name))`` over a JSON array (the same rowid look-ups as a
    literal ``IN`` list, per ``EXPLAIN QUERY PLAN``).

    Unlike ``column.in_(bindparam(name, expanding=True))``, the compiled
    statement is complete: SQLAlchemy does not re-render it for each list length
    on every execution, which cost more than running it on hot statements.
    """
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == func.any(bindparam(name, type_=ARRAY(Integer)))
    each: Any = sa_select(literal_column("value")).select_from(func.json_each(bindparam(name)))
    return column.in_(each)


def id_list_param(dialect: str, ids: Sequence[int]) -> Any:
    """The value of an :func:`in_id_list` parameter: a list for PostgreSQL, JSON
    text for SQLite."""
    values = [int(i) for i in ids]
    return values if dialect == "postgresql" else json.dumps(values)
