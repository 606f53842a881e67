"""candidate exposures: which students a gig's candidates or applicants list showed

An owner may shortlist or reject only a student the gig has shown them or who
applied to it; the table records the first time each pair was shown (epoch ms).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "candidate_exposures",
        sa.Column("gig_id", sa.Integer(), sa.ForeignKey("gigs.id"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("first_shown_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("gig_id", "user_id"),
    )
    op.create_index(
        "ix_candidate_exposures_user_id", "candidate_exposures", ["user_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_candidate_exposures_user_id", table_name="candidate_exposures")
    op.drop_table("candidate_exposures")
