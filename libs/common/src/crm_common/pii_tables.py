"""Which columns of a service's tables hold PII ciphertext, and the key-rotation jobs over them.

A service declares its encrypted columns once (`SealedTable`); the repository takes token
contexts from it and `crm-<service> pii reencrypt|reindex` walks the same declaration:
reencrypt rewrites tokens still under an older key, reindex recomputes the blind-index
columns from the decrypted values after PII_INDEX_KEY changed. Both run in batches of one
transaction each, in primary-key order, and can be re-run after an interruption.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, Table, select, update

from crm_common.pii import FieldCipher, PiiCodec

BATCH = 500


@dataclass(frozen=True)
class SealedColumn:
    """A ciphertext column and the blind-index columns derived from its plaintext."""

    column: str
    indexes: Mapping[str, Callable[[PiiCodec, str], str]] = field(default_factory=dict)


@dataclass(frozen=True)
class SealedTable:
    table: Table
    id_column: str
    columns: Sequence[SealedColumn]
    # The column whose value tokens are bound to, when the row id is not known before the
    # insert (an autoincrement id): the id column otherwise.
    context_column: str = ""

    def context(self, column: str, bound_to: str) -> str:
        """What a token of `column` in the row is bound to (AES-GCM associated data)."""
        return f"{self.table.name}.{column}:{bound_to}"

    def _batches(self, engine: Engine) -> Iterator[tuple[Connection, list[Any]]]:
        key = self.table.c[self.id_column]
        wanted = [key, self.table.c[self.context_column or self.id_column], *(self.table.c[c.column] for c in self.columns)]
        after: Any = None
        while True:
            with engine.begin() as conn:
                query = select(*wanted).order_by(key).limit(BATCH)
                if after is not None:
                    query = query.where(key > after)
                rows = list(conn.execute(query).all())
                if not rows:
                    return
                yield conn, rows
                after = rows[-1][0]

    def _update(self, conn: Connection, row_id: Any, values: dict[str, str]) -> None:
        conn.execute(update(self.table).where(self.table.c[self.id_column] == row_id).values(values))


def reencrypt_tables(engine: Engine, cipher: FieldCipher, tables: Sequence[SealedTable]) -> int:
    """Rewrites every token not under the current key; returns how many were rewritten."""
    rewritten = 0
    for sealed in tables:
        for conn, rows in sealed._batches(engine):
            for row in rows:
                row_id, bound_to, tokens = row[0], row[1], row[2:]
                values = {
                    c.column: cipher.reencrypt(token, sealed.context(c.column, str(bound_to)))
                    for c, token in zip(sealed.columns, tokens, strict=True)
                    if cipher.needs_rotation(token)
                }
                if values:
                    sealed._update(conn, row_id, values)
                    rewritten += len(values)
    return rewritten


def reindex_tables(engine: Engine, codec: PiiCodec, tables: Sequence[SealedTable]) -> int:
    """Recomputes every blind-index column from the decrypted values; returns the rows visited."""
    done = 0
    for sealed in tables:
        indexed = [c for c in sealed.columns if c.indexes]
        if not indexed:
            continue
        for conn, rows in sealed._batches(engine):
            for row in rows:
                row_id, bound_to = row[0], row[1]
                by_column = dict(zip((c.column for c in sealed.columns), row[2:], strict=True))
                values: dict[str, str] = {}
                for c in indexed:
                    plain = codec.decrypt(sealed.context(c.column, str(bound_to)), by_column[c.column])
                    values.update({name: derive(codec, plain) for name, derive in c.indexes.items()})
                sealed._update(conn, row_id, values)
                done += 1
    return done
