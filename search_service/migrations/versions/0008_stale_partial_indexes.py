"""stale rows through partial indexes: finding them costs O(stale), not O(rows)

The refresh job's queries (``index/repository.py``: ``claim_stale``,
``stale_user_ids``, ``staleness``) select rows matching the stale predicate
``embedding_updated_at IS NULL OR embedding_updated_at < visible_updated_at``
ordered by ``visible_updated_at``. The former composite index on
``(embedding_updated_at, visible_updated_at)`` cannot serve the ``<`` between two
columns, so with nothing stale every row was still visited. A partial index
whose WHERE is exactly that predicate holds only the stale rows; SQLite
(https://www.sqlite.org/partialindex.html, "Queries Using Partial Indexes") and
PostgreSQL (https://www.postgresql.org/docs/current/indexes-partial.html) use it
for any query whose WHERE contains the same term.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21 23:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STALE = "embedding_updated_at IS NULL OR embedding_updated_at < visible_updated_at"


def upgrade() -> None:
    for table in ("users", "gigs"):
        op.drop_index(f"ix_{table}_freshness", table_name=table)
        op.create_index(
            f"ix_{table}_stale",
            table,
            ["visible_updated_at"],
            unique=False,
            sqlite_where=sa.text(_STALE),
            postgresql_where=sa.text(_STALE),
        )


def downgrade() -> None:
    for table in ("users", "gigs"):
        op.drop_index(f"ix_{table}_stale", table_name=table)
        op.create_index(
            f"ix_{table}_freshness",
            table,
            ["embedding_updated_at", "visible_updated_at"],
            unique=False,
        )
