"""The inbox's retention index (crm_common.retention deletes marks by age).

Each service's revision 0002 used to create it; a database built by those revisions has it
already, so it is created only where it is missing.

Revision ID: platform_0002
Revises: platform_0001
Create Date: 2026-12-01

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "platform_0002"
down_revision: str | Sequence[str] | None = "platform_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if "ix_inbox_processed_at" not in {index["name"] for index in sa.inspect(op.get_bind()).get_indexes("inbox")}:
        op.create_index("ix_inbox_processed_at", "inbox", ["processed_at"])


def downgrade() -> None:
    op.drop_index("ix_inbox_processed_at", table_name="inbox")
