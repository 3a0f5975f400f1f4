"""The account service's tables (SQLAlchemy Core), beside the platform's outbox/inbox/idempotency."""

from __future__ import annotations

from sqlalchemy import Column, Index, String, Table

from crm_common.db import UtcDateTime, new_metadata

metadata = new_metadata()

# Contact keys are stored normalised ('' when unknown) in plain columns for now.
accounts = Table(
    "accounts",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("account_type", String(20), nullable=False),
    Column("lifecycle_stage", String(20), nullable=False),
    Column("full_name", String(200), nullable=False),
    Column("national_id", String(12), nullable=False),
    Column("phone_e164", String(20), nullable=False),
    Column("email", String(320), nullable=False),
    Column("owner_id", String(100), nullable=False),
    Column("source_lead_id", String(100), nullable=False),
    # First-touch attribution; acquired_at is NULL until a converted lead sets it.
    Column("acquisition_lead_id", String(100), nullable=False),
    Column("acquisition_channel", String(30), nullable=False),
    Column("acquisition_campaign_id", String(100), nullable=False),
    Column("acquisition_utm_source", String(200), nullable=False),
    Column("acquisition_utm_medium", String(200), nullable=False),
    Column("acquisition_utm_campaign", String(200), nullable=False),
    Column("acquired_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("updated_by", String(200), nullable=False),
    Index("ix_accounts_created_at_account_id", "created_at", "account_id"),
    Index("ix_accounts_owner_id", "owner_id"),
)

# One account per national id, phone and email: the database settles concurrent resolves of
# the same person (the loser re-runs the match and finds the winner's account).
for _column in ("national_id", "phone_e164", "email"):
    _known = accounts.c[_column] != ""
    Index(f"uq_accounts_{_column}", accounts.c[_column], unique=True, postgresql_where=_known, sqlite_where=_known)
