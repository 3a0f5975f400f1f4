"""The territory half's tables (SQLAlchemy Core) on the service's shared `metadata`: model
versions with their territories and rules, teams and members, the accounts' and leads'
attributes the rules read, and the accounts' append-only, effective-dated assignment history."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, Date, Index, Integer, String, Table, text

from crm_common.db import UtcDateTime
from crm_territory.adapters.orm import metadata

# Territory ids are dotted paths of codes; other services store them in 100 characters.
TERRITORY_ID = 100
SUBJECT = 200

model_versions = Table(
    "model_versions",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("effective_date", Date, nullable=False),
    # PLANNED, APPLIED, SUPERSEDED, CANCELLED
    Column("status", String(16), nullable=False),
    Column("note", String(1000), nullable=False),
    Column("territory_count", Integer, nullable=False),
    Column("rule_count", Integer, nullable=False),
    Column("shadowed_rule_ids", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(SUBJECT), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("updated_by", String(SUBJECT), nullable=False),
    Column("applied_at", UtcDateTime, nullable=True),
    Column("applied_by", String(SUBJECT), nullable=False),
    # The realignment the apply did (RealignmentSummary as JSON), for the history.
    Column("realignment", JSON, nullable=True),
)
Index("ix_model_versions_status", model_versions.c.status)

territories = Table(
    "territories",
    metadata,
    Column("model_version", Integer, primary_key=True, autoincrement=False),
    Column("territory_id", String(TERRITORY_ID), primary_key=True),
    Column("code", String(32), nullable=False),
    Column("parent_id", String(TERRITORY_ID), nullable=False),
    Column("name", String(200), nullable=False),
    Column("level", String(16), nullable=False),
    # Own or inherited; "" for none.
    Column("province_code", String(2), nullable=False),
    Column("branch_id", String(64), nullable=False),
    Column("product_line", String(32), nullable=False),
    Column("wealth_tier", String(16), nullable=False),
    Column("segment", String(16), nullable=False),
)

assignment_rules = Table(
    "assignment_rules",
    metadata,
    Column("model_version", Integer, primary_key=True, autoincrement=False),
    Column("rule_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("territory_id", String(TERRITORY_ID), nullable=False),
    Column("strategy", String(16), nullable=False),
    Column("owner_id", String(SUBJECT), nullable=False),
    Column("team_id", String(64), nullable=False),
    # Sets as sorted lists, bounds as integers or null (domain.rules.Conditions).
    Column("conditions", JSON, nullable=False),
)

teams = Table(
    "teams",
    metadata,
    Column("team_id", String(64), primary_key=True),
    Column("territory_id", String(TERRITORY_ID), nullable=False),
    Column("name", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
Index("ix_teams_territory_id", teams.c.territory_id)

members = Table(
    "members",
    metadata,
    # The team whose PutTeam listed the member (managers too, though they carry no team).
    Column("team_id", String(64), primary_key=True),
    Column("subject_id", String(SUBJECT), primary_key=True),
    Column("display_name", String(200), nullable=False),
    Column("territory_id", String(TERRITORY_ID), nullable=False),
    Column("role", String(16), nullable=False),
    Column("languages", JSON, nullable=False),
    Column("skills", JSON, nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("active", Boolean, nullable=False),
    # Set by ApplyRmDeparture.
    Column("left_on", Date, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
)
Index("ix_members_subject_id", members.c.subject_id)

# Round robin: the subject id of the last member chosen per team.
round_robin_cursors = Table(
    "round_robin_cursors",
    metadata,
    Column("team_id", String(64), primary_key=True),
    Column("last_subject_id", String(SUBJECT), nullable=False),
)

# What the rules read of an account, kept from its change events (and AssignAccount calls).
account_subjects = Table(
    "account_subjects",
    metadata,
    Column("account_id", String(64), primary_key=True),
    Column("province_code", String(2), nullable=False),
    Column("branch_id", String(64), nullable=False),
    Column("products", JSON, nullable=False),
    Column("tier", String(16), nullable=False),
    Column("segment", String(16), nullable=False),
    Column("aum", BigInteger, nullable=True),
    Column("language", String(8), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Open opportunities per account (from the opportunity events), for realignment counts.
open_opportunities = Table(
    "open_opportunities",
    metadata,
    Column("opportunity_id", String(64), primary_key=True),
    Column("account_id", String(64), nullable=False),
)
Index("ix_open_opportunities_account_id", open_opportunities.c.account_id)

# Append-only: a change ends the entry in force (ended_at) and adds a new one.
account_assignments = Table(
    "account_assignments",
    metadata,
    Column("assignment_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("account_id", String(64), nullable=False),
    Column("territory_id", String(TERRITORY_ID), nullable=False),
    Column("owner_id", String(SUBJECT), nullable=False),
    Column("team_id", String(64), nullable=False),
    Column("rule_id", String(64), nullable=False),
    Column("model_version", Integer, nullable=False),
    # RULE, REALIGNMENT, RM_DEPARTURE, MANUAL_OVERRIDE
    Column("source", String(16), nullable=False),
    Column("override", Boolean, nullable=False),
    Column("effective_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime, nullable=True),
    Column("reason", String(2000), nullable=False),
    Column("assigned_by", String(SUBJECT), nullable=False),
)
_IN_FORCE = text("ended_at IS NULL")
Index("ix_account_assignments_account_id_effective_at", account_assignments.c.account_id, account_assignments.c.effective_at)
# At most one assignment in force per account; the open book per owner.
Index("uq_account_assignments_in_force", account_assignments.c.account_id, unique=True, postgresql_where=_IN_FORCE, sqlite_where=_IN_FORCE)
Index("ix_account_assignments_owner_in_force", account_assignments.c.owner_id, postgresql_where=_IN_FORCE, sqlite_where=_IN_FORCE)

# A bulk apply's moves, copied in (COPY) and applied with set-based statements, then deleted.
realignment_moves = Table(
    "realignment_moves",
    metadata,
    Column("run_id", String(36), primary_key=True),
    Column("account_id", String(64), primary_key=True),
    Column("territory_id", String(TERRITORY_ID), nullable=False),
    Column("owner_id", String(SUBJECT), nullable=False),
    Column("team_id", String(64), nullable=False),
    Column("rule_id", String(64), nullable=False),
)

# What the rules read of a lead (LeadCaptured, LeadScored), for routing on LeadQualified, and
# the last routing decision.
lead_subjects = Table(
    "lead_subjects",
    metadata,
    Column("lead_id", String(64), primary_key=True),
    Column("province_code", String(2), nullable=False),
    Column("products", JSON, nullable=False),
    Column("lead_score", Integer, nullable=True),
    Column("language", String(8), nullable=False),
    Column("territory_id", String(TERRITORY_ID), nullable=False),
    Column("owner_id", String(SUBJECT), nullable=False),
    Column("rule_id", String(64), nullable=False),
    Column("routed_at", UtcDateTime, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
)
