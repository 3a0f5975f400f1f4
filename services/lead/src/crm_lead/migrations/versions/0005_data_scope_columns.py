"""data scopes: a lead's branch and territory beside its owner and team, with the indexes that
keep scoped lists fast

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE (SQLite 3.35+ drops columns natively): batch mode would recreate the
    # table, and its children's ON DELETE CASCADE would empty them on SQLite.
    op.add_column("leads", sa.Column("branch_id", sa.String(100), nullable=False, server_default=""))
    op.add_column("leads", sa.Column("territory_id", sa.String(100), nullable=False, server_default=""))
    op.create_index("ix_leads_team_id_status", "leads", ["team_id", "status"])
    op.create_index("ix_leads_branch_id_status", "leads", ["branch_id", "status"])
    # A territory reaches its subtree with LIKE 'VN.NORTH.%': a pattern-ops index on PostgreSQL.
    op.create_index("ix_leads_territory_id", "leads", ["territory_id"], postgresql_ops={"territory_id": "varchar_pattern_ops"})


def downgrade() -> None:
    op.drop_index("ix_leads_territory_id", table_name="leads")
    op.drop_index("ix_leads_branch_id_status", table_name="leads")
    op.drop_index("ix_leads_team_id_status", table_name="leads")
    op.drop_column("leads", "territory_id")
    op.drop_column("leads", "branch_id")
