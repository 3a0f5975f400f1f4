"""Initial schema: person accounts, and the platform's outbox, inbox and idempotency keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


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

    op.create_table(
        "outbox",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_id")),
    )
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(length=200), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=op.f("pk_inbox")),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("method", sa.String(length=100), nullable=False),
        sa.Column("request_id", sa.String(length=100), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("result_ref", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("method", "request_id", name=op.f("pk_idempotency_keys")),
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_table("inbox")
    op.drop_table("outbox")
    op.drop_table("accounts")
