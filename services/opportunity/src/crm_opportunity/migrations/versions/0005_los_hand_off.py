"""LOS hand-off: the application id, and a decision note

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("opportunities", sa.Column("application_id", sa.String(length=36), nullable=False, server_default=""))
    op.add_column("opportunities", sa.Column("decision_note", sa.String(length=500), nullable=False, server_default=""))
    op.create_index("ix_opportunities_application_id", "opportunities", ["application_id"])


def downgrade() -> None:
    op.drop_index("ix_opportunities_application_id", table_name="opportunities")
    for column in ("decision_note", "application_id"):
        op.drop_column("opportunities", column)
