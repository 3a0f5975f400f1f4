"""inbox retention index: now the platform's revision platform_0002 (a no-op here).

The inbox is a platform table, so its retention index lives once, in
crm_common.platform_migrations. This revision keeps its id so that databases stamped at it (or
later) still resolve; `migrate` applies platform_0002 to every database, which creates the index
only where it is missing.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 17:57:32.584905

"""

from collections.abc import Sequence

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
