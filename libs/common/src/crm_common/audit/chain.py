"""The hash chain over the audit log: sealing committed rows, and verifying the chain.

Rows are appended without hashes. The sealer takes the unsealed rows it can see (committed ones
only) in id order, numbers them on from the chain's head (`seal_seq` 1, 2, 3...) and sets

    row_hash = SHA-256(prev_hash || canonical(row))

where prev_hash is the previous row's row_hash (64 zeros before the first) as ASCII hex, and
canonical(row) is the row's fields, its id and seal_seq included, as compact JSON with sorted
keys (times as UTC ISO 8601 with microseconds). The chain's order is seal order: a row that
commits after a later id was sealed is sealed after it, exactly once.

Verification walks the chain in seal_seq order: a missing number is a deleted row, a prev_hash
that is not the previous row's hash is a reordered, inserted or deleted row, and a row_hash
that does not match the row's fields is an edited row. Deleting the newest rows leaves a
shorter chain that is still whole: an anchor (a seal_seq and its hash recorded elsewhere, e.g.
from an earlier `audit verify`) catches that.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Table, bindparam, func, select, text, update
from sqlalchemy.exc import DBAPIError

from crm_common.db import WRITE_CONFLICTS, new_metadata

log = logging.getLogger("crm.audit")

AUDIT_LOG: Table = new_metadata().tables["audit_log"]
GENESIS = "0" * 64
# The fields a row's hash covers: all but the hashes themselves.
HASHED = ("id", "seal_seq", "occurred_at", "subject", "roles", "client_id", "service", "rpc", "object_ids", "outcome", "trace_id", "purpose")
# pg_try_advisory_xact_lock key of the sealer ("crm_audi"): one sealer per database at a time.
SEALER_LOCK = 0x63726D5F61756469
SEAL_BATCH = 1000
# What a sealer that lost a race meets (SQLite: the unique seal_seq, or a busy database).
_LOST_RACE: tuple[type[Exception], ...] = (*WRITE_CONFLICTS, DBAPIError)

# One UPDATE per batch, the batch given as arrays: the same statement text whatever its size, so
# PostgreSQL plans it once per connection.
_SEAL_PG = text(
    """
UPDATE audit_log AS a SET seal_seq = v.seal_seq, prev_hash = v.prev_hash, row_hash = v.row_hash
FROM unnest(CAST(:ids AS bigint[]), CAST(:seqs AS bigint[]), CAST(:prevs AS varchar[]), CAST(:hashes AS varchar[]))
  AS v(id, seal_seq, prev_hash, row_hash)
