"""The audit log of one API process: the buffered writer of rows that commit with no change
(reads, refusals, errors), the sealer, and the compliance query.

Both run on threads of their own beside the gRPC server (crm_common.lifecycle): the writer
inserts what calls appended every `flush_seconds` (one multi-row INSERT), the sealer chains
committed rows every `seal_seconds`. Stopping flushes and seals what is left. With
RELAY_IN_API=false the API keeps its writer and the relay process (crm_common.relay_process)
runs the sealer (`AuditSealer`); any number of sealers may run on one database.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy import Engine, and_, exists, func, select, type_coerce
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DataError

from crm_common.audit.chain import AUDIT_LOG
from crm_common.audit.chain import seal as seal_chain
from crm_common.db import bulk_insert
from crm_common.lifecycle import PeriodicTask
from crm_common.observability import metrics

log = logging.getLogger("crm.audit")

# Rows kept while the database cannot take them; beyond this the oldest are dropped (counted
# in crm_audit_dropped_rows_total): the API keeps answering through a database outage.
MAX_BUFFERED = 100_000
# A value the database refuses (through SQLAlchemy, or psycopg's COPY).
DATA_ERRORS: tuple[type[Exception], ...] = (DataError, psycopg.DataError)


@dataclass(frozen=True)
class AuditQuery:
    object_id: str = ""
    subject: str = ""
    from_time: datetime | None = None
    to_time: datetime | None = None


class AuditSealer:
    """Hash-chains committed audit rows every `every_seconds`, on a thread of its own: in the API
    process (inside its AuditTrail) or in the relay process. Sealers on one database take turns
    (chain.seal: an advisory lock on PostgreSQL; on SQLite the loser's batch rolls back), so
    replicas may each run one. A run in progress when stop() comes ends after its batch."""

    def __init__(self, engine: Engine, every_seconds: float = 1.0) -> None:
        self.engine = engine
        self._task = PeriodicTask("audit-sealer", every_seconds, self._periodic)

    def _periodic(self) -> int:
        return self.seal(keep_going=lambda: not self._task.stopping)

    def seal(self, keep_going: Callable[[], bool] | None = None) -> int:
        """Seals every committed row (while `keep_going()`, checked between batches)."""
        sealed = seal_chain(self.engine, keep_going=keep_going)
        if sealed:
            metrics.audit_sealed.inc(sealed)
        return sealed

    def start(self) -> None:
        self._task.start()

    def stop(self) -> None:
        self._task.stop()


class AuditTrail:
    def __init__(self, engine: Engine, service: str, flush_seconds: float = 0.2, seal_seconds: float = 1.0, *, sealing: bool = True) -> None:
        """`sealing=False` (RELAY_IN_API=false): rows are written here and sealed by the relay process."""
        self.engine = engine
        self.service = service
        self.sealing = sealing
        self._buffer: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        # One flush at a time: the periodic one and an explicit one (tests, shutdown).
        self._flushing = threading.Lock()
        self._writer = PeriodicTask("audit-writer", flush_seconds, self.flush)
        self._sealer = AuditSealer(engine, seal_seconds)

    def append(self, row: dict[str, Any]) -> None:
        """Queues a row of a call that committed nothing; written within flush_seconds."""
        with self._lock:
            self._buffer.append(row)
            overflow = len(self._buffer) - MAX_BUFFERED
            if overflow > 0:
                del self._buffer[:overflow]
                metrics.audit_dropped.inc(overflow)

    def flush(self) -> int:
        """Writes every queued row in one transaction; when the database is unreachable they stay
        queued for the next run. Returns how many were written."""
        with self._flushing:
            with self._lock:
                rows, self._buffer = self._buffer, []
            if not rows:
                return 0
            try:
                with self.engine.begin() as conn:
                    bulk_insert(conn, AUDIT_LOG, rows)
            except DATA_ERRORS:
                # One row the database refuses must not hold the others back for ever.
                return self._insert_one_by_one(rows)
            except Exception:
                with self._lock:
                    self._buffer[:0] = rows
                raise
            return len(rows)

    def _insert_one_by_one(self, rows: list[dict[str, Any]]) -> int:
        written = 0
        for row in rows:
            try:
                with self.engine.begin() as conn:
                    conn.execute(AUDIT_LOG.insert().values(row))
                written += 1
            except DATA_ERRORS as exc:
                metrics.audit_dropped.inc()
                log.error("audit row refused by the database and dropped: %s %s: %s", row.get("rpc"), row.get("outcome"), type(exc).__name__)
        return written

    def seal(self) -> int:
        """Seals every committed row now (whichever process runs the periodic sealer)."""
        return self._sealer.seal()

    def start(self) -> None:
        self._writer.start()
        if self.sealing:
            self._sealer.start()

    def stop(self) -> None:
        """After the server drained: the last rows are written (and sealed, when sealing here)."""
        self._writer.stop()
        if self.sealing:
            self._sealer.stop()
        try:
            self.flush()
            if self.sealing:
                self.seal()
        except Exception:
            log.exception("audit rows could not be written at shutdown")

    def query(self, where: AuditQuery, size: int, before_id: int | None) -> tuple[list[Any], int | None]:
        """Entries matching `where`, newest first, after the keyset `before_id`; and the next page's key."""
        conditions = []
        if where.object_id:
            conditions.append(_names_object(self.engine, where.object_id))
        if where.subject:
            conditions.append(AUDIT_LOG.c.subject == where.subject)
        if where.from_time is not None:
            conditions.append(AUDIT_LOG.c.occurred_at >= where.from_time)
        if where.to_time is not None:
            conditions.append(AUDIT_LOG.c.occurred_at < where.to_time)
        if before_id is not None:
            conditions.append(AUDIT_LOG.c.id < before_id)
        query = select(AUDIT_LOG).where(and_(True, *conditions)).order_by(AUDIT_LOG.c.id.desc()).limit(size + 1)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        if len(rows) <= size:
            return list(rows), None
        return list(rows[:size]), int(rows[size - 1].id)


def _names_object(engine: Engine, object_id: str) -> Any:
    if engine.dialect.name == "postgresql":
        # JSONB containment: answered by the GIN index on object_ids.
        return type_coerce(AUDIT_LOG.c.object_ids, postgresql.JSONB()).contains([object_id])
    each = func.json_each(AUDIT_LOG.c.object_ids).table_valued("value")
    return exists(select(1).select_from(each).where(each.c.value == object_id))
