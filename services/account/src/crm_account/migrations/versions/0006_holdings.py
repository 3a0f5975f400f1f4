"""product holdings and per-account totals

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

_TOTALS = [
    sa.Column("total_deposits", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("total_loans", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("total_aum", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("open_holdings", sa.Integer(), nullable=False, server_default="0"),
]


def upgrade() -> None:
    for column in _TOTALS:  # plain ADD COLUMNs: no SQLite table rebuild (see 0005)
        op.add_column("accounts", column)
    op.create_table(
        "holdings",
        sa.Column("holding_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("product_type", sa.String(length=20), nullable=False),
        sa.Column("core_ref", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("credit_limit", sa.BigInteger(), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("opportunity_id", sa.String(length=100), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.account_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("holding_id"),
    )
    op.create_index("ix_holdings_account_id", "holdings", ["account_id"])
    known = sa.text("core_ref <> ''")
    op.create_index("uq_holdings_core_ref", "holdings", ["core_ref"], unique=True, postgresql_where=known, sqlite_where=known)
    won = sa.text("opportunity_id <> ''")
    op.create_index("uq_holdings_opportunity_id", "holdings", ["opportunity_id"], unique=True, postgresql_where=won, sqlite_where=won)


def downgrade() -> None:
    op.drop_table("holdings")
    for column in _TOTALS:
        op.drop_column("accounts", column.name)
