"""name search: trigram index on the folded name (PostgreSQL), replacing the unused btree

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_leads_name_folded", table_name="leads")
    if op.get_bind().dialect.name == "postgresql":
        # pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index(
            "ix_leads_name_folded_trgm", "leads", ["name_folded"], postgresql_using="gin", postgresql_ops={"name_folded": "gin_trgm_ops"}
        )
    else:
        op.create_index("ix_leads_name_folded_trgm", "leads", ["name_folded"])


def downgrade() -> None:
    op.drop_index("ix_leads_name_folded_trgm", table_name="leads")
    op.create_index("ix_leads_name_folded", "leads", ["name_folded"])
