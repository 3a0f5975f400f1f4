"""undoable merges: snapshots and moves kept with each merge, unmerged merges

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_IN_FORCE = sa.text("unmerged_at IS NULL")


def upgrade() -> None:
    # Merges made before this revision keep empty snapshots: they cannot be undone.
    with op.batch_alter_table("account_merges") as batch:
        batch.add_column(sa.Column("survivor_snapshot", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("merged_snapshot", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("moves", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("unmerged_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("unmerged_by", sa.String(length=200), nullable=False, server_default=""))
        batch.add_column(sa.Column("unmerge_reason", sa.String(length=500), nullable=False, server_default=""))
        # An account merged, unmerged and merged again has two rows: unique only while in force.
        batch.drop_constraint("uq_account_merges_merged_id", type_="unique")
    op.create_index(
        "uq_account_merges_merged_id", "account_merges", ["merged_id"], unique=True, postgresql_where=_IN_FORCE, sqlite_where=_IN_FORCE
    )


def downgrade() -> None:
    op.drop_index("uq_account_merges_merged_id", table_name="account_merges")
    op.execute("DELETE FROM account_merges WHERE unmerged_at IS NOT NULL")
    with op.batch_alter_table("account_merges") as batch:
        batch.create_unique_constraint("uq_account_merges_merged_id", ["merged_id"])
        for column in ("unmerge_reason", "unmerged_by", "unmerged_at", "moves", "merged_snapshot", "survivor_snapshot"):
            batch.drop_column(column)
