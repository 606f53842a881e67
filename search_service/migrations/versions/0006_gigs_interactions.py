"""gigs and interactions; outbox events name their entity

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ms(name: str, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.BigInteger(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "gigs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("required_skills", sa.JSON(), nullable=False),
        sa.Column("nice_skills", sa.JSON(), nullable=False),
        sa.Column("location", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("remote", sa.Boolean(), nullable=False),
        sa.Column("availability", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("pay_amount", sa.BigInteger(), nullable=True),
        sa.Column("pay_currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True),
        sa.Column("pay_unit", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        _ms("deadline"),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _ms("embedding_updated_at"),
        _ms("visible_updated_at"),
        _ms("privacy_floor"),
        sa.Column("index_doc_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("index_lease_owner", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        _ms("index_lease_expires_at"),
        sa.Column("index_attempts", sa.Integer(), server_default="0", nullable=False),
        _ms("index_retry_at"),
        _ms("created_at", nullable=False),
        _ms("updated_at", nullable=False),
        _ms("deleted_at"),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("external_id"),
    )
    op.create_index(
        "ix_gigs_freshness", "gigs", ["embedding_updated_at", "visible_updated_at"], unique=False
    )
    op.create_index("ix_gigs_owner", "gigs", ["owner_id", "deleted_at"], unique=False)
    op.create_table(
        "interactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("gig_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("decision", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        _ms("decided_at"),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        _ms("acted_at"),
        _ms("created_at", nullable=False),
        _ms("updated_at", nullable=False),
        sa.ForeignKeyConstraint(["gig_id"], ["gigs.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("gig_id", "user_id", name="uq_interactions_pair"),
    )
    op.create_index("ix_interactions_user", "interactions", ["user_id"], unique=False)
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("entity", sa.String(length=32), server_default="profiles", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("entity")
    op.drop_index("ix_interactions_user", table_name="interactions")
    op.drop_table("interactions")
    op.drop_index("ix_gigs_owner", table_name="gigs")
    op.drop_index("ix_gigs_freshness", table_name="gigs")
    op.drop_table("gigs")
