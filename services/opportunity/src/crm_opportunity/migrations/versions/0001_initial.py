"""Initial schema: opportunities.

The platform's outbox, inbox and idempotency keys come from the platform history
(crm_common.platform_migrations), on which this revision depends.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("opportunity",)
depends_on: str | Sequence[str] | None = "platform_0001"


def upgrade() -> None:
    op.create_table(
        "opportunities",
        sa.Column("opportunity_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("product", sa.String(length=30), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("expected_close_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("owner_id", sa.String(length=200), nullable=False),
        sa.Column("team_id", sa.String(length=100), nullable=False),
        sa.Column("source_lead_id", sa.String(length=100), nullable=False),
        sa.Column("campaign_id", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("stage", sa.String(length=50), nullable=False),
        sa.Column("probability_percent", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("opportunity_id", name=op.f("pk_opportunities")),
    )
    op.create_index("ix_opportunities_created_at_opportunity_id", "opportunities", ["created_at", "opportunity_id"])
    op.create_index("ix_opportunities_account_id_created_at", "opportunities", ["account_id", "created_at"])
    op.create_index("ix_opportunities_owner_id_created_at", "opportunities", ["owner_id", "created_at"])
    op.create_index("ix_opportunities_source_lead_id", "opportunities", ["source_lead_id"])
    open_from_lead = sa.text("source_lead_id != '' AND status = 'OPEN'")
    op.create_index(
        "uq_opportunities_open_source_lead_id",
        "opportunities",
        ["source_lead_id"],
        unique=True,
        postgresql_where=open_from_lead,
        sqlite_where=open_from_lead,
    )


def downgrade() -> None:
    op.drop_table("opportunities")
