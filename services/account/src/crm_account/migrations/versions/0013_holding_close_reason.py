"""why a holding closed (core banking, or its won opportunity reopened)

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN: no SQLite table rebuild (see 0005). Holdings already closed were closed
    # by core banking (nothing else closed one before).
    op.add_column("holdings", sa.Column("close_reason", sa.String(length=30), nullable=False, server_default=""))
    op.execute("UPDATE holdings SET close_reason = 'CORE_BANKING' WHERE status = 'CLOSED'")


def downgrade() -> None:
    with op.batch_alter_table("holdings") as batch:
        batch.drop_column("close_reason")
