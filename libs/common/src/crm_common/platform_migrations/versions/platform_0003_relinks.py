"""relinks: what a consumer moved from one id to another on an upstream change (an account
merge), so that undoing the change (an unmerge) moves back exactly those records.

Revision ID: platform_0003
Revises: platform_0002
Create Date: 2027-01-10

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "platform_0003"
down_revision: str | Sequence[str] | None = "platform_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "relinks",
        sa.Column("change_id", sa.String(length=100), nullable=False),
        sa.Column("record_type", sa.String(length=50), nullable=False),
        sa.Column("record_id", sa.String(length=100), nullable=False),
        sa.Column("from_id", sa.String(length=100), nullable=False),
        sa.Column("to_id", sa.String(length=100), nullable=False),
        sa.Column("relinked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("change_id", "record_type", "record_id", name=op.f("pk_relinks")),
    )


def downgrade() -> None:
    op.drop_table("relinks")
