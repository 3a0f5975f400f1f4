"""The quota half's tables: quota plans, their lines and transfers, the targets in force, the
attainment ledger with its open credits and rollups, the open pipeline with its rollup, and the
accounts' places as AccountTerritoryAssigned told them.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "attainment_ledger",
        sa.Column("source_event_id", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=24), nullable=False),
        sa.Column("object_kind", sa.String(length=12), nullable=False),
        sa.Column("object_id", sa.String(length=100), nullable=False),
        sa.Column("account_id", sa.String(length=100), nullable=False),
        sa.Column("measure", sa.String(length=20), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source_event_id", name=op.f("pk_attainment_ledger")),
    )
    with op.batch_alter_table("attainment_ledger", schema=None) as batch_op:
        batch_op.create_index("ix_attainment_ledger_account_id_month", ["account_id", "month"], unique=False)
        batch_op.create_index("ix_attainment_ledger_object", ["object_kind", "object_id"], unique=False)

    op.create_table(
        "attainment_open_credits",
        sa.Column("object_kind", sa.String(length=12), nullable=False),
        sa.Column("object_id", sa.String(length=100), nullable=False),
        sa.Column("source_event_id", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("object_kind", "object_id", name=op.f("pk_attainment_open_credits")),
    )
    op.create_table(
        "attainment_rollup",
        sa.Column("scope_kind", sa.String(length=10), nullable=False),
        sa.Column("scope_id", sa.String(length=200), nullable=False),
        sa.Column("measure", sa.String(length=20), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("actual", sa.BigInteger(), nullable=False),
        sa.Column("territory_id", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("scope_kind", "scope_id", "measure", "month", name=op.f("pk_attainment_rollup")),
    )
    with op.batch_alter_table("attainment_rollup", schema=None) as batch_op:
        batch_op.create_index("ix_attainment_rollup_kind_measure_month_territory", ["scope_kind", "measure", "month", "territory_id"], unique=False)

    op.create_table(
        "pipeline_opportunities",
        sa.Column("opportunity_id", sa.String(length=100), nullable=False),
        sa.Column("measure", sa.String(length=20), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("weighted", sa.BigInteger(), nullable=False),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("opportunity_id", name=op.f("pk_pipeline_opportunities")),
    )
    op.create_table(
        "pipeline_rollup",
        sa.Column("scope_kind", sa.String(length=10), nullable=False),
        sa.Column("scope_id", sa.String(length=200), nullable=False),
        sa.Column("measure", sa.String(length=20), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("weighted", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("scope_kind", "scope_id", "measure", "month", name=op.f("pk_pipeline_rollup")),
    )
    op.create_table(
        "quota_accounts",
        sa.Column("account_id", sa.String(length=100), nullable=False),
        sa.Column("territory_id", sa.String(length=200), nullable=False),
        sa.Column("owner_id", sa.String(length=200), nullable=False),
        sa.Column("team_id", sa.String(length=200), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("previous_territory_id", sa.String(length=200), nullable=False),
        sa.Column("previous_owner_id", sa.String(length=200), nullable=False),
        sa.Column("previous_team_id", sa.String(length=200), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_quota_accounts")),
    )
    with op.batch_alter_table("quota_accounts", schema=None) as batch_op:
        batch_op.create_index("ix_quota_accounts_owner_id", ["owner_id"], unique=False)
        batch_op.create_index("ix_quota_accounts_territory_id", ["territory_id"], unique=False)

    op.create_table(
        "quota_lines",
        sa.Column("plan_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("scope_kind", sa.String(length=10), nullable=False),
        sa.Column("scope_id", sa.String(length=200), nullable=False),
        sa.Column("parent_kind", sa.String(length=10), nullable=False),
        sa.Column("parent_id", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("last_year_actual", sa.BigInteger(), nullable=False),
        sa.Column("seeded", sa.BigInteger(), nullable=False),
        sa.Column("allocated", sa.BigInteger(), nullable=False),
        sa.Column("target", sa.BigInteger(), nullable=False),
        sa.Column("adjustment_note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("plan_id", "version", "scope_kind", "scope_id", name=op.f("pk_quota_lines")),
    )
    op.create_table(
        "quota_plans",
        sa.Column("plan_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("row_id", sa.String(length=36), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("measure", sa.String(length=20), nullable=False),
        sa.Column("root_kind", sa.String(length=10), nullable=False),
        sa.Column("root_id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("move_policy", sa.String(length=10), nullable=False),
        sa.Column("growth_bp", sa.Integer(), nullable=False),
        sa.Column("maker", sa.String(length=200), nullable=False),
        sa.Column("checker", sa.String(length=200), nullable=False),
        sa.Column("submit_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decide_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reject_reason", sa.Text(), nullable=False),
        sa.Column("differences_accepted", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("plan_id", "version", name=op.f("pk_quota_plans")),
        sa.UniqueConstraint("row_id", name=op.f("uq_quota_plans_row_id")),
    )
    with op.batch_alter_table("quota_plans", schema=None) as batch_op:
        batch_op.create_index("ix_quota_plans_created_at_row_id", ["created_at", "row_id"], unique=False)
        batch_op.create_index("ix_quota_plans_period_measure_root", ["period", "measure", "root_kind", "root_id"], unique=False)

    op.create_table(
        "quota_targets",
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("measure", sa.String(length=20), nullable=False),
        sa.Column("scope_kind", sa.String(length=10), nullable=False),
        sa.Column("scope_id", sa.String(length=200), nullable=False),
        sa.Column("target", sa.BigInteger(), nullable=False),
        sa.Column("plan_id", sa.String(length=36), nullable=False),
        sa.Column("plan_version", sa.Integer(), nullable=False),
        sa.Column("territory_id", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("period", "measure", "scope_kind", "scope_id", name=op.f("pk_quota_targets")),
    )
    with op.batch_alter_table("quota_targets", schema=None) as batch_op:
        batch_op.create_index("ix_quota_targets_period_measure_kind_territory", ["period", "measure", "scope_kind", "territory_id"], unique=False)

    op.create_table(
        "quota_transfers",
        sa.Column("transfer_id", sa.String(length=36), nullable=False),
        sa.Column("plan_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("from_kind", sa.String(length=10), nullable=False),
        sa.Column("from_id", sa.String(length=200), nullable=False),
        sa.Column("to_kind", sa.String(length=10), nullable=False),
        sa.Column("to_id", sa.String(length=200), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("accounts", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("transfer_id", name=op.f("pk_quota_transfers")),
    )
    with op.batch_alter_table("quota_transfers", schema=None) as batch_op:
        batch_op.create_index("ix_quota_transfers_plan_id_version", ["plan_id", "version"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("quota_transfers", schema=None) as batch_op:
        batch_op.drop_index("ix_quota_transfers_plan_id_version")

    op.drop_table("quota_transfers")
    with op.batch_alter_table("quota_targets", schema=None) as batch_op:
        batch_op.drop_index("ix_quota_targets_period_measure_kind_territory")

    op.drop_table("quota_targets")
    with op.batch_alter_table("quota_plans", schema=None) as batch_op:
        batch_op.drop_index("ix_quota_plans_period_measure_root")
        batch_op.drop_index("ix_quota_plans_created_at_row_id")

    op.drop_table("quota_plans")
    op.drop_table("quota_lines")
    with op.batch_alter_table("quota_accounts", schema=None) as batch_op:
        batch_op.drop_index("ix_quota_accounts_territory_id")
        batch_op.drop_index("ix_quota_accounts_owner_id")

    op.drop_table("quota_accounts")
    op.drop_table("pipeline_rollup")
    op.drop_table("pipeline_opportunities")
    with op.batch_alter_table("attainment_rollup", schema=None) as batch_op:
        batch_op.drop_index("ix_attainment_rollup_kind_measure_month_territory")

    op.drop_table("attainment_rollup")
    op.drop_table("attainment_open_credits")
    with op.batch_alter_table("attainment_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_attainment_ledger_object")
        batch_op.drop_index("ix_attainment_ledger_account_id_month")

    op.drop_table("attainment_ledger")
