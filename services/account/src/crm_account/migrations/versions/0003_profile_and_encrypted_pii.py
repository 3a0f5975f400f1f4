"""the full customer profile; national ids, phones and emails encrypted with blind indexes

Existing rows are encrypted in place with the keys the service is configured with (PII_KEYS,
PII_INDEX_KEY), so run the migration with the same environment as the service.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm_common.contact import fold
from crm_common.pii import load_pii
from crm_common.settings import ServiceSettings

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NEW_COLUMNS = [
    sa.Column("name_folded", sa.String(length=200), nullable=False, server_default=""),
    sa.Column("gender", sa.String(length=10), nullable=False, server_default=""),
    sa.Column("date_of_birth", sa.Date(), nullable=True),
    sa.Column("national_id_enc", sa.Text(), nullable=False, server_default=""),
    sa.Column("national_id_bidx", sa.String(length=32), nullable=False, server_default=""),
    sa.Column("national_id_legacy", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("address_line", sa.String(length=300), nullable=False, server_default=""),
    sa.Column("ward_code", sa.String(length=5), nullable=False, server_default=""),
    sa.Column("district_code", sa.String(length=3), nullable=False, server_default=""),
    sa.Column("province_code", sa.String(length=2), nullable=False, server_default=""),
    sa.Column("occupation", sa.String(length=100), nullable=False, server_default=""),
    sa.Column("income_band", sa.String(length=20), nullable=False, server_default=""),
    sa.Column("preferred_language", sa.String(length=8), nullable=False, server_default="vi"),
    sa.Column("preferred_channel", sa.String(length=20), nullable=False, server_default=""),
    sa.Column("best_contact_times", sa.Text(), nullable=False, server_default="[]"),
    sa.Column("derived_tier", sa.String(length=20), nullable=False, server_default="MASS"),
    sa.Column("tier_override", sa.String(length=20), nullable=False, server_default=""),
    sa.Column("tier_override_reason", sa.String(length=500), nullable=False, server_default=""),
    sa.Column("customer_since", sa.DateTime(timezone=True), nullable=True),
    sa.Column("branch_id", sa.String(length=100), nullable=False, server_default=""),
    sa.Column("tax_code", sa.String(length=14), nullable=False, server_default=""),
    sa.Column("industry", sa.String(length=100), nullable=False, server_default=""),
    sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
]
_PLAIN_KEYS = ("national_id", "phone_e164", "email")


def _contact_point_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("value_enc", sa.Text(), nullable=False),
        sa.Column("value_bidx", sa.String(length=32), nullable=False),
    ]


def _pii():  # type: ignore[no-untyped-def]
    settings = ServiceSettings()
    return load_pii(settings.pii_keys, settings.pii_index_key)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("accounts") as batch:
        for column in _NEW_COLUMNS:
            batch.add_column(column)
    # SQLite drops columns by rebuilding the table, and dropping the old table would cascade
    # to tables referencing it: contact points and match keys are staged first, unreferenced.
    op.create_table("_staged_contact_points", *_contact_point_columns())
    op.create_table(
        "_staged_match_keys",
        sa.Column("key_bidx", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
    )
    _encrypt_existing_rows()

    with op.batch_alter_table("accounts") as batch:
        for key in _PLAIN_KEYS:
            batch.drop_index(f"uq_accounts_{key}")
            batch.drop_column(key)
        for column in _NEW_COLUMNS:
            batch.alter_column(column.name, server_default=None)
    op.create_table(
        "account_contact_points",
        *_contact_point_columns(),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.account_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id", "kind", "position"),
    )
    op.create_index("ix_account_contact_points_value_bidx", "account_contact_points", ["value_bidx"])
    op.create_table(
        "account_match_keys",
        sa.Column("key_bidx", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=36), sa.ForeignKey("accounts.account_id", ondelete="CASCADE"), nullable=False),
        sa.PrimaryKeyConstraint("key_bidx"),
    )
    op.create_table(
        "account_changes",
        sa.Column("change_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), sa.ForeignKey("accounts.account_id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("changed_fields", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("change_id"),
    )
    op.create_index("ix_account_changes_account_id_changed_at", "account_changes", ["account_id", "changed_at", "change_id"])

    op.execute("INSERT INTO account_contact_points SELECT account_id, kind, position, value_enc, value_bidx FROM _staged_contact_points")
    op.execute("INSERT INTO account_match_keys SELECT key_bidx, account_id FROM _staged_match_keys")
    op.drop_table("_staged_contact_points")
    op.drop_table("_staged_match_keys")
    known = sa.text("national_id_bidx <> ''")
    op.create_index("uq_accounts_national_id_bidx", "accounts", ["national_id_bidx"], unique=True, postgresql_where=known, sqlite_where=known)
    if postgres:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index(
            "ix_accounts_name_folded_trgm", "accounts", ["name_folded"], postgresql_using="gin", postgresql_ops={"name_folded": "gin_trgm_ops"}
        )
    else:
        op.create_index("ix_accounts_name_folded_trgm", "accounts", ["name_folded"])


def _encrypt_existing_rows() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT account_id, full_name, national_id, phone_e164, email FROM accounts")).all()
    if not rows:
        return
    cipher, index = _pii()
    for row in rows:
        aid = row.account_id
        bind.execute(
            sa.text(
                "UPDATE accounts SET name_folded = :folded, national_id_enc = :enc, national_id_bidx = :bidx,"
                " national_id_legacy = :legacy WHERE account_id = :aid"
            ),
            {
                "folded": fold(row.full_name),
                "enc": cipher.encrypt(row.national_id, f"national_id:{aid}"),
                "bidx": index("national_id", row.national_id),
                "legacy": len(row.national_id) == 9,
                "aid": aid,
            },
        )
        for kind, value in (("phone", row.phone_e164), ("email", row.email)):
            if not value:
                continue
            bind.execute(
                sa.text("INSERT INTO _staged_contact_points (account_id, kind, position, value_enc, value_bidx) VALUES (:aid, :kind, 0, :enc, :bidx)"),
                {"aid": aid, "kind": kind, "enc": cipher.encrypt(value, f"{kind}:{aid}"), "bidx": index(kind, value)},
            )
        # The old unique indexes made every key the first (and only) holder's.
        for kind, value in (("national_id", row.national_id), ("phone", row.phone_e164), ("email", row.email)):
            if value:
                bind.execute(sa.text("INSERT INTO _staged_match_keys (key_bidx, account_id) VALUES (:k, :aid)"), {"k": index(kind, value), "aid": aid})


def downgrade() -> None:
    op.drop_index("ix_accounts_name_folded_trgm", table_name="accounts")
    op.drop_index("uq_accounts_national_id_bidx", table_name="accounts")
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("national_id", sa.String(length=12), nullable=False, server_default=""))
        batch.add_column(sa.Column("phone_e164", sa.String(length=20), nullable=False, server_default=""))
        batch.add_column(sa.Column("email", sa.String(length=320), nullable=False, server_default=""))
    # Only the primary phone and email survive a downgrade.
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT account_id, national_id_enc FROM accounts")).all()
    if rows:
        cipher, _index = _pii()
        for row in rows:
            aid = row.account_id
            values = {"national_id": cipher.decrypt(row.national_id_enc, f"national_id:{aid}")}
            for kind, column in (("phone", "phone_e164"), ("email", "email")):
                point = bind.execute(
                    sa.text("SELECT value_enc FROM account_contact_points WHERE account_id = :aid AND kind = :kind AND position = 0"),
                    {"aid": aid, "kind": kind},
                ).first()
                values[column] = cipher.decrypt(point.value_enc, f"{kind}:{aid}") if point else ""
            bind.execute(
                sa.text("UPDATE accounts SET national_id = :national_id, phone_e164 = :phone_e164, email = :email WHERE account_id = :aid"),
                {**values, "aid": aid},
            )
    op.drop_table("account_changes")
    op.drop_table("account_match_keys")
    op.drop_table("account_contact_points")
    with op.batch_alter_table("accounts") as batch:
        for column in _NEW_COLUMNS:
            batch.drop_column(column.name)
        for key in _PLAIN_KEYS:
            batch.alter_column(key, server_default=None)
    for key in _PLAIN_KEYS:
        known = sa.text(f"{key} <> ''")
        op.create_index(f"uq_accounts_{key}", "accounts", [key], unique=True, postgresql_where=known, sqlite_where=known)