WHERE a.id = v.id AND a.seal_seq IS NULL
"""
)
_SEAL_SQLITE = (
    update(AUDIT_LOG)
    .where(AUDIT_LOG.c.id == bindparam("b_id"), AUDIT_LOG.c.seal_seq.is_(None))
    .values(seal_seq=bindparam("b_seq"), prev_hash=bindparam("b_prev"), row_hash=bindparam("b_hash"))
)


def canonical(row: Mapping[str, Any]) -> bytes:
    """The row's hashed fields as bytes: compact JSON, keys sorted, times in UTC."""
    fields = {name: row[name] for name in HASHED}
    occurred: datetime = fields["occurred_at"]
    fields["occurred_at"] = occurred.astimezone(UTC).isoformat(timespec="microseconds")
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def row_hash(prev_hash: str, row: Mapping[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical(row)).hexdigest()


def _head(conn: Any) -> tuple[int, str]:
    head = conn.execute(
        select(AUDIT_LOG.c.seal_seq, AUDIT_LOG.c.row_hash).where(AUDIT_LOG.c.seal_seq.is_not(None)).order_by(AUDIT_LOG.c.seal_seq.desc()).limit(1)
    ).first()
    return (0, GENESIS) if head is None else (int(head.seal_seq), str(head.row_hash))


def seal_batch(engine: Engine, batch_size: int = SEAL_BATCH) -> int:
    """Seals up to `batch_size` committed rows in one transaction; 0 when there was nothing to
    seal or another sealer holds the database's sealer lock."""
    with engine.begin() as conn:
        postgres = conn.dialect.name == "postgresql"
        if postgres and not conn.execute(select(func.pg_try_advisory_xact_lock(SEALER_LOCK))).scalar_one():
            return 0
        seq, prev = _head(conn)
        rows = conn.execute(select(AUDIT_LOG).where(AUDIT_LOG.c.seal_seq.is_(None)).order_by(AUDIT_LOG.c.id).limit(batch_size)).mappings().all()
        if not rows:
            return 0
        ids, seqs, prevs, hashes = [], [], [], []
        for row in rows:
            seq += 1
            digest = row_hash(prev, {**row, "seal_seq": seq})
            ids.append(row["id"])
            seqs.append(seq)
            prevs.append(prev)
            hashes.append(digest)
            prev = digest
        if postgres:
            sealed = conn.execute(_SEAL_PG, {"ids": ids, "seqs": seqs, "prevs": prevs, "hashes": hashes}).rowcount
            if sealed != len(rows):
                raise RuntimeError(f"sealed {sealed} of {len(rows)} audit rows; rolled back")
        else:
            conn.execute(
                _SEAL_SQLITE, [{"b_id": i, "b_seq": s, "b_prev": p, "b_hash": h} for i, s, p, h in zip(ids, seqs, prevs, hashes, strict=True)]
            )
        return len(rows)


def seal(engine: Engine, batch_size: int = SEAL_BATCH, keep_going: Callable[[], bool] | None = None) -> int:
    """Seals every committed row (batch by batch, while `keep_going()` when given); returns how many.

    Sealers take turns: on PostgreSQL one holds the advisory lock and the others find nothing to
    do (0) until their next run; two on SQLite (an API and `audit verify`) may race: the loser's
    batch hits the unique seal_seq or a busy database, rolls back, and is taken again on its next run."""
    total = 0
    while keep_going is None or keep_going():
        try:
            done = seal_batch(engine, batch_size)
        except _LOST_RACE as exc:
            if engine.dialect.name == "postgresql" and not isinstance(exc, WRITE_CONFLICTS):
                raise
            log.info("another sealer won the batch; sealing again later: %s", exc)
            return total
        total += done
        if done < batch_size:
            return total
    return total


@dataclass(frozen=True)
class BrokenLink:
    """The first place the chain does not hold."""

    seal_seq: int
    # The row found there (None when the row is missing).
    id: int | None
    # "deleted", "order" or "edited".
    problem: str
    detail: str


@dataclass(frozen=True)
class Verification:
    # Rows walked (the whole chain when it holds).
    count: int
    head_seq: int
    head_hash: str
    broken: BrokenLink | None
    # Rows appended but not sealed yet (committed after the walk began).
    unsealed: int

    @property
    def ok(self) -> bool:
        return self.broken is None


def verify(engine: Engine, anchor: tuple[int, str] | None = None, batch_size: int = 5000) -> Verification:
    """Walks the chain from seal_seq 1; `anchor` is a (seal_seq, row_hash) known from earlier."""
    expected, prev, count = 1, GENESIS, 0
    broken: BrokenLink | None = None
    anchored_hash: str | None = None
    with engine.connect() as conn:
        while broken is None:
            rows = (
                conn.execute(select(AUDIT_LOG).where(AUDIT_LOG.c.seal_seq >= expected).order_by(AUDIT_LOG.c.seal_seq).limit(batch_size))
                .mappings()
                .all()
            )
            for row in rows:
                broken = _check(row, expected, prev)
                if broken is not None:
                    break
                if anchor is not None and row["seal_seq"] == anchor[0]:
                    anchored_hash = row["row_hash"]
                count += 1
                prev = row["row_hash"]
                expected += 1
            if len(rows) < batch_size:
                break
        unsealed = int(conn.execute(select(func.count()).select_from(AUDIT_LOG).where(AUDIT_LOG.c.seal_seq.is_(None))).scalar_one())
    if broken is None and anchor is not None:
        broken = _check_anchor(anchor, count, anchored_hash)
    return Verification(count, count, prev, broken, unsealed)


def _check(row: Any, expected: int, prev: str) -> BrokenLink | None:
    seq, row_id = int(row["seal_seq"]), int(row["id"])
    if seq != expected:
        return BrokenLink(
            expected, None, "deleted", f"seal_seq {expected} is missing: the row was deleted (the next row is seal_seq {seq}, id {row_id})"
        )
    if row["prev_hash"] != prev:
        return BrokenLink(
            seq,
            row_id,
            "order",
            f"prev_hash is not the row_hash of seal_seq {seq - 1}: rows were reordered, inserted or deleted before it, "
            f"or seal_seq {seq - 1} was edited and rehashed",
        )
    if row_hash(prev, row) != row["row_hash"]:
        return BrokenLink(seq, row_id, "edited", "row_hash does not match the row's fields: the row was edited")
    return None


def _check_anchor(anchor: tuple[int, str], count: int, found: str | None) -> BrokenLink | None:
    seq, expected_hash = anchor
    if seq > count:
        return BrokenLink(
            count + 1, None, "deleted", f"the chain ends at seal_seq {count} but seal_seq {seq} was anchored: the newest rows were deleted"
        )
    if found != expected_hash:
        return BrokenLink(seq, None, "order", f"seal_seq {seq} does not have the anchored hash: the chain was rewritten up to it")
    return None
