"""pipeline version, checklist and stage history

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("opportunities", sa.Column("pipeline_version", sa.Integer(), nullable=False, server_default="1"))
    op.add_column("opportunities", sa.Column("checklist", sa.Text(), nullable=False, server_default="[]"))
    op.add_column("opportunities", sa.Column("stage_entered_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE opportunities SET stage_entered_at = COALESCE(closed_at, created_at)")
    op.create_table(
        "stage_history",
        sa.Column("opportunity_id", sa.String(length=36), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stage", sa.String(length=50), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("moved_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["opportunity_id"], ["opportunities.opportunity_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("opportunity_id", "entered_at", "stage"),
    )
    # Existing opportunities start their history in the stage they are in.
    op.execute(
        "INSERT INTO stage_history (opportunity_id, entered_at, stage, left_at, moved_by)"
        " SELECT opportunity_id, stage_entered_at, stage, NULL, updated_by FROM opportunities"
    )


def downgrade() -> None:
    op.drop_table("stage_history")
    for column in ("stage_entered_at", "checklist", "pipeline_version"):
        op.drop_column("opportunities", column)
