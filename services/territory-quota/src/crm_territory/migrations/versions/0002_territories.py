"""Territories: model versions with their territories and rules, teams and members, the
subjects the rules read, and the append-only account assignment history.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 16:56:52.334207

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_assignments",
        sa.Column("assignment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("territory_id", sa.String(length=100), nullable=False),
        sa.Column("owner_id", sa.String(length=200), nullable=False),
        sa.Column("team_id", sa.String(length=64), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("override", sa.Boolean(), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("assigned_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("assignment_id", name=op.f("pk_account_assignments")),
    )
    with op.batch_alter_table("account_assignments", schema=None) as batch_op:
        batch_op.create_index("ix_account_assignments_account_id_effective_at", ["account_id", "effective_at"], unique=False)
        batch_op.create_index(
            "ix_account_assignments_owner_in_force",
            ["owner_id"],
            unique=False,
            postgresql_where=sa.text("ended_at IS NULL"),
            sqlite_where=sa.text("ended_at IS NULL"),
        )
        batch_op.create_index(
            "uq_account_assignments_in_force",
            ["account_id"],
            unique=True,
            postgresql_where=sa.text("ended_at IS NULL"),
            sqlite_where=sa.text("ended_at IS NULL"),
        )

    op.create_table(
        "account_subjects",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("branch_id", sa.String(length=64), nullable=False),
        sa.Column("products", sa.JSON(), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("segment", sa.String(length=16), nullable=False),
        sa.Column("aum", sa.BigInteger(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_account_subjects")),
    )
    op.create_table(
        "assignment_rules",
        sa.Column("model_version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("territory_id", sa.String(length=100), nullable=False),
        sa.Column("strategy", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.String(length=200), nullable=False),
        sa.Column("team_id", sa.String(length=64), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("model_version", "rule_id", name=op.f("pk_assignment_rules")),
    )
    op.create_table(
        "lead_subjects",
        sa.Column("lead_id", sa.String(length=64), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("products", sa.JSON(), nullable=False),
        sa.Column("lead_score", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("territory_id", sa.String(length=100), nullable=False),
        sa.Column("owner_id", sa.String(length=200), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("routed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("lead_id", name=op.f("pk_lead_subjects")),
    )
    op.create_table(
        "members",
        sa.Column("team_id", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.String(length=200), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("territory_id", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("left_on", sa.Date(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "subject_id", name=op.f("pk_members")),
    )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.create_index("ix_members_subject_id", ["subject_id"], unique=False)

    op.create_table(
        "model_versions",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=False),
        sa.Column("territory_count", sa.Integer(), nullable=False),
        sa.Column("rule_count", sa.Integer(), nullable=False),
        sa.Column("shadowed_rule_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("applied_by", sa.String(length=200), nullable=False),
        sa.Column("realignment", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_model_versions")),
    )
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.create_index("ix_model_versions_status", ["status"], unique=False)

    op.create_table(
        "open_opportunities",
        sa.Column("opportunity_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("opportunity_id", name=op.f("pk_open_opportunities")),
    )
    with op.batch_alter_table("open_opportunities", schema=None) as batch_op:
        batch_op.create_index("ix_open_opportunities_account_id", ["account_id"], unique=False)

    op.create_table(
        "realignment_moves",
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("territory_id", sa.String(length=100), nullable=False),
        sa.Column("owner_id", sa.String(length=200), nullable=False),
        sa.Column("team_id", sa.String(length=64), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "account_id", name=op.f("pk_realignment_moves")),
    )
    op.create_table(
        "round_robin_cursors",
        sa.Column("team_id", sa.String(length=64), nullable=False),
        sa.Column("last_subject_id", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("team_id", name=op.f("pk_round_robin_cursors")),
    )
    op.create_table(
        "teams",
        sa.Column("team_id", sa.String(length=64), nullable=False),
        sa.Column("territory_id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("team_id", name=op.f("pk_teams")),
    )
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.create_index("ix_teams_territory_id", ["territory_id"], unique=False)

    op.create_table(
        "territories",
        sa.Column("model_version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("territory_id", sa.String(length=100), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("parent_id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("branch_id", sa.String(length=64), nullable=False),
        sa.Column("product_line", sa.String(length=32), nullable=False),
        sa.Column("wealth_tier", sa.String(length=16), nullable=False),
        sa.Column("segment", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("model_version", "territory_id", name=op.f("pk_territories")),
    )


def downgrade() -> None:
    op.drop_table("territories")
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.drop_index("ix_teams_territory_id")

    op.drop_table("teams")
    op.drop_table("round_robin_cursors")
    op.drop_table("realignment_moves")
    with op.batch_alter_table("open_opportunities", schema=None) as batch_op:
        batch_op.drop_index("ix_open_opportunities_account_id")

    op.drop_table("open_opportunities")
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_model_versions_status")

    op.drop_table("model_versions")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index("ix_members_subject_id")

    op.drop_table("members")
    op.drop_table("lead_subjects")
    op.drop_table("assignment_rules")
    op.drop_table("account_subjects")
    with op.batch_alter_table("account_assignments", schema=None) as batch_op:
        batch_op.drop_index("uq_account_assignments_in_force", postgresql_where=sa.text("ended_at IS NULL"), sqlite_where=sa.text("ended_at IS NULL"))
        batch_op.drop_index(
            "ix_account_assignments_owner_in_force", postgresql_where=sa.text("ended_at IS NULL"), sqlite_where=sa.text("ended_at IS NULL")
        )
        batch_op.drop_index("ix_account_assignments_account_id_effective_at")

    op.drop_table("account_assignments")
