"""what the lead service said of leads' first contact, for next best actions

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lead_first_contacts",
        sa.Column("lead_id", sa.String(length=100), nullable=False),
        sa.Column("sla_breached", sa.Boolean(), nullable=False),
        sa.Column("contacted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("lead_id"),
    )


def downgrade() -> None:
    op.drop_table("lead_first_contacts")
