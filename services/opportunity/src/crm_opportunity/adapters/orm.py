"""The opportunity service's tables (SQLAlchemy Core), beside the platform's outbox/inbox/idempotency."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Table, Text, and_

from crm_common.db import UtcDateTime, new_metadata
from crm_common.pii_tables import SealedColumn, SealedTable

metadata = new_metadata()

opportunities = Table(
    "opportunities",
    metadata,
    Column("opportunity_id", String(36), primary_key=True),
    Column("account_id", String(36), nullable=False),
    Column("product", String(30), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("expected_close_at", UtcDateTime, nullable=True),
    Column("owner_id", String(200), nullable=False),
    Column("team_id", String(100), nullable=False),
    Column("source_lead_id", String(100), nullable=False),
    Column("campaign_id", String(100), nullable=False),
    Column("status", String(10), nullable=False),
    Column("stage", String(50), nullable=False),
    Column("probability_percent", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("updated_by", String(200), nullable=False),
    Column("closed_at", UtcDateTime, nullable=True),
    Column("lost_reason", String(30), nullable=False),
    Column("competitor", String(200), nullable=False),
    Column("pipeline_version", Integer, nullable=False),
    # JSON list of the checklist items done.
    Column("checklist", Text, nullable=False),
    Column("stage_entered_at", UtcDateTime, nullable=True),
    Column("application_id", String(36), nullable=False),
    Column("decision_note", String(500), nullable=False),
    Column("territory_id", String(100), nullable=False),
    Column("forecast_category", String(12), nullable=False),
    Column("next_step", String(300), nullable=False),
    Column("probability_overridden", Boolean, nullable=False),
    # Every list is newest first, optionally filtered by one of these.
    Index("ix_opportunities_created_at_opportunity_id", "created_at", "opportunity_id"),
    Index("ix_opportunities_account_id_created_at", "account_id", "created_at"),
    Index("ix_opportunities_owner_id_created_at", "owner_id", "created_at"),
    # Data scopes: a team's opportunities, a territory's subtree (LIKE 'VN.NORTH.%', migration 0011).
    Index("ix_opportunities_team_id_created_at", "team_id", "created_at"),
    Index("ix_opportunities_territory_id", "territory_id", postgresql_ops={"territory_id": "varchar_pattern_ops"}),
    Index("ix_opportunities_source_lead_id", "source_lead_id"),
    Index("ix_opportunities_application_id", "application_id"),
)

# At most one open opportunity per converted lead: the database settles concurrent conversions.
_open_from_lead = and_(opportunities.c.source_lead_id != "", opportunities.c.status == "OPEN")
Index(
    "uq_opportunities_open_source_lead_id",
    opportunities.c.source_lead_id,
    unique=True,
    postgresql_where=_open_from_lead,
    sqlite_where=_open_from_lead,
)

# Every stage an opportunity was in, when it entered and left it (time in stage, conversion rates).
stage_history = Table(
    "stage_history",
    metadata,
    Column("opportunity_id", String(36), ForeignKey("opportunities.opportunity_id", ondelete="CASCADE"), primary_key=True),
    Column("entered_at", UtcDateTime, primary_key=True),
    Column("stage", String(50), primary_key=True),
    Column("left_at", UtcDateTime, nullable=True),
    Column("moved_by", String(200), nullable=False),
)

# Calls, meetings, tasks and notes; the worklist reads an owner's open ones by due time.
activities = Table(
    "activities",
    metadata,
    Column("activity_id", String(36), primary_key=True),
    Column("kind", String(10), nullable=False),
    Column("account_id", String(36), nullable=False),
    Column("opportunity_id", String(36), nullable=False),
    Column("owner_id", String(200), nullable=False),
    # What people write about a customer may name them, give a phone or a national id: the
    # free text is stored encrypted (crm_common.pii, `ACTIVITIES_PII` below, migration 0012).
    Column("subject_enc", Text, nullable=False),
    Column("notes_enc", Text, nullable=False),
    Column("due_at", UtcDateTime, nullable=True),
    Column("status", String(10), nullable=False),
    Column("outcome_enc", Text, nullable=False),
    Column("completed_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("updated_by", String(200), nullable=False),
    Index("ix_activities_owner_id_status_due_at", "owner_id", "status", "due_at"),
    Index("ix_activities_opportunity_id_created_at", "opportunity_id", "created_at"),
    Index("ix_activities_account_id_created_at", "account_id", "created_at"),
)

# Each opportunity's contribution to the forecast, summed per key (domain/forecast.py), once per
# scope it counts in (its owner, its team, its territory): kept with every change, so a
# forecast sums the few rows of one scope, not every opportunity.
forecast_rollup = Table(
    "forecast_rollup",
    metadata,
    # owner_id, team_id or territory_id
    Column("scope_kind", String(12), primary_key=True),
    Column("scope_id", String(200), primary_key=True),
    Column("product", String(30), primary_key=True),
    Column("stage", String(50), primary_key=True),
    Column("forecast_category", String(12), primary_key=True),
    Column("status", String(10), primary_key=True),
    Column("period_month", String(7), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("opportunity_count", BigInteger, nullable=False),
    Column("amount_sum", BigInteger, nullable=False),
    Column("weighted_sum", BigInteger, nullable=False),
    Index("ix_forecast_rollup_scope_period_month", "scope_kind", "scope_id", "period_month"),
)

# What the lead service told of each lead's first contact (LeadContacted): the next best
# actions of the opportunity a lead became use it ("first-contact SLA breached: contact now").
lead_first_contacts = Table(
    "lead_first_contacts",
    metadata,
    Column("lead_id", String(100), primary_key=True),
    Column("sla_breached", Boolean, nullable=False),
    Column("contacted_at", UtcDateTime, nullable=False),
)

# Each open opportunity's next best actions as last computed (with every change to it, and by
# the periodic sweep for the rules that depend on time), so an RM's book is one ordered query.
next_actions = Table(
    "next_actions",
    metadata,
    Column("opportunity_id", String(36), ForeignKey("opportunities.opportunity_id", ondelete="CASCADE"), primary_key=True),
    # The suggestion's place among its opportunity's (rule order within a priority).
    Column("position", Integer, primary_key=True),
    Column("owner_id", String(200), nullable=False),
    Column("action", String(30), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("reason", String(500), nullable=False),
    Column("rule", String(100), nullable=False),
    # The book's order after priority: bigger amounts, then sooner closes (none last).
    Column("amount_minor", BigInteger, nullable=False),
    Column("close_at", UtcDateTime, nullable=True),
    Column("computed_at", UtcDateTime, nullable=False),
    Index("ix_next_actions_owner_id_priority", "owner_id", "priority"),
)

# Every encrypted column of the service, for the repository's token contexts and for
# `crm-opportunity pii reencrypt|reindex` (free text only: no blind indexes to rebuild).
ACTIVITIES_PII = SealedTable(activities, "activity_id", [SealedColumn("subject_enc"), SealedColumn("notes_enc"), SealedColumn("outcome_enc")])
PII_TABLES = (ACTIVITIES_PII,)
