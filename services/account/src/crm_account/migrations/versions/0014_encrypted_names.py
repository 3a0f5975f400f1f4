"""names encrypted: a token, blind word-prefix tokens for search, a blind name + birth date key

Existing rows are encrypted in place with the keys the service is configured with (PII_KEYS,
PII_INDEX_KEY), so run the migration with the same environment as the service. The token
context ("accounts.full_name_enc:<account id>") and the blind-index kind of the duplicate
blocking key ("name_dob") are written out here, as the service's code writes them.

The pre-merge snapshots an unmerge restores (account_merges, JSON copies of account rows) are
rewritten the same way, so they hold no name in clear either and still restore.

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Iterator, Sequence
from typing import Any

import json

import sqlalchemy as sa
from alembic import op

from crm_common.contact import fold
from crm_common.pii import PiiCodec
from crm_common.settings import ServiceSettings

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000


def _codec() -> PiiCodec:
    settings = ServiceSettings()
    return PiiCodec.from_settings(settings.pii_keys, settings.pii_index_key)


def _batches(columns: str) -> Iterator[list[Any]]:
    """Batches of accounts in id order (keyset), so a large table is never loaded whole."""
    bind = op.get_bind()
    after = None
    while True:
        where, params = ("WHERE account_id > :after ", {"after": after}) if after is not None else ("", {})
        rows = bind.execute(sa.text(f"SELECT account_id, {columns} FROM accounts {where}ORDER BY account_id LIMIT {BATCH}"), params).all()
        if not rows:
            return
        yield list(rows)
        after = rows[-1].account_id


def _name_dob_key(full_name: str, born: object) -> str:
    # The same key as crm_account.domain.duplicates.name_dob_key (migrations do not import
    # application code): folded family name | first letter of the given name | ISO date.
    tokens = fold(full_name).split()
    if not tokens or born is None:
        return ""
    return f"{tokens[0]}|{tokens[-1][:1]}|{born}"


def _update(assignments: list[dict[str, Any]]) -> None:
    columns = ", ".join(f"{column} = :{column}" for column in assignments[0] if column != "_id")
    op.get_bind().execute(sa.text(f"UPDATE accounts SET {columns} WHERE account_id = :_id"), assignments)


def _sealed(codec: PiiCodec, account_id: str, full_name: str, name_dob_key: str) -> dict[str, str]:
    return {
        "full_name_enc": codec.encrypt(f"accounts.full_name_enc:{account_id}", full_name),
        "name_tokens": codec.search_tokens("name", fold(full_name)),
        "name_dob_bidx": codec.index("name_dob", name_dob_key),
    }


def _rewrite_snapshots(convert: Any) -> None:
    """Applies `convert(codec, account row dict)` to the account row inside every merge snapshot."""
    bind = op.get_bind()
    merges = bind.execute(sa.text("SELECT merge_id, survivor_snapshot, merged_snapshot FROM account_merges WHERE merged_snapshot != ''")).all()
    if not merges:
        return
    codec = _codec()
    for merge in merges:
        values: dict[str, Any] = {"_id": merge.merge_id}
        for column in ("survivor_snapshot", "merged_snapshot"):
            data = json.loads(getattr(merge, column))
            data["account"] = convert(codec, data["account"])
            values[column] = json.dumps(data, sort_keys=True)
        bind.execute(sa.text("UPDATE account_merges SET survivor_snapshot = :survivor_snapshot, merged_snapshot = :merged_snapshot WHERE merge_id = :_id"), values)


def _seal_snapshot(codec: PiiCodec, row: dict[str, Any]) -> dict[str, Any]:
    name, key = row.pop("full_name"), row.pop("name_dob_key")
    row.pop("name_folded")
    return row | _sealed(codec, row["account_id"], name, key)


def _open_snapshot(codec: PiiCodec, row: dict[str, Any]) -> dict[str, Any]:
    name = codec.decrypt(f"accounts.full_name_enc:{row['account_id']}", row.pop("full_name_enc"))
    row.pop("name_tokens"), row.pop("name_dob_bidx")
    return row | {"full_name": name, "name_folded": fold(name), "name_dob_key": _name_dob_key(name, row["date_of_birth"])}


def upgrade() -> None:
    # Plain ALTER TABLE, as 0011: batch mode would recreate `accounts`, and its children's ON
    # DELETE CASCADE would empty them on SQLite. The columns keep their '' server default.
    op.add_column("accounts", sa.Column("full_name_enc", sa.Text(), nullable=False, server_default=""))
    op.add_column("accounts", sa.Column("name_tokens", sa.Text(), nullable=False, server_default=""))
    op.add_column("accounts", sa.Column("name_dob_bidx", sa.String(length=32), nullable=False, server_default=""))
    codec: PiiCodec | None = None
    for rows in _batches("full_name, name_dob_key"):
        codec = codec or _codec()
        _update([{"_id": row.account_id} | _sealed(codec, row.account_id, row.full_name, row.name_dob_key) for row in rows])
    _rewrite_snapshots(_seal_snapshot)
    op.drop_index("ix_accounts_name_folded_trgm", table_name="accounts")
    op.drop_index("ix_accounts_name_dob_key", table_name="accounts")
    for column in ("full_name", "name_folded", "name_dob_key"):
        op.drop_column("accounts", column)
    op.create_index("ix_accounts_name_dob_bidx", "accounts", ["name_dob_bidx"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_accounts_name_tokens ON accounts USING gin (string_to_array(name_tokens, ' '))")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("DROP INDEX ix_accounts_name_tokens")
    op.drop_index("ix_accounts_name_dob_bidx", table_name="accounts")
    op.add_column("accounts", sa.Column("full_name", sa.String(length=200), nullable=False, server_default=""))
    op.add_column("accounts", sa.Column("name_folded", sa.String(length=200), nullable=False, server_default=""))
    op.add_column("accounts", sa.Column("name_dob_key", sa.String(length=120), nullable=False, server_default=""))
    codec: PiiCodec | None = None
    for rows in _batches("full_name_enc, date_of_birth"):
        codec = codec or _codec()
        assignments = []
        for row in rows:
            name = codec.decrypt(f"accounts.full_name_enc:{row.account_id}", row.full_name_enc)
            assignments.append({"_id": row.account_id, "full_name": name, "name_folded": fold(name), "name_dob_key": _name_dob_key(name, row.date_of_birth)})
        _update(assignments)
    _rewrite_snapshots(_open_snapshot)
    for column in ("full_name_enc", "name_tokens", "name_dob_bidx"):
        op.drop_column("accounts", column)
    op.create_index("ix_accounts_name_dob_key", "accounts", ["name_dob_key"])
    if postgres:
        op.create_index("ix_accounts_name_folded_trgm", "accounts", ["name_folded"], postgresql_using="gin", postgresql_ops={"name_folded": "gin_trgm_ops"})
    else:
        op.create_index("ix_accounts_name_folded_trgm", "accounts", ["name_folded"])
