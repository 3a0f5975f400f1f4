"""The platform tables every service carries: outbox, inbox and idempotency keys.

Until this history existed, each service's first revision created these tables itself, so a
database built by those revisions already has them: each is created only where it is missing,
and the result is the same schema either way.

Revision ID: platform_0001
Revises:
Create Date: 2026-12-01

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "platform_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("platform",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "outbox" not in existing:
        op.create_table(
            "outbox",
            sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
            sa.Column("event_id", sa.String(length=36), nullable=False),
            sa.Column("event_type", sa.String(length=100), nullable=False),
            sa.Column("payload", sa.LargeBinary(), nullable=False),
            sa.Column("headers", sa.JSON(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("seq", name=op.f("pk_outbox")),
            sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_id")),
        )
    if "inbox" not in existing:
        op.create_table(
            "inbox",
            sa.Column("consumer", sa.String(length=200), nullable=False),
            sa.Column("event_id", sa.String(length=36), nullable=False),
            sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("consumer", "event_id", name=op.f("pk_inbox")),
        )
    if "idempotency_keys" not in existing:
        op.create_table(
            "idempotency_keys",
            sa.Column("method", sa.String(length=100), nullable=False),
            sa.Column("request_id", sa.String(length=100), nullable=False),
            sa.Column("request_hash", sa.String(length=64), nullable=False),
            sa.Column("result_ref", sa.String(length=200), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("method", "request_id", name=op.f("pk_idempotency_keys")),
        )
        op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_table("inbox")
    op.drop_table("outbox")
