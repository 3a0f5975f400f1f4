"""The tamper-evident audit log (crm_common.audit): one row per audited call, hash-chained by
the sealer. Every service's database gets it with its next `crm-<service> migrate`.

Revision ID: platform_0004
Revises: platform_0003
Create Date: 2026-12-02

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "platform_0004"
down_revision: str | Sequence[str] | None = "platform_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("roles", JSON_DOCUMENT, nullable=False),
        sa.Column("client_id", sa.String(length=200), nullable=False),
        sa.Column("service", sa.String(length=50), nullable=False),
        sa.Column("rpc", sa.String(length=200), nullable=False),
        sa.Column("object_ids", JSON_DOCUMENT, nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=100), nullable=False),
        sa.Column("seal_seq", sa.BigInteger(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=True),
        sa.Column("row_hash", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("seal_seq", name=op.f("uq_audit_log_seal_seq")),
    )
    op.create_index(
        "ix_audit_log_unsealed",
        "audit_log",
        ["id"],
        postgresql_where=sa.text("seal_seq IS NULL"),
        sqlite_where=sa.text("seal_seq IS NULL"),
    )
    op.create_index("ix_audit_log_object_ids", "audit_log", ["object_ids"], postgresql_using="gin", postgresql_ops={"object_ids": "jsonb_path_ops"})
    op.create_index("ix_audit_log_subject", "audit_log", ["subject", "id"])


def downgrade() -> None:
    op.drop_table("audit_log")
