"""Relinking records on another service's change, and undoing it exactly.

When the account service merges account M into S, every service holding account ids moves its
records of M to S (AccountsMerged); when the merge is undone (AccountsUnmerged), it must move
back exactly the records it moved then, not those created on S since. `Relinks` does both over
a service's own tables and remembers each move in the platform table `relinks`, keyed by the
change's id (the merge id):

    relinks = Relinks(conn, metadata)
    relinks.relink(merge_id, merged_id, survivor_id, [RelinkTarget("leads", leads, "lead_id", "account_id")], now)
    relinks.undo(merge_id, merged_id, survivor_id, [...], now)

Events may arrive out of order (a retried AccountsMerged after its AccountsUnmerged): `undo`
leaves a mark, and a later `relink` of that change moves nothing. Callers claim the event in
their inbox in the same transaction, so a redelivery is not applied twice.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Connection, MetaData, Table, delete, insert, select, update

# record_type of the mark `undo` leaves (record_id ''): the change was undone here.
UNDONE = "(undone)"
_CHUNK = 1000
T = TypeVar("T")


@dataclass(frozen=True)
class RelinkTarget:
    """A table of the service whose `ref_column` holds the changed id; `record_type` names it."""

    record_type: str
    table: Table
    id_column: str
    ref_column: str


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


class Relinks:
    def __init__(self, conn: Connection, metadata: MetaData) -> None:
        self.conn = conn
        self.table = metadata.tables["relinks"]

    def undone(self, change_id: str) -> bool:
        t = self.table.c
        return self.conn.scalar(select(t.change_id).where(t.change_id == change_id, t.record_type == UNDONE)) is not None

    def relink(self, change_id: str, from_id: str, to_id: str, targets: Sequence[RelinkTarget], now: datetime) -> dict[str, int] | None:
        """Moves every record of `from_id` to `to_id` and remembers which; how many per record
        type, or None when the change was already undone here (nothing moves)."""
        if self.undone(change_id):
            return None
        moved: dict[str, int] = {}
        for target in targets:
            ref, key = target.table.c[target.ref_column], target.table.c[target.id_column]
            ids = [str(i) for i in self.conn.scalars(update(target.table).where(ref == from_id).values({ref: to_id}).returning(key))]
            rows = [
                {"change_id": change_id, "record_type": target.record_type, "record_id": i, "from_id": from_id, "to_id": to_id, "relinked_at": now}
                for i in ids
            ]
            for part in _chunks(rows):
                self.conn.execute(insert(self.table), list(part))
            moved[target.record_type] = len(ids)
        return moved

    def undo(self, change_id: str, from_id: str, to_id: str, targets: Sequence[RelinkTarget], now: datetime) -> dict[str, int]:
        """Moves back to `from_id` the records relinked under `change_id` that still point at
        `to_id`; how many per record type. Leaves a mark so a late relink of it moves nothing."""
        t = self.table.c
        moved: dict[str, int] = {}
        for target in targets:
            ref, key = target.table.c[target.ref_column], target.table.c[target.id_column]
            ids = list(self.conn.scalars(select(t.record_id).where(t.change_id == change_id, t.record_type == target.record_type)))
            count = 0
            for part in _chunks(ids):
                count += len(self.conn.execute(update(target.table).where(key.in_(part), ref == to_id).values({ref: from_id}).returning(key)).all())
            moved[target.record_type] = count
        self.conn.execute(delete(self.table).where(t.change_id == change_id))
        self.conn.execute(
            insert(self.table).values(change_id=change_id, record_type=UNDONE, record_id="", from_id=from_id, to_id=to_id, relinked_at=now)
        )
        return moved
