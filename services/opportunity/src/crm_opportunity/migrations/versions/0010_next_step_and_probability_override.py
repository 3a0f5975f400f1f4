"""next step and probability override (UpdateOpportunity)

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing rows have no next step and carry their stage's probability.
    op.add_column("opportunities", sa.Column("next_step", sa.String(length=300), nullable=False, server_default=""))
    op.add_column("opportunities", sa.Column("probability_overridden", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    for column in ("probability_overridden", "next_step"):
        op.drop_column("opportunities", column)
