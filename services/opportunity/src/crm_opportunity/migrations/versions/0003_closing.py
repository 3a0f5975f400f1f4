"""closing opportunities: when, why lost, to whom

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("opportunities", sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("opportunities", sa.Column("lost_reason", sa.String(length=30), nullable=False, server_default=""))
    op.add_column("opportunities", sa.Column("competitor", sa.String(length=200), nullable=False, server_default=""))


def downgrade() -> None:
    for column in ("competitor", "lost_reason", "closed_at"):
        op.drop_column("opportunities", column)
