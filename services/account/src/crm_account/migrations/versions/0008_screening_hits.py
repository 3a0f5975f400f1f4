"""watchlist screening hits held for compliance review

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
        "screening_hits",
        sa.Column("hit_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("entry_id", sa.String(length=100), nullable=False),
        sa.Column("list_kind", sa.String(length=12), nullable=False),
        sa.Column("list_source", sa.String(length=100), nullable=False),
        sa.Column("matched_name", sa.String(length=300), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("list_version", sa.String(length=64), nullable=False),
        sa.Column("review", sa.String(length=20), nullable=False),
        sa.Column("review_note", sa.String(length=500), nullable=False),
        sa.Column("reviewed_by", sa.String(length=200), nullable=False),
        sa.Column("screened_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.account_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("hit_id"),
    )
    op.create_index("uq_screening_hits_account_id_entry_id", "screening_hits", ["account_id", "entry_id"], unique=True)
    op.create_index("ix_screening_hits_review_screened_at", "screening_hits", ["review", "screened_at", "hit_id"])


def downgrade() -> None:
    op.drop_table("screening_hits")
