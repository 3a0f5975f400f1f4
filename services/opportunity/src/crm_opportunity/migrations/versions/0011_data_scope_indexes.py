"""data scopes: indexes that keep lists filtered by team and territory fast

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_opportunities_team_id_created_at", "opportunities", ["team_id", "created_at"])
    # A territory reaches its subtree with LIKE 'VN.NORTH.%': a pattern-ops index on PostgreSQL.
    op.create_index(
        "ix_opportunities_territory_id", "opportunities", ["territory_id"], postgresql_ops={"territory_id": "varchar_pattern_ops"}
    )


def downgrade() -> None:
    op.drop_index("ix_opportunities_territory_id", table_name="opportunities")
    op.drop_index("ix_opportunities_team_id_created_at", table_name="opportunities")
