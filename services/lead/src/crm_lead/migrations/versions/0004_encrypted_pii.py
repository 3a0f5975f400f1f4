"""names, phones, emails, national ids and notes encrypted, with blind indexes

Existing rows are encrypted in place with the keys the service is configured with (PII_KEYS,
PII_INDEX_KEY), so run the migration with the same environment as the service. Token contexts
("<table>.<column>:<row>") are written out here, as the service's code wrote them at the time.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from crm_common.contact import fold
from crm_common.pii import PiiCodec
from crm_common.settings import ServiceSettings

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000
_OPEN = "status IN ('CONTACTED', 'MQL', 'NEW', 'NURTURE', 'SQL')"
# (table, row id column, column the token is bound to, plaintext column, ciphertext column)
_SEALED = [
    ("leads", "lead_id", "lead_id", "full_name", "full_name_enc"),
    ("leads", "lead_id", "lead_id", "phone_e164", "phone_enc"),
    ("leads", "lead_id", "lead_id", "email", "email_enc"),
    ("leads", "lead_id", "lead_id", "national_id", "national_id_enc"),
    ("leads", "lead_id", "lead_id", "note", "note_enc"),
    ("leads", "lead_id", "lead_id", "status_note", "status_note_enc"),
    ("contact_attempts", "attempt_id", "attempt_id", "note", "note_enc"),
    ("lead_behaviours", "id", "lead_id", "detail", "detail_enc"),
]
_BLIND = ["name_tokens", "phone_bidx", "email_bidx", "national_id_bidx"]
# (blind-index column, kind, plaintext column)
_INDEXES = [("phone_bidx", "phone", "phone_e164"), ("email_bidx", "email", "email"), ("national_id_bidx", "national_id", "national_id")]
_PLAIN_TYPES = {
    ("leads", "full_name"): sa.String(length=200),
    ("leads", "phone_e164"): sa.String(length=20),
    ("leads", "email"): sa.String(length=320),
    ("leads", "national_id"): sa.String(length=12),
}


def _codec() -> PiiCodec:
    settings = ServiceSettings()
    return PiiCodec.from_settings(settings.pii_keys, settings.pii_index_key)


def _rows(table: str, columns: list[str], id_column: str) -> Iterator[list[Any]]:
    """Batches of rows in id order (keyset), so a large table is never loaded whole."""
    bind = op.get_bind()
    after = None
    wanted = ", ".join(columns)
    while True:
        where, params = (f"WHERE {id_column} > :after ", {"after": after}) if after is not None else ("", {})
        rows = bind.execute(sa.text(f"SELECT {wanted} FROM {table} {where}ORDER BY {id_column} LIMIT {BATCH}"), params).all()
        if not rows:
            return
        yield list(rows)
        after = getattr(rows[-1], id_column)


def _by_table() -> dict[tuple[str, str, str], list[tuple[str, str]]]:
    tables: dict[tuple[str, str, str], list[tuple[str, str]]] = {}
    for table, id_column, bound_to, plain, sealed in _SEALED:
        tables.setdefault((table, id_column, bound_to), []).append((plain, sealed))
    return tables


def upgrade() -> None:
    for (table, _id, _bound), pairs in _by_table().items():
        with op.batch_alter_table(table) as batch:
            for _plain, sealed in pairs:
                batch.add_column(sa.Column(sealed, sa.Text(), nullable=False, server_default=""))
            if table == "leads":
                batch.add_column(sa.Column("name_tokens", sa.Text(), nullable=False, server_default=""))
                for column, _kind, _plain in _INDEXES:
                    batch.add_column(sa.Column(column, sa.String(length=32), nullable=False, server_default=""))
    _encrypt_existing_rows()

    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("leads") as batch:
        for index in ("uq_leads_open_phone_e164", "uq_leads_open_email", "ix_leads_phone_e164", "ix_leads_email", "ix_leads_name_folded_trgm"):
            batch.drop_index(index)
    for (table, _id, _bound), pairs in _by_table().items():
        with op.batch_alter_table(table) as batch:
            for plain, sealed in pairs:
                batch.drop_column(plain)
                batch.alter_column(sealed, server_default=None)
            if table == "leads":
                batch.drop_column("name_folded")
                for column in _BLIND:
                    batch.alter_column(column, server_default=None)
    for column, _kind, _plain in _INDEXES:
        op.create_index(f"ix_leads_{column}", "leads", [column])
    for column in ("phone_bidx", "email_bidx"):
        condition = sa.text(f"{column} != '' AND {_OPEN}")
        op.create_index(f"uq_leads_open_{column}", "leads", [column], unique=True, postgresql_where=condition, sqlite_where=condition)
    if postgres:
        op.execute("CREATE INDEX ix_leads_name_tokens ON leads USING gin (string_to_array(name_tokens, ' '))")


def _encrypt_existing_rows() -> None:
    bind = op.get_bind()
    codec: PiiCodec | None = None
    for (table, id_column, bound_to), pairs in _by_table().items():
        extra = ["name_folded"] if table == "leads" else []
        columns = list(dict.fromkeys([id_column, bound_to, *(plain for plain, _ in pairs), *extra]))
        for rows in _rows(table, columns, id_column):
            codec = codec or _codec()
            updates = []
            for row in rows:
                values: dict[str, Any] = {"_id": getattr(row, id_column)}
                for plain, sealed in pairs:
                    values[sealed] = codec.encrypt(f"{table}.{sealed}:{getattr(row, bound_to)}", getattr(row, plain))
                if table == "leads":
                    values["name_tokens"] = codec.search_tokens("name", fold(row.full_name)) if row.name_folded else ""
                    for column, kind, plain in _INDEXES:
                        values[column] = codec.index(kind, getattr(row, plain))
                updates.append(values)
            assignments = ", ".join(f"{column} = :{column}" for column in updates[0] if column != "_id")
            bind.execute(sa.text(f"UPDATE {table} SET {assignments} WHERE {id_column} = :_id"), updates)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("DROP INDEX ix_leads_name_tokens")
    for column in ("phone_bidx", "email_bidx"):
        op.drop_index(f"uq_leads_open_{column}", table_name="leads")
    for column, _kind, _plain in _INDEXES:
        op.drop_index(f"ix_leads_{column}", table_name="leads")
    for (table, _id, _bound), pairs in _by_table().items():
        with op.batch_alter_table(table) as batch:
            for plain, _sealed in pairs:
                batch.add_column(sa.Column(plain, _PLAIN_TYPES.get((table, plain), sa.Text()), nullable=False, server_default=""))
            if table == "leads":
                batch.add_column(sa.Column("name_folded", sa.String(length=200), nullable=False, server_default=""))
    _decrypt_rows()
    for (table, _id, _bound), pairs in _by_table().items():
        with op.batch_alter_table(table) as batch:
            for plain, sealed in pairs:
                batch.drop_column(sealed)
                batch.alter_column(plain, server_default=None)
            if table == "leads":
                batch.alter_column("name_folded", server_default=None)
                for column in _BLIND:
                    batch.drop_column(column)
    with op.batch_alter_table("leads") as batch:
        batch.create_index("ix_leads_phone_e164", ["phone_e164"])
        batch.create_index("ix_leads_email", ["email"])
        for column in ("phone_e164", "email"):
            condition = sa.text(f"{column} != '' AND {_OPEN}")
            batch.create_index(f"uq_leads_open_{column}", [column], unique=True, postgresql_where=condition, sqlite_where=condition)
    if postgres:
        op.create_index(
            "ix_leads_name_folded_trgm", "leads", ["name_folded"], postgresql_using="gin", postgresql_ops={"name_folded": "gin_trgm_ops"}
        )
    else:
        op.create_index("ix_leads_name_folded_trgm", "leads", ["name_folded"])



def _decrypt_rows() -> None:
    bind = op.get_bind()
    codec: PiiCodec | None = None
    for (table, id_column, bound_to), pairs in _by_table().items():
        extra = ["name_tokens"] if table == "leads" else []
        columns = list(dict.fromkeys([id_column, bound_to, *(sealed for _, sealed in pairs), *extra]))
        for rows in _rows(table, columns, id_column):
            codec = codec or _codec()
            updates = []
            for row in rows:
                values: dict[str, Any] = {"_id": getattr(row, id_column)}
                for plain, sealed in pairs:
                    values[plain] = codec.decrypt(f"{table}.{sealed}:{getattr(row, bound_to)}", getattr(row, sealed))
                if table == "leads":
                    # An erased lead had no folded name (it had no tokens either).
                    values["name_folded"] = fold(values["full_name"]) if row.name_tokens else ""
                updates.append(values)
            assignments = ", ".join(f"{column} = :{column}" for column in updates[0] if column != "_id")
            bind.execute(sa.text(f"UPDATE {table} SET {assignments} WHERE {id_column} = :_id"), updates)
