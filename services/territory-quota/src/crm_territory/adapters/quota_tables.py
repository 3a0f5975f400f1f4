"""The quota half's tables (SQLAlchemy Core) on the service's shared `metadata`: quota plans and
their lines, the targets in force, the attainment ledger with its rollups, the open pipeline
with its rollups, and the accounts' assignments as the quota half last heard of them.

Amounts are BigInteger: exact integer đồng (or a count for new cards). A scope is stored as
(scope_kind, scope_id): TERRITORY + territory_id, TEAM + team_id, RM + the RM's subject id.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Date, Index, Integer, String, Table, Text

from crm_common.db import UtcDateTime
from crm_territory.adapters.orm import metadata

# One row per plan version; the versions of one plan share plan_id.
quota_plans = Table(
    "quota_plans",
    metadata,
    Column("plan_id", String(36), primary_key=True),
    Column("version", Integer, primary_key=True),
    # Unique per row: the list's keyset tie-breaker.
    Column("row_id", String(36), nullable=False, unique=True),
    # "2026", "2026-Q3" or "2026-07" (domain.quotas.Period).
    Column("period", String(7), nullable=False),
    Column("measure", String(20), nullable=False),
    Column("root_kind", String(10), nullable=False),
    Column("root_id", String(200), nullable=False),
    Column("status", String(12), nullable=False),
    Column("move_policy", String(10), nullable=False),
    Column("growth_bp", Integer, nullable=False),
    Column("maker", String(200), nullable=False),
    Column("checker", String(200), nullable=False),
    Column("submit_time", UtcDateTime, nullable=True),
    Column("decide_time", UtcDateTime, nullable=True),
    Column("reject_reason", Text, nullable=False),
    Column("differences_accepted", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("updated_by", String(200), nullable=False),
    Index("ix_quota_plans_period_measure_root", "period", "measure", "root_kind", "root_id"),
    Index("ix_quota_plans_created_at_row_id", "created_at", "row_id"),
)

quota_lines = Table(
    "quota_lines",
    metadata,
    Column("plan_id", String(36), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("scope_kind", String(10), primary_key=True),
    Column("scope_id", String(200), primary_key=True),
    # Empty for the plan's root.
    Column("parent_kind", String(10), nullable=False),
    Column("parent_id", String(200), nullable=False),
    # Order of the tree as seeded (parents before children).
    Column("position", Integer, nullable=False),
    Column("last_year_actual", BigInteger, nullable=False),
    Column("seeded", BigInteger, nullable=False),
    Column("allocated", BigInteger, nullable=False),
    Column("target", BigInteger, nullable=False),
    Column("adjustment_note", Text, nullable=False),
)

# Quota moved between two lines of a plan version because accounts moved mid-period.
quota_transfers = Table(
    "quota_transfers",
    metadata,
    Column("transfer_id", String(36), primary_key=True),
    Column("plan_id", String(36), nullable=False),
    Column("version", Integer, nullable=False),
    Column("from_kind", String(10), nullable=False),
    Column("from_id", String(200), nullable=False),
    Column("to_kind", String(10), nullable=False),
    Column("to_id", String(200), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("effective_date", Date, nullable=False),
    Column("accounts", BigInteger, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_quota_transfers_plan_id_version", "plan_id", "version"),
)

# The targets in force: each approved version's lines, kept with every approval and transfer,
# so an attainment read is one primary-key lookup.
quota_targets = Table(
    "quota_targets",
    metadata,
    Column("period", String(7), primary_key=True),
    Column("measure", String(20), primary_key=True),
    Column("scope_kind", String(10), primary_key=True),
    Column("scope_id", String(200), primary_key=True),
    Column("target", BigInteger, nullable=False),
    Column("plan_id", String(36), nullable=False),
    Column("plan_version", Integer, nullable=False),
    # The territory the line sits under in its plan (itself for a territory): leaderboards.
    Column("territory_id", String(200), nullable=False),
    Index("ix_quota_targets_period_measure_kind_territory", "period", "measure", "scope_kind", "territory_id"),
)

# The attainment ledger: one row per source event that changed attainment (credits and their
# reversals), so every figure can be traced to the event that made it.
attainment_ledger = Table(
    "attainment_ledger",
    metadata,
    Column("source_event_id", String(100), primary_key=True),
    Column("source", String(24), nullable=False),
    # "opportunity" or "holding", and its id.
    Column("object_kind", String(12), nullable=False),
    Column("object_id", String(100), nullable=False),
    Column("account_id", String(100), nullable=False),
    Column("measure", String(20), nullable=False),
    # Signed: reversals are negative.
    Column("amount", BigInteger, nullable=False),
    Column("month", String(7), nullable=False),
    # "KIND:id" joined by "|": the scopes credited (the RM, the team, the territory and its ancestors).
    Column("scopes", Text, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Index("ix_attainment_ledger_object", "object_kind", "object_id"),
    Index("ix_attainment_ledger_account_id_month", "account_id", "month"),
)

# The credit still in effect per opportunity or holding (at most one): a reversal subtracts it.
attainment_open_credits = Table(
    "attainment_open_credits",
    metadata,
    Column("object_kind", String(12), primary_key=True),
    Column("object_id", String(100), primary_key=True),
    Column("source_event_id", String(100), nullable=False),
)

# Actuals per (scope, measure, month), kept in the transaction of every ledger row.
attainment_rollup = Table(
    "attainment_rollup",
    metadata,
    Column("scope_kind", String(10), primary_key=True),
    Column("scope_id", String(200), primary_key=True),
    Column("measure", String(20), primary_key=True),
    Column("month", String(7), primary_key=True),
    Column("actual", BigInteger, nullable=False),
    # The territory the scope was last credited under (itself for a territory): leaderboards.
    Column("territory_id", String(200), nullable=False),
    Index("ix_attainment_rollup_kind_measure_month_territory", "scope_kind", "measure", "month", "territory_id"),
)

# Each open opportunity's weighted amount as last heard (OpportunityCreated/Updated/
# StageChanged; Won, Lost and Reopened close or reopen it).
pipeline_opportunities = Table(
    "pipeline_opportunities",
    metadata,
    Column("opportunity_id", String(100), primary_key=True),
    Column("measure", String(20), nullable=False),
    # The expected close month; empty: not counted in any period.
    Column("month", String(7), nullable=False),
    # Money: amount × probability ÷ 100, rounded down; cards: the probability in percent.
    Column("weighted", BigInteger, nullable=False),
    Column("is_open", Boolean, nullable=False),
    Column("scopes", Text, nullable=False),
    # The occur_time of the event last applied: older events arriving late are ignored.
    Column("event_time", UtcDateTime, nullable=False),
)

pipeline_rollup = Table(
    "pipeline_rollup",
    metadata,
    Column("scope_kind", String(10), primary_key=True),
    Column("scope_id", String(200), primary_key=True),
    Column("measure", String(20), primary_key=True),
    Column("month", String(7), primary_key=True),
    Column("weighted", BigInteger, nullable=False),
)

# Each account's territory and RM as the latest AccountTerritoryAssigned said, with the one
# before it while a move is recent (KEEP plans count deals after a move for the previous scopes).
quota_accounts = Table(
    "quota_accounts",
    metadata,
    Column("account_id", String(100), primary_key=True),
    Column("territory_id", String(200), nullable=False),
    Column("owner_id", String(200), nullable=False),
    Column("team_id", String(200), nullable=False),
    Column("effective_date", Date, nullable=False),
    Column("previous_territory_id", String(200), nullable=False),
    Column("previous_owner_id", String(200), nullable=False),
    Column("previous_team_id", String(200), nullable=False),
    Column("event_time", UtcDateTime, nullable=False),
    Index("ix_quota_accounts_owner_id", "owner_id"),
    Index("ix_quota_accounts_territory_id", "territory_id"),
)
