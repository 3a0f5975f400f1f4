"""The territory the territory service assigned the account to (AccountTerritoryAssigned).

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
    # Plain ALTERs, not a batch: SQLite's batch copy would drop `accounts` and cascade to its children.
    op.add_column("accounts", sa.Column("territory_id", sa.String(length=100), nullable=False, server_default=""))
    op.create_index("ix_accounts_territory_id", "accounts", ["territory_id"])


def downgrade() -> None:
    op.drop_index("ix_accounts_territory_id", table_name="accounts")
    op.drop_column("accounts", "territory_id")
