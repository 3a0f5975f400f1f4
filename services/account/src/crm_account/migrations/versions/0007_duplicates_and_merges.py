"""duplicate candidates, merges, and the keys duplicate detection looks accounts up by

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm_common.contact import fold

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _name_dob_key(full_name: str, born: object) -> str:
    # The same key as crm_account.domain.duplicates.name_dob_key (migrations do not import
    # application code): folded family name | first letter of the given name | ISO date.
    tokens = fold(full_name).split()
    if not tokens or born is None:
        return ""
    return f"{tokens[0]}|{tokens[-1][:1]}|{born}"


def upgrade() -> None:
    for column in (
        sa.Column("name_dob_key", sa.String(length=120), nullable=False, server_default=""),
        sa.Column("merged_into", sa.String(length=36), nullable=False, server_default=""),
    ):
        op.add_column("accounts", column)  # plain ADD COLUMNs: no SQLite table rebuild (see 0005)
    bind = op.get_bind()
    for row in bind.execute(sa.text("SELECT account_id, full_name, date_of_birth FROM accounts WHERE date_of_birth IS NOT NULL")).all():
        key = _name_dob_key(row.full_name, row.date_of_birth)
        bind.execute(sa.text("UPDATE accounts SET name_dob_key = :k WHERE account_id = :a"), {"k": key, "a": row.account_id})
    op.create_index("ix_accounts_name_dob_key", "accounts", ["name_dob_key"])
    op.create_index("ix_accounts_tax_code", "accounts", ["tax_code"])
    op.create_table(
        "duplicate_candidates",
        sa.Column("pair_id", sa.String(length=73), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("other_id", sa.String(length=36), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_by", sa.String(length=200), nullable=False),
        sa.Column("review_reason", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.account_id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["other_id"], ["accounts.account_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("pair_id"),
    )
    op.create_index("ix_duplicate_candidates_status_detected_at", "duplicate_candidates", ["status", "detected_at", "pair_id"])
    op.create_index("ix_duplicate_candidates_account_id", "duplicate_candidates", ["account_id"])
    op.create_index("ix_duplicate_candidates_other_id", "duplicate_candidates", ["other_id"])
    op.create_table(
        "account_merges",
        sa.Column("merge_id", sa.String(length=36), nullable=False),
        sa.Column("survivor_id", sa.String(length=36), nullable=False),
        sa.Column("merged_id", sa.String(length=36), nullable=False),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("merged_by", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("field_sources", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("merge_id"),
        sa.UniqueConstraint("merged_id"),
    )
    op.create_index("ix_account_merges_survivor_id", "account_merges", ["survivor_id"])


def downgrade() -> None:
    op.drop_table("account_merges")
    op.drop_table("duplicate_candidates")
    op.drop_index("ix_accounts_tax_code", table_name="accounts")
    op.drop_index("ix_accounts_name_dob_key", table_name="accounts")
    op.drop_column("accounts", "merged_into")
    op.drop_column("accounts", "name_dob_key")
