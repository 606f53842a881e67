"""auth epoch: a counter that moves whenever an API key's authentication may change

Triggers add 1 to ``auth_epoch.epoch`` in the transaction that updates or deletes
an ``api_keys`` row, deletes a ``users`` row, or updates a user's ``id``,
``clerk_id``, ``roles``, ``status`` or ``deleted_at`` (PostgreSQL: also a
``TRUNCATE`` of either table); a server that remembers how a key authenticated
compares the epoch it read then with the current one (models/api_key.py,
``AuthEpoch``).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 02:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BUMP = "UPDATE auth_epoch SET epoch = epoch + 1 WHERE id = 1"
_USER_COLUMNS = "id, clerk_id, roles, status, deleted_at"  # models.AUTH_USER_COLUMNS

# SQLite has row triggers only: one per table and event.
_SQLITE_TRIGGERS = {
    "auth_epoch_users_update": f"AFTER UPDATE OF {_USER_COLUMNS} ON users",
    "auth_epoch_users_delete": "AFTER DELETE ON users",
    "auth_epoch_api_keys_update": "AFTER UPDATE ON api_keys",
    "auth_epoch_api_keys_delete": "AFTER DELETE ON api_keys",
}


def upgrade() -> None:
    op.create_table(
        "auth_epoch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute("INSERT INTO auth_epoch (id, epoch) VALUES (1, 0)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION bump_auth_epoch() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {_BUMP}; RETURN NULL; END $$"
        )
        # Row triggers (as SQLite's): an UPDATE that matches no row moves nothing.
        op.execute(
            "CREATE TRIGGER auth_epoch_users AFTER DELETE OR UPDATE OF "
            f"{_USER_COLUMNS} ON users FOR EACH ROW EXECUTE FUNCTION bump_auth_epoch()"
        )
        op.execute(
            "CREATE TRIGGER auth_epoch_api_keys AFTER UPDATE OR DELETE ON api_keys "
            "FOR EACH ROW EXECUTE FUNCTION bump_auth_epoch()"
        )
        for table in ("users", "api_keys"):  # TRUNCATE fires no row trigger
            op.execute(
                f"CREATE TRIGGER auth_epoch_{table}_truncate AFTER TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION bump_auth_epoch()"
            )
    else:
        for name, when in _SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {when} BEGIN {_BUMP}; END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in ("users", "api_keys"):
            op.execute(f"DROP TRIGGER auth_epoch_{table} ON {table}")
            op.execute(f"DROP TRIGGER auth_epoch_{table}_truncate ON {table}")
        op.execute("DROP FUNCTION bump_auth_epoch()")
    else:
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    op.drop_table("auth_epoch")
