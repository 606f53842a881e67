"""index versions: the employer-visible content clock, privacy floor, document hash

Revision ID: 0005
Revises: 0004_input_limits
Create Date: 2026-11-21 13:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004_input_limits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("visible_updated_at", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("privacy_floor", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column("index_doc_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.drop_index("ix_users_freshness")
        batch_op.create_index(
            "ix_users_freshness", ["embedding_updated_at", "visible_updated_at"], unique=False
        )
    # Until now the row clock was the index clock: start the new one from it, so
    # nothing already indexed looks stale after the upgrade.
    op.execute(
        "UPDATE users SET visible_updated_at = updated_at "
        "WHERE id IN (SELECT user_id FROM profiles)"
    )
    # A change not yet indexed at upgrade time may be a privacy reduction: never
    # serve an older point of those users.
    op.execute(
        "UPDATE users SET privacy_floor = visible_updated_at "
        "WHERE visible_updated_at IS NOT NULL "
        "AND (embedding_updated_at IS NULL OR embedding_updated_at < visible_updated_at)"
    )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index("ix_users_freshness")
        batch_op.create_index(
            "ix_users_freshness", ["embedding_updated_at", "updated_at"], unique=False
        )
        batch_op.drop_column("index_doc_hash")
        batch_op.drop_column("privacy_floor")
        batch_op.drop_column("visible_updated_at")
