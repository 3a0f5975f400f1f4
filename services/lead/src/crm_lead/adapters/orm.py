"""The lead service's tables (SQLAlchemy Core), beside the platform's outbox/inbox/idempotency."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, Index, Integer, String, Table, Text, and_, func, literal_column

from crm_common.contact import fold
from crm_common.db import BigIntId, UtcDateTime, new_metadata
from crm_common.pii_tables import SealedColumn, SealedTable
from crm_lead.domain.model import OPEN_STATUSES

metadata = new_metadata()

_open = ", ".join(f"'{s}'" for s in sorted(OPEN_STATUSES))

leads = Table(
    "leads",
    metadata,
    Column("lead_id", String(36), primary_key=True),
    Column("status", String(20), nullable=False),
    # Personal data is stored encrypted (crm_common.pii, `LEADS_PII` below): *_enc columns hold
    # AES-GCM tokens, *_bidx their blind indexes (keyed HMACs) for duplicates and look-ups.
    Column("full_name_enc", Text, nullable=False),
    # Blind tokens of every word-prefix of the folded name, for name search.
    Column("name_tokens", Text, nullable=False),
    Column("phone_enc", Text, nullable=False),
    Column("phone_bidx", String(32), nullable=False),
    Column("phone_is_mobile", Boolean, nullable=False),
    Column("email_enc", Text, nullable=False),
    Column("email_bidx", String(32), nullable=False),
    Column("national_id_enc", Text, nullable=False),
    Column("national_id_bidx", String(32), nullable=False),
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
    Column("note_enc", Text, nullable=False),
    Column("score", Integer, nullable=False),
    Column("score_reasons", JSON, nullable=False),
    Column("owner_id", String(100), nullable=False),
    Column("team_id", String(100), nullable=False),
    # With owner and team, where the lead is worked: what its data scope is decided on.
    Column("branch_id", String(100), nullable=False, server_default=""),
    Column("territory_id", String(100), nullable=False, server_default=""),
    Column("assigned_at", UtcDateTime, nullable=True),
    Column("first_contact_due_at", UtcDateTime, nullable=True),
    Column("first_contact_at", UtcDateTime, nullable=True),
    Column("assignment_source", String(16), nullable=False),
    Column("routing_rule_id", String(64), nullable=False),
    Column("disqualification_reason", String(30), nullable=False),
    Column("status_note_enc", Text, nullable=False),
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
    Index("ix_leads_team_id_status", "team_id", "status"),
    Index("ix_leads_branch_id_status", "branch_id", "status"),
    # Territory subtrees are found with LIKE 'VN.NORTH.%' (migration 0005).
    Index("ix_leads_territory_id", "territory_id", postgresql_ops={"territory_id": "varchar_pattern_ops"}),
    Index("ix_leads_campaign_id", "campaign_id"),
    Index("ix_leads_phone_bidx", "phone_bidx"),
    Index("ix_leads_email_bidx", "email_bidx"),
    Index("ix_leads_national_id_bidx", "national_id_bidx"),
)

# Name search looks one token up among a lead's tokens: on PostgreSQL a GIN index over the
# tokens as an array (migration 0004); SQLite scans, as it did for LIKE '% x%'.
Index("ix_leads_name_tokens", func.string_to_array(leads.c.name_tokens, literal_column("' '")), postgresql_using="gin").ddl_if(dialect="postgresql")

# At most one open lead per phone and per email: the database settles concurrent captures.
for column in ("phone_bidx", "email_bidx"):
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
    Column("detail_enc", Text, nullable=False),
)

contact_attempts = Table(
    "contact_attempts",
    metadata,
    Column("attempt_id", String(36), primary_key=True),
    Column("lead_id", String(36), nullable=False, index=True),
    Column("channel", String(20), nullable=False),
    Column("outcome", String(30), nullable=False),
    Column("note_enc", Text, nullable=False),
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

# Every encrypted column of the service, for the repository's token contexts and for
# `crm-lead pii reencrypt|reindex`.
LEADS_PII = SealedTable(
    leads,
    "lead_id",
    [
        SealedColumn("full_name_enc", {"name_tokens": lambda codec, name: codec.search_tokens("name", fold(name))}),
        SealedColumn("phone_enc", {"phone_bidx": lambda codec, phone: codec.index("phone", phone)}),
        SealedColumn("email_enc", {"email_bidx": lambda codec, email: codec.index("email", email)}),
        SealedColumn("national_id_enc", {"national_id_bidx": lambda codec, national_id: codec.index("national_id", national_id)}),
        SealedColumn("note_enc"),
        SealedColumn("status_note_enc"),
    ],
)
CONTACT_ATTEMPTS_PII = SealedTable(contact_attempts, "attempt_id", [SealedColumn("note_enc")])
# Behaviours get their id on insert: their tokens are bound to the lead.
BEHAVIOURS_PII = SealedTable(lead_behaviours, "id", [SealedColumn("detail_enc")], context_column="lead_id")
PII_TABLES = (LEADS_PII, CONTACT_ATTEMPTS_PII, BEHAVIOURS_PII)
