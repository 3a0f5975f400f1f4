"""How a lead was assigned: MANUAL (AssignLead, an override of the rules) or ROUTED (the
territory service's LeadRouted), with the rule that routed it (the territory is 0005's column).

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("assignment_source", 16), ("routing_rule_id", 64)


def upgrade() -> None:
    # Plain ALTERs, not a batch: SQLite's batch copy would drop `leads` and cascade to its children.
    for name, length in _COLUMNS:
        op.add_column("leads", sa.Column(name, sa.String(length=length), nullable=False, server_default=""))
    # Every assignment made before routing existed was made by hand.
    op.execute("UPDATE leads SET assignment_source = 'MANUAL' WHERE owner_id <> ''")


def downgrade() -> None:
    for name, _ in reversed(_COLUMNS):
        op.drop_column("leads", name)
