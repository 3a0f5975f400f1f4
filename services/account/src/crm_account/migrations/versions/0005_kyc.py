"""KYC status, risk rating and periodic-review expiry on the account

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

_COLUMNS = [
    sa.Column("kyc_status", sa.String(length=12), nullable=False, server_default="NOT_STARTED"),
    sa.Column("kyc_reason", sa.String(length=500), nullable=False, server_default=""),
    sa.Column("kyc_risk_rating", sa.String(length=10), nullable=False, server_default=""),
    sa.Column("kyc_verified_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("kyc_expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("kyc_reference", sa.String(length=100), nullable=False, server_default=""),
    sa.Column("kyc_source_system", sa.String(length=100), nullable=False, server_default=""),
    sa.Column("kyc_updated_at", sa.DateTime(timezone=True), nullable=True),
]


def upgrade() -> None:
    # Plain ADD COLUMNs (SQLite needs no table rebuild, so the tables referencing accounts are
    # untouched); the server defaults stay, they only fill the rows that exist.
    for column in _COLUMNS:
        op.add_column("accounts", column)
    op.create_index("ix_accounts_kyc_status_expires_at", "accounts", ["kyc_status", "kyc_expires_at"])


def downgrade() -> None:
    op.drop_index("ix_accounts_kyc_status_expires_at", table_name="accounts")
    # Native DROP COLUMN (SQLite 3.35+), not a batch rebuild, for the same reason as upgrade.
    for column in _COLUMNS:
        op.drop_column("accounts", column.name)
