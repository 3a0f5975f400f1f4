"""Initial schema: the territory-quota service's first revision.

The platform's outbox, inbox and idempotency keys come from the platform history
(crm_common.platform_migrations), on which this revision depends. Add the service's tables
here or in later revisions (`alembic -c services/territory-quota/alembic.ini revision --autogenerate
--head territory-quota@head -m "..."`).

Revision ID: 0001
Revises:
Create Date: 2026-12-04

"""

from collections.abc import Sequence

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("territory-quota",)
depends_on: str | Sequence[str] | None = "platform_0001"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
