"""input limits: users.balance_amount as wide as transactions.amount (BIGINT)

Revision ID: 0004_input_limits
Revises: 0003
Create Date: 2026-11-21 13:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_input_limits"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The cached balance is the sum of BIGINT ledger amounts; as INTEGER it
    # overflowed on PostgreSQL past 2**31 - 1 minor units (about 21 million in a
    # currency with cents). batch_alter_table recreates the table on SQLite.
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column(
            "balance_amount",
            existing_type=sa.Integer(),
            type_=sa.BigInteger(),
            existing_nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column(
            "balance_amount",
            existing_type=sa.BigInteger(),
            type_=sa.Integer(),
            existing_nullable=False,
        )
