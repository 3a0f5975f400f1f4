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

from sqlalchemy import Connection, Engine, Table, select, tuple_, update

from crm_common.pii import FieldCipher, PiiCodec

BATCH = 500


@dataclass(frozen=True)
class SealedColumn:
    """A ciphertext column and the blind-index columns derived from its plaintext.

    Tokens are bound to "<table>.<column>:<row>" unless `context` names what stands before the
    colon instead (a service whose tokens predate this module), or `context_from` names a column
    of the row that does (one column holding phones and emails alike, bound to their kind).
    """

    column: str
    indexes: Mapping[str, Callable[[PiiCodec, str], str]] = field(default_factory=dict)
    context: str = ""
    context_from: str = ""


@dataclass(frozen=True)
class SealedTable:
    table: Table
    # The primary key: one column, or several (walked in that order).
    id_column: str | tuple[str, ...]
    columns: Sequence[SealedColumn]
    # The column whose value tokens are bound to, when the row id is not known before the
    # insert (an autoincrement id): the id column otherwise.
    context_column: str = ""

    def context(self, column: str, bound_to: str) -> str:
        """What a token of `column` in the row is bound to (AES-GCM associated data)."""
        sealed = next((c for c in self.columns if c.column == column), None)
        if sealed is not None and sealed.context_from:
            raise ValueError(f"{self.table.name}.{column} is bound to its row's {sealed.context_from}: use row_context")
        name = sealed.context if sealed is not None and sealed.context else f"{self.table.name}.{column}"
        return f"{name}:{bound_to}"

    def row_context(self, sealed: SealedColumn, row: Mapping[Any, Any]) -> str:
        """The context of `sealed`'s token in a row read by the jobs below."""
        bound_to = str(row[self._bound_column])
        if sealed.context_from:
            return f"{row[sealed.context_from]}:{bound_to}"
        return self.context(sealed.column, bound_to)

    @property
    def _keys(self) -> tuple[str, ...]:
        return (self.id_column,) if isinstance(self.id_column, str) else tuple(self.id_column)

    @property
    def _bound_column(self) -> str:
        return self.context_column or self._keys[0]

    def _batches(self, engine: Engine) -> Iterator[tuple[Connection, list[Mapping[Any, Any]]]]:
        keys = [self.table.c[k] for k in self._keys]
        names = dict.fromkeys(
            [*self._keys, self._bound_column, *(c.context_from for c in self.columns if c.context_from), *(c.column for c in self.columns)]
        )
        after: tuple[Any, ...] | None = None
        while True:
            with engine.begin() as conn:
                query = select(*(self.table.c[n] for n in names)).order_by(*keys).limit(BATCH)
                if after is not None:
                    query = query.where(tuple_(*keys) > tuple_(*after) if len(keys) > 1 else keys[0] > after[0])
                rows: list[Mapping[Any, Any]] = [row._mapping for row in conn.execute(query)]
                if not rows:
                    return
                yield conn, rows
                after = tuple(rows[-1][k] for k in self._keys)

    def _update(self, conn: Connection, row: Mapping[Any, Any], values: dict[str, str]) -> None:
        conn.execute(update(self.table).where(*(self.table.c[k] == row[k] for k in self._keys)).values(values))


def reencrypt_tables(engine: Engine, cipher: FieldCipher, tables: Sequence[SealedTable]) -> int:
    """Rewrites every token not under the current key; returns how many were rewritten."""
    rewritten = 0
    for sealed in tables:
        for conn, rows in sealed._batches(engine):
            for row in rows:
                values = {
                    c.column: cipher.reencrypt(row[c.column], sealed.row_context(c, row))
                    for c in sealed.columns
                    if cipher.needs_rotation(row[c.column])
                }
                if values:
                    sealed._update(conn, row, values)
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
                values: dict[str, str] = {}
                for c in indexed:
                    plain = codec.decrypt(sealed.row_context(c, row), row[c.column])
                    values.update({name: derive(codec, plain) for name, derive in c.indexes.items()})
                sealed._update(conn, row, values)
                done += 1
    return done
