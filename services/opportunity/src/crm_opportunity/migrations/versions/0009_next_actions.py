"""next best actions kept per opportunity, for fast RM books

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Filled by the API's sweep (OPPORTUNITY_NBA_SWEEP_SECONDS) and by every change after.
    op.create_table(
        "next_actions",
        sa.Column("opportunity_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("rule", sa.String(length=100), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("close_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["opportunity_id"], ["opportunities.opportunity_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("opportunity_id", "position"),
    )
    op.create_index("ix_next_actions_owner_id_priority", "next_actions", ["owner_id", "priority"])


def downgrade() -> None:
    op.drop_table("next_actions")
