"""The account service's tables (SQLAlchemy Core), beside the platform's outbox/inbox/idempotency.

Names, national ids, phones and emails are stored encrypted (`*_enc`, AES-GCM, crm_common.pii)
with a keyed hash beside them (`*_bidx`, a blind index) that equality lookups and matching use,
and blind word-prefix tokens for name search (`name_tokens`).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Date, Float, ForeignKey, Index, Integer, String, Table, Text, func, literal_column

from crm_common.db import UtcDateTime, new_metadata
from crm_common.pii_tables import SealedColumn, SealedTable

metadata = new_metadata()

accounts = Table(
    "accounts",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("account_type", String(20), nullable=False),
    Column("lifecycle_stage", String(20), nullable=False),
    Column("full_name_enc", Text, nullable=False),
    # Blind tokens of every word-prefix of the folded name, for name search (migration 0014).
    Column("name_tokens", Text, nullable=False),
    Column("gender", String(10), nullable=False),
    Column("date_of_birth", Date, nullable=True),
    Column("national_id_enc", Text, nullable=False),
    Column("national_id_bidx", String(32), nullable=False),
    Column("national_id_legacy", Boolean, nullable=False),
    Column("address_line", String(300), nullable=False),
    Column("ward_code", String(5), nullable=False),
    Column("district_code", String(3), nullable=False),
    Column("province_code", String(2), nullable=False),
    Column("occupation", String(100), nullable=False),
    Column("income_band", String(20), nullable=False),
    Column("preferred_language", String(8), nullable=False),
    Column("preferred_channel", String(20), nullable=False),
    # JSON list of {"days": [1..7], "start": minute, "end": minute}.
    Column("best_contact_times", Text, nullable=False),
    Column("derived_tier", String(20), nullable=False),
    Column("tier_override", String(20), nullable=False),
    Column("tier_override_reason", String(500), nullable=False),
    Column("customer_since", UtcDateTime, nullable=True),
    Column("owner_id", String(100), nullable=False),
    Column("branch_id", String(100), nullable=False),
    # With owner and branch, who reaches the account (data scopes, migration 0011); set by hand or
    # from the territory service's AccountTerritoryAssigned.
    Column("territory_id", String(100), nullable=False, server_default=""),
    Column("tax_code", String(14), nullable=False),
    Column("industry", String(100), nullable=False),
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
    Column("version", Integer, nullable=False),
    # KYC as the onboarding system last reported it.
    Column("kyc_status", String(12), nullable=False),
    Column("kyc_reason", String(500), nullable=False),
    Column("kyc_risk_rating", String(10), nullable=False),
    Column("kyc_verified_at", UtcDateTime, nullable=True),
    Column("kyc_expires_at", UtcDateTime, nullable=True),
    Column("kyc_reference", String(100), nullable=False),
    Column("kyc_source_system", String(100), nullable=False),
    Column("kyc_updated_at", UtcDateTime, nullable=True),
    # Sums over the open holdings (VND), kept with every holdings change.
    Column("total_deposits", BigInteger, nullable=False),
    Column("total_loans", BigInteger, nullable=False),
    Column("total_aum", BigInteger, nullable=False),
    Column("open_holdings", Integer, nullable=False),
    # Blind index of duplicate detection's name + date of birth blocking key ("nguyen|a|1990-01-01"; '' unknown).
    Column("name_dob_bidx", String(32), nullable=False),
    # The survivor this account was merged into ('' while it is an account of its own).
    Column("merged_into", String(36), nullable=False),
    Column("legal_hold", Boolean, nullable=False),
    Column("legal_hold_reason", String(500), nullable=False),
    Column("erased_at", UtcDateTime, nullable=True),
    Index("ix_accounts_created_at_account_id", "created_at", "account_id"),
    Index("ix_accounts_name_dob_bidx", "name_dob_bidx"),
    Index("ix_accounts_tax_code", "tax_code"),
    # The expiry sweep finds verifications whose review is due.
    Index("ix_accounts_kyc_status_expires_at", "kyc_status", "kyc_expires_at"),
    Index("ix_accounts_owner_id", "owner_id"),
    Index("ix_accounts_branch_id", "branch_id"),
    # A territory reaches its subtree with LIKE 'VN.NORTH.%' (pattern ops on PostgreSQL).
    Index("ix_accounts_territory_id", "territory_id", postgresql_ops={"territory_id": "varchar_pattern_ops"}),
    # Word-prefix search on names ("an" finds "Nguyễn Văn An") looks for one blind token: a GIN
    # index over string_to_array(name_tokens, ' ') serves it on PostgreSQL (migration 0014).
)

# Name search looks one token up among an account's tokens: on PostgreSQL a GIN index over the
# tokens as an array (migration 0014); SQLite scans.
Index("ix_accounts_name_tokens", func.string_to_array(accounts.c.name_tokens, literal_column("' '")), postgresql_using="gin").ddl_if(
    dialect="postgresql"
)

# A national id names one person: one account per national id.
_known_national_id = accounts.c.national_id_bidx != ""
Index(
    "uq_accounts_national_id_bidx",
    accounts.c.national_id_bidx,
    unique=True,
    postgresql_where=_known_national_id,
    sqlite_where=_known_national_id,
)

# Every phone and email of an account, in order (position 0 is the primary).
account_contact_points = Table(
    "account_contact_points",
    metadata,
    Column("account_id", String(36), ForeignKey("accounts.account_id", ondelete="CASCADE"), primary_key=True),
    # "phone" or "email"
    Column("kind", String(10), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("value_enc", Text, nullable=False),
    # The blind index is keyed per kind, so one column serves phones and emails.
    Column("value_bidx", String(32), nullable=False),
    Index("ix_account_contact_points_value_bidx", "value_bidx"),
)

# The first account to hold each contact key. ResolvePersonAccount creates an account only when
# no account holds any of the person's keys; two concurrent resolves of one person both see
# none, and this primary key lets only one of them commit (the other retries and matches).
account_match_keys = Table(
    "account_match_keys",
    metadata,
    Column("key_bidx", String(32), primary_key=True),
    Column("account_id", String(36), ForeignKey("accounts.account_id", ondelete="CASCADE"), nullable=False),
)

# The account's own timeline: what changed, when and by whom (field names only, no values).
account_changes = Table(
    "account_changes",
    metadata,
    Column("change_id", String(36), primary_key=True),
    Column("account_id", String(36), ForeignKey("accounts.account_id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("changed_at", UtcDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    # JSON list of field names.
    Column("changed_fields", Text, nullable=False),
    Column("reason", String(500), nullable=False),
    Index("ix_account_changes_account_id_changed_at", "account_id", "changed_at", "change_id"),
)

# The consent in force per purpose and channel ('' for purposes not given per channel).
_CONSENT_COLUMNS = (
    ("status", 12),
    ("source", 100),
    ("evidence_ref", 500),
    ("recorded_by", 200),
)
consents = Table(
    "consents",
    metadata,
    Column("account_id", String(36), ForeignKey("accounts.account_id", ondelete="CASCADE"), primary_key=True),
    Column("purpose", String(20), primary_key=True),
    Column("channel", String(20), primary_key=True),
    Column("consent_id", String(36), nullable=False),
    *(Column(name, String(length), nullable=False) for name, length in _CONSENT_COLUMNS),
    Column("decided_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=True),
    Column("recorded_at", UtcDateTime, nullable=False),
)

# Every consent decision ever recorded, in force or not (the evidence trail).
consent_history = Table(
    "consent_history",
    metadata,
    Column("consent_id", String(36), primary_key=True),
    Column("account_id", String(36), ForeignKey("accounts.account_id", ondelete="CASCADE"), nullable=False),
    Column("purpose", String(20), nullable=False),
    Column("channel", String(20), nullable=False),
    *(Column(name, String(length), nullable=False) for name, length in _CONSENT_COLUMNS),
    Column("decided_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=True),
    Column("recorded_at", UtcDateTime, nullable=False),
    Index("ix_consent_history_account_id_recorded_at", "account_id", "recorded_at", "consent_id"),
)

# Products the customer holds; core_ref is core banking's arrangement id ('' until known).
holdings = Table(
    "holdings",
    metadata,
    Column("holding_id", String(36), primary_key=True),
    Column("account_id", String(36), ForeignKey("accounts.account_id", ondelete="CASCADE"), nullable=False),
    Column("product_type", String(20), nullable=False),
    Column("core_ref", String(40), nullable=False),
    Column("status", String(10), nullable=False),
    Column("balance", BigInteger, nullable=False),
    Column("credit_limit", BigInteger, nullable=False),
    Column("opened_on", Date, nullable=True),
    Column("closed_on", Date, nullable=True),
    Column("source", String(20), nullable=False),
    Column("opportunity_id", String(100), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # Why a CLOSED holding closed: CORE_BANKING or OPPORTUNITY_REVERSED ('' when open).
    Column("close_reason", String(30), nullable=False, server_default=""),
    Index("ix_holdings_account_id", "account_id"),
)
_known_core_ref = holdings.c.core_ref != ""
Index("uq_holdings_core_ref", holdings.c.core_ref, unique=True, postgresql_where=_known_core_ref, sqlite_where=_known_core_ref)
# A won opportunity opens one holding, however often its event is delivered.
_from_opportunity = holdings.c.opportunity_id != ""
Index("uq_holdings_opportunity_id", holdings.c.opportunity_id, unique=True, postgresql_where=_from_opportunity, sqlite_where=_from_opportunity)

# Pairs of accounts that may be one customer (account_id < other_id), for the stewards' queue.
duplicate_candidates = Table(
    "duplicate_candidates",
    metadata,
    # "<account_id>:<other_id>": one key for the pair, so the queue pages by (time, pair).
    Column("pair_id", String(73), primary_key=True),
    Column("account_id", String(36), ForeignKey("accounts.account_id", ondelete="CASCADE"), nullable=False),
    Column("other_id", String(36), ForeignKey("accounts.account_id", ondelete="CASCADE"), nullable=False),
    Column("score", Integer, nullable=False),
    # JSON list of reasons (PII masked).
    Column("reasons", Text, nullable=False),
    Column("status", String(10), nullable=False),
    Column("detected_at", UtcDateTime, nullable=False),
    Column("reviewed_by", String(200), nullable=False),
    Column("review_reason", String(500), nullable=False),
    Index("ix_duplicate_candidates_status_detected_at", "status", "detected_at", "pair_id"),
    Index("ix_duplicate_candidates_account_id", "account_id"),
    Index("ix_duplicate_candidates_other_id", "other_id"),
)

# Every merge: who absorbed whom, when, by whom, and where each field's value came from; and
# what undoing it needs, until it is undone or the window closes.
account_merges = Table(
    "account_merges",
    metadata,
    Column("merge_id", String(36), primary_key=True),
    Column("survivor_id", String(36), nullable=False),
    Column("merged_id", String(36), nullable=False),
    Column("merged_at", UtcDateTime, nullable=False),
    Column("merged_by", String(200), nullable=False),
    Column("reason", String(500), nullable=False),
    # JSON object: field name -> account id.
    Column("field_sources", Text, nullable=False),
    # Both accounts' rows as stored just before the merge (JSON; PII as ciphertext, as in
    # accounts): an unmerge restores them. '' once undone, or for merges made before 0012.
    Column("survivor_snapshot", Text, nullable=False),
    Column("merged_snapshot", Text, nullable=False),
    # JSON (domain.merges.MergeMoves): ids of what moved to the survivor in this store.
    Column("moves", Text, nullable=False),
    Column("unmerged_at", UtcDateTime, nullable=True),
    Column("unmerged_by", String(200), nullable=False),
    Column("unmerge_reason", String(500), nullable=False),
    Index("ix_account_merges_survivor_id", "survivor_id"),
)
# An account is merged away at most once at a time; after an unmerge it may be merged again.
_merge_in_force = account_merges.c.unmerged_at.is_(None)
Index("uq_account_merges_merged_id", account_merges.c.merged_id, unique=True, postgresql_where=_merge_in_force, sqlite_where=_merge_in_force)

# Watchlist hits held for compliance review; one per account and listed entry.
screening_hits = Table(
    "screening_hits",
    metadata,
    Column("hit_id", String(36), primary_key=True),
    Column("account_id", String(36), ForeignKey("accounts.account_id", ondelete="CASCADE"), nullable=False),
    Column("entry_id", String(100), nullable=False),
    Column("list_kind", String(12), nullable=False),
    Column("list_source", String(100), nullable=False),
    Column("matched_name", String(300), nullable=False),
    Column("score", Float, nullable=False),
    # JSON list of reasons.
    Column("reasons", Text, nullable=False),
    Column("list_version", String(64), nullable=False),
    Column("review", String(20), nullable=False),
    Column("review_note", String(500), nullable=False),
    Column("reviewed_by", String(200), nullable=False),
    Column("screened_at", UtcDateTime, nullable=False),
    Index("uq_screening_hits_account_id_entry_id", "account_id", "entry_id", unique=True),
    Index("ix_screening_hits_review_screened_at", "review", "screened_at", "hit_id"),
)

# Each relationship in both directions, read from account_id ("A is PARENT of B").
relationships = Table(
    "relationships",
    metadata,
    Column("account_id", String(36), ForeignKey("accounts.account_id", ondelete="CASCADE"), primary_key=True),
    Column("related_id", String(36), ForeignKey("accounts.account_id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(20), primary_key=True),
    Column("note", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(200), nullable=False),
)

households = Table(
    "households",
    metadata,
    Column("household_id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("updated_by", String(200), nullable=False),
)

# A person belongs to at most one household (account_id is the key).
household_members = Table(
    "household_members",
    metadata,
    Column("account_id", String(36), ForeignKey("accounts.account_id", ondelete="CASCADE"), primary_key=True),
    Column("household_id", String(36), ForeignKey("households.household_id", ondelete="CASCADE"), nullable=False),
    Column("role", String(10), nullable=False),
    Column("joined_at", UtcDateTime, nullable=False),
    Index("ix_household_members_household_id", "household_id"),
)

# Data-subject erasure requests, tracked until every service holding copies has confirmed.
erasure_requests = Table(
    "erasure_requests",
    metadata,
    Column("erasure_id", String(36), primary_key=True),
    Column("account_id", String(36), ForeignKey("accounts.account_id", ondelete="CASCADE"), nullable=False, unique=True),
    Column("reason", String(500), nullable=False),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("requested_by", String(200), nullable=False),
    # JSON lists of service names.
    Column("pending_services", Text, nullable=False),
    Column("confirmed_services", Text, nullable=False),
    Column("completed_at", UtcDateTime, nullable=True),
)


# Every encrypted column of the service (crm_common.pii_tables), for the repository's token
# contexts and `crm-account pii reencrypt`. The first tokens predate that module: they are bound
# to "<kind>:<account id>" (national_id, phone, email), not "<table>.<column>:<row>". The
# blind indexes are rebuilt by the account's own reindex, with the match-key claims they feed.
ACCOUNTS_PII = SealedTable(accounts, "account_id", [SealedColumn("national_id_enc", context="national_id"), SealedColumn("full_name_enc")])
# One column holds phones and emails: each token is bound to its row's kind.
CONTACT_POINTS_PII = SealedTable(account_contact_points, ("account_id", "kind", "position"), [SealedColumn("value_enc", context_from="kind")])
PII_TABLES = (ACCOUNTS_PII, CONTACT_POINTS_PII)
