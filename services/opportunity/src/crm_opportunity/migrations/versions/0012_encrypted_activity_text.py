"""activities' subjects, notes and outcomes encrypted

Free text about a customer may name them or give their phone, so it is stored as AES-GCM tokens
(crm_common.pii). Existing rows are encrypted in place with the keys the service is configured
with (PII_KEYS), so run the migration with the same environment as the service. Token contexts
("activities.<column>:<activity id>") are written out here, as the service's code writes them.

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from crm_common.pii import PiiCodec
from crm_common.settings import ServiceSettings

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000
# (plaintext column, its type before this revision, ciphertext column)
_SEALED = [("subject", sa.String(length=200), "subject_enc"), ("notes", sa.Text(), "notes_enc"), ("outcome", sa.String(length=500), "outcome_enc")]


def _codec() -> PiiCodec:
    settings = ServiceSettings()
    return PiiCodec.from_settings(settings.pii_keys, settings.pii_index_key)


def _batches(columns: list[str]) -> Iterator[list[Any]]:
    """Batches of activities in id order (keyset), so a large table is never loaded whole."""
    bind = op.get_bind()
    after = None
    while True:
        where, params = ("WHERE activity_id > :after ", {"after": after}) if after is not None else ("", {})
        query = f"SELECT activity_id, {', '.join(columns)} FROM activities {where}ORDER BY activity_id LIMIT {BATCH}"
        rows = bind.execute(sa.text(query), params).all()
        if not rows:
            return
        yield list(rows)
        after = rows[-1].activity_id


def _rewrite(source: list[str], target: list[str], convert: Any) -> None:
    """Sets each target column from its source column through `convert(context, value)`."""
    bind = op.get_bind()
    codec: PiiCodec | None = None
    for rows in _batches(source):
        codec = codec or _codec()
        updates = [
            {"_id": row.activity_id}
            | {
                new: convert(codec, f"activities.{sealed}:{row.activity_id}", getattr(row, old))
                for old, new, sealed in zip(source, target, [s for _, _, s in _SEALED], strict=True)
            }
            for row in rows
        ]
        assignments = ", ".join(f"{column} = :{column}" for column in target)
        bind.execute(sa.text(f"UPDATE activities SET {assignments} WHERE activity_id = :_id"), updates)


def upgrade() -> None:
    with op.batch_alter_table("activities") as batch:
        for _plain, _type, sealed in _SEALED:
            batch.add_column(sa.Column(sealed, sa.Text(), nullable=False, server_default=""))
    plain, sealed = [p for p, _, _ in _SEALED], [s for _, _, s in _SEALED]
    _rewrite(plain, sealed, lambda codec, context, value: codec.encrypt(context, value))
    with op.batch_alter_table("activities") as batch:
        for column, _type, token in _SEALED:
            batch.drop_column(column)
            batch.alter_column(token, server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("activities") as batch:
        for column, type_, _sealed in _SEALED:
            batch.add_column(sa.Column(column, type_, nullable=False, server_default=""))
    plain, sealed = [p for p, _, _ in _SEALED], [s for _, _, s in _SEALED]
    _rewrite(sealed, plain, lambda codec, context, value: codec.decrypt(context, value))
    with op.batch_alter_table("activities") as batch:
        for column, _type, token in _SEALED:
            batch.drop_column(token)
            batch.alter_column(column, server_default=None)
