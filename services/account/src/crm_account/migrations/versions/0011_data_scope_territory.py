"""data scopes: an account's territory beside its owner and branch, with the indexes that keep
scoped lists fast

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE (SQLite 3.35+ drops columns natively): batch mode would recreate the
    # table, and its children's ON DELETE CASCADE would empty them on SQLite.
    op.add_column("accounts", sa.Column("territory_id", sa.String(100), nullable=False, server_default=""))
    op.create_index("ix_accounts_branch_id", "accounts", ["branch_id"])
    # A territory reaches its subtree with LIKE 'VN.NORTH.%': a pattern-ops index on PostgreSQL.
    op.create_index("ix_accounts_territory_id", "accounts", ["territory_id"], postgresql_ops={"territory_id": "varchar_pattern_ops"})


def downgrade() -> None:
    op.drop_index("ix_accounts_territory_id", table_name="accounts")
    op.drop_index("ix_accounts_branch_id", table_name="accounts")
    op.drop_column("accounts", "territory_id")
