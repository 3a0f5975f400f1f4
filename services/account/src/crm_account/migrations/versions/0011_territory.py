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
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("territory_id", sa.String(length=100), nullable=False, server_default=""))
        batch.create_index("ix_accounts_territory_id", ["territory_id"])


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_index("ix_accounts_territory_id")
        batch.drop_column("territory_id")
