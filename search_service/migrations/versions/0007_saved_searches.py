"""saved searches and the candidates they matched

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ms(name: str, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.BigInteger(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "saved_searches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("interval_s", sa.Integer(), nullable=True),
        _ms("next_run_at", nullable=False),
        _ms("last_run_at"),
        _ms("last_success_at"),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        _ms("created_at", nullable=False),
        _ms("updated_at", nullable=False),
        _ms("deleted_at"),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_saved_searches_owner", "saved_searches", ["owner_id", "deleted_at"], unique=False
    )
    op.create_index(
        "ix_saved_searches_due", "saved_searches", ["deleted_at", "next_run_at"], unique=False
    )
    op.create_table(
        "saved_search_matches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("saved_search_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("alert", sa.Boolean(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        _ms("indexed_version"),
        _ms("created_at", nullable=False),
        _ms("seen_at"),
        sa.ForeignKeyConstraint(["saved_search_id"], ["saved_searches.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("saved_search_id", "user_id", name="uq_saved_search_matches_pair"),
    )
    op.create_index(
        "ix_saved_search_matches_user", "saved_search_matches", ["user_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_saved_search_matches_user", table_name="saved_search_matches")
    op.drop_table("saved_search_matches")
    op.drop_index("ix_saved_searches_due", table_name="saved_searches")
    op.drop_index("ix_saved_searches_owner", table_name="saved_searches")
    op.drop_table("saved_searches")
