"""The lead service's tables (SQLAlchemy Core), beside the platform's outbox/inbox/idempotency."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, Index, Integer, String, Table, Text, and_, literal_column

from crm_common.db import BigIntId, UtcDateTime, new_metadata
from crm_lead.domain.model import OPEN_STATUSES

metadata = new_metadata()

_open = ", ".join(f"'{s}'" for s in sorted(OPEN_STATUSES))

leads = Table(
    "leads",
    metadata,
    Column("lead_id", String(36), primary_key=True),
    Column("status", String(20), nullable=False),
    Column("full_name", String(200), nullable=False),
    # Lower case without diacritics, for name search.
    Column("name_folded", String(200), nullable=False),
    Column("phone_e164", String(20), nullable=False),
    Column("phone_is_mobile", Boolean, nullable=False),
    Column("email", String(320), nullable=False),
    Column("national_id", String(12), nullable=False),
    Column("province_code", String(2), nullable=False),
    Column("product_interest", String(30), nullable=False),
    Column("channel", String(30), nullable=False),
    Column("campaign_id", String(100), nullable=False),
    Column("utm_source", String(200), nullable=False),
    Column("utm_medium", String(200), nullable=False),
    Column("utm_campaign", String(200), nullable=False),
    Column("utm_term", String(200), nullable=False),
    Column("utm_content", String(200), nullable=False),
    Column("cookie_id", String(100), nullable=False),
    Column("data_origin", String(20), nullable=False),
    Column("partner_id", String(100), nullable=False),
    Column("landing_page_url", Text, nullable=False),
    Column("referrer_url", Text, nullable=False),
    Column("requested_amount_minor", BigInteger, nullable=True),
    Column("currency", String(3), nullable=False),
    Column("marketing_consent", Boolean, nullable=False),
    Column("note", Text, nullable=False),
    Column("score", Integer, nullable=False),
    Column("score_reasons", JSON, nullable=False),
    Column("owner_id", String(100), nullable=False),
    Column("team_id", String(100), nullable=False),
    Column("assigned_at", UtcDateTime, nullable=True),
    Column("first_contact_due_at", UtcDateTime, nullable=True),
    Column("first_contact_at", UtcDateTime, nullable=True),
    Column("disqualification_reason", String(30), nullable=False),
    Column("status_note", Text, nullable=False),
    Column("account_id", String(36), nullable=False),
    Column("opportunity_id", String(36), nullable=False),
    Column("matched_existing_account", Boolean, nullable=False),
    Column("converted_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("updated_by", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Index("ix_leads_created_at_lead_id", "created_at", "lead_id"),
    Index("ix_leads_status_created_at", "status", "created_at"),
    Index("ix_leads_owner_id_status", "owner_id", "status"),
    Index("ix_leads_campaign_id", "campaign_id"),
    # Name search matches the start of any word (LIKE 'x%' OR LIKE '% x%'); on PostgreSQL a
    # trigram index serves both (pg_trgm, migration 0003). A btree could serve neither.
    Index(
        "ix_leads_name_folded_trgm",
        "name_folded",
        postgresql_using="gin",
        postgresql_ops={"name_folded": "gin_trgm_ops"},
    ),
    Index("ix_leads_phone_e164", "phone_e164"),
    Index("ix_leads_email", "email"),
)

# At most one open lead per phone and per email: the database settles concurrent captures.
for column in ("phone_e164", "email"):
    condition = and_(leads.c[column] != "", literal_column(f"status IN ({_open})"))
    Index(
        f"uq_leads_open_{column}",
        leads.c[column],
        unique=True,
        postgresql_where=condition,
        sqlite_where=condition,
    )

lead_behaviours = Table(
    "lead_behaviours",
    metadata,
    Column("id", BigIntId, primary_key=True, autoincrement=True),
    Column("lead_id", String(36), nullable=False, index=True),
    Column("behaviour", String(30), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("detail", Text, nullable=False),
)

contact_attempts = Table(
    "contact_attempts",
    metadata,
    Column("attempt_id", String(36), primary_key=True),
    Column("lead_id", String(36), nullable=False, index=True),
    Column("channel", String(20), nullable=False),
    Column("outcome", String(30), nullable=False),
    Column("note", Text, nullable=False),
    Column("agent_id", String(200), nullable=False),
    Column("contacted_at", UtcDateTime, nullable=False),
)

teams = Table(
    "teams",
    metadata,
    Column("team_id", String(100), primary_key=True),
    Column("members", JSON, nullable=False),
    # Ever-increasing count of round-robin assignments; the next member is turn % len(members).
    Column("turn", BigInteger, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# One row per conversion in progress or done: the saga that survives crashes and retries.
conversions = Table(
    "conversions",
    metadata,
    Column("lead_id", String(36), primary_key=True),
    Column("state", String(20), nullable=False),
    Column("request_id", String(100), nullable=False),
    Column("request_fingerprint", String(64), nullable=False),
    Column("product", String(30), nullable=False),
    Column("amount_minor", BigInteger, nullable=True),
    Column("currency", String(3), nullable=False),
    Column("expected_close_at", UtcDateTime, nullable=True),
    Column("owner_id", String(200), nullable=False),
    Column("account_id", String(36), nullable=False),
    Column("matched_existing_account", Boolean, nullable=False),
    Column("opportunity_id", String(36), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_conversions_state_updated_at", "state", "updated_at"),
)

imports = Table(
    "imports",
    metadata,
    Column("import_id", String(36), primary_key=True),
    Column("results", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

# Closed loop: what became of the opportunities that leads turned into.
lead_opportunities = Table(
    "lead_opportunities",
    metadata,
    Column("opportunity_id", String(36), primary_key=True),
    Column("lead_id", String(36), nullable=False, index=True),
    Column("status", String(20), nullable=False),
    Column("amount_minor", BigInteger, nullable=True),
    Column("currency", String(3), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
