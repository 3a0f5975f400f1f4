"""Initial schema: person accounts.

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
branch_labels: str | Sequence[str] | None = ("account",)
depends_on: str | Sequence[str] | None = "platform_0001"


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("account_type", sa.String(length=20), nullable=False),
        sa.Column("lifecycle_stage", sa.String(length=20), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("national_id", sa.String(length=12), nullable=False),
        sa.Column("phone_e164", sa.String(length=20), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("owner_id", sa.String(length=100), nullable=False),
        sa.Column("source_lead_id", sa.String(length=100), nullable=False),
        sa.Column("acquisition_lead_id", sa.String(length=100), nullable=False),
        sa.Column("acquisition_channel", sa.String(length=30), nullable=False),
        sa.Column("acquisition_campaign_id", sa.String(length=100), nullable=False),
        sa.Column("acquisition_utm_source", sa.String(length=200), nullable=False),
        sa.Column("acquisition_utm_medium", sa.String(length=200), nullable=False),
        sa.Column("acquisition_utm_campaign", sa.String(length=200), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_accounts")),
    )
    op.create_index("ix_accounts_created_at_account_id", "accounts", ["created_at", "account_id"])
    op.create_index("ix_accounts_owner_id", "accounts", ["owner_id"])
    for column in ("national_id", "phone_e164", "email"):
        known = sa.text(f"{column} != ''")
        op.create_index(f"uq_accounts_{column}", "accounts", [column], unique=True, postgresql_where=known, sqlite_where=known)


def downgrade() -> None:
    op.drop_table("accounts")
