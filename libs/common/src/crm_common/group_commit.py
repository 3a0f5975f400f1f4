"""Group commit: concurrent single-statement writes share one PostgreSQL transaction.

A hot path that writes everything in ONE statement (the lead capture) pays PostgreSQL's
per-transaction cost for every call: the commit's WAL flush, the transaction's start and end,
and a backend per concurrent caller contending for the WAL insert locks. Under load the calls
that arrive while a transaction is in flight wait for it and then go together: the first of them
leads, sends all their statements in one pipelined round trip inside one transaction, commits
once and hands each caller its own result row. A lone call runs at once as its own autocommit
statement, so it waits for nobody (no timer, no added latency at low load).

Each statement keeps its own meaning in the shared transaction: statements run in arrival order
and each sees the rows the earlier ones wrote, so a second capture of the same person or
request in the same batch finds the first. When the shared transaction fails (a unique index
refused one statement because another process won a race, a deadlock), it is rolled back and
every statement of the batch runs again alone, so each caller gets its own outcome or its own
error and no caller's write depends on another's.

One batch is in flight per process: the statements of a batch run one after another on one
backend anyway, and the next batch forms while it runs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

import psycopg
from prometheus_client import Counter, Histogram
from sqlalchemy import Engine
from sqlalchemy.pool import PoolProxiedConnection

BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)

group_commit_batch_size = Histogram(
    "crm_group_commit_batch_size", "Statements committed together in one transaction by group commit.", ["writer"], buckets=BATCH_BUCKETS
)
group_commit_wait_seconds = Histogram(
    "crm_group_commit_wait_seconds",
    "Time a statement waited for the batch in flight before its own batch started.",
    ["writer"],
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1),
)
group_commit_retries = Counter(
    "crm_group_commit_batch_retries_total", "Shared transactions that failed and whose statements ran again one by one.", ["writer"]
)


class _Pending:
    __slots__ = ("done", "error", "leads", "params", "queued_at", "row", "sql")

    def __init__(self, sql: str, params: Mapping[str, Any]) -> None:
        self.sql = sql
        self.params = params
        self.queued_at = time.perf_counter()
        self.row: tuple[Any, ...] | None = None
        self.error: BaseException | None = None
        self.done = threading.Event()
        # Set by the leader that finishes while this statement still waits: run the next batch.
        self.leads = False

    def result(self) -> tuple[Any, ...] | None:
        if self.error is not None:
            raise self.error
        return self.row


class GroupCommit:
    """Runs single statements that each return one row, committing concurrent ones together.

    `execute` blocks until the caller's statement is committed and returns its row (None when
    it returned no row), or raises the error PostgreSQL gave that statement alone.
    """

    def __init__(self, engine: Engine, writer: str, max_batch: int = 32) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: list[_Pending] = []
        self._busy = False
        self._raw: PoolProxiedConnection | None = None
        self._batch_size = group_commit_batch_size.labels(writer)
        self._waited = group_commit_wait_seconds.labels(writer)
        self._retries = group_commit_retries.labels(writer)

    def execute(self, sql: str, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        mine = _Pending(sql, params)
        with self._lock:
            self._queue.append(mine)
            lead = not self._busy
            self._busy = True
        if not lead:
            mine.done.wait()
            if not mine.leads:
                return mine.result()
        # This thread leads: its statement is first in the queue (a free writer has an empty
        # queue; a handover goes to the oldest waiter).
        with self._lock:
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
        try:
            self._run(batch)
        except BaseException as error:  # never leave a waiting caller without an outcome
            for pending in batch:
                if pending.row is None and pending.error is None:
                    pending.error = error
            raise
        finally:
            with self._lock:
                if self._queue:
                    successor = self._queue[0]
                    successor.leads = True
                    successor.done.set()
                else:
                    self._busy = False
            for pending in batch:
                if pending is not mine:
                    pending.done.set()
        return mine.result()

    def close(self) -> None:
        with self._lock:
            if self._raw is not None:
                self._raw.close()
                self._raw = None

    # -- the leader's side

    def _run(self, batch: list[_Pending]) -> None:
        started = time.perf_counter()
        for pending in batch:
            self._waited.observe(started - pending.queued_at)
        self._batch_size.observe(len(batch))
        try:
            conn = self._connection()
        except Exception as error:  # the database is unreachable: every caller hears it
            for pending in batch:
                pending.error = error
            return
        if len(batch) == 1:
            self._alone(conn, batch[0])
            return
        try:
            conn.autocommit = False
            with conn.pipeline():
                cursors = [conn.cursor() for _ in batch]
                for cursor, pending in zip(cursors, batch, strict=True):
                    cursor.execute(pending.sql, pending.params)
                conn.commit()
            for cursor, pending in zip(cursors, batch, strict=True):
                pending.row = cursor.fetchone()
                cursor.close()
        except Exception:  # psycopg's error, or a parameter it could not adapt: each alone
            self._recover(conn)
            self._retries.inc()
            for pending in batch:
                pending.row = None
                self._alone(self._connection_or_error(pending), pending)

    def _alone(self, conn: psycopg.Connection[Any] | None, pending: _Pending) -> None:
        if conn is None:
            return
        try:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(pending.sql, pending.params)
                pending.row = cursor.fetchone()
        except Exception as error:  # psycopg's error, or a parameter it could not adapt
            pending.error = error
            self._recover(conn)

    def _connection(self) -> psycopg.Connection[Any]:
        # One connection of the engine's pool, held: its prepared statements stay warm.
        if self._raw is None:
            self._raw = self.engine.raw_connection()
        conn: psycopg.Connection[Any] = self._raw.driver_connection  # type: ignore[assignment]
        return conn

    def _connection_or_error(self, pending: _Pending) -> psycopg.Connection[Any] | None:
        try:
            return self._connection()
        except Exception as error:
            pending.error = error
            return None

    def _recover(self, conn: psycopg.Connection[Any]) -> None:
        """After an error: a live connection is rolled back and kept; a broken one is dropped from
        the pool and replaced at the next batch."""
        if not conn.closed and conn.info.transaction_status != psycopg.pq.TransactionStatus.UNKNOWN:
            try:
                conn.rollback()
                return
            except psycopg.Error:
                pass
        if self._raw is not None:
            self._raw.invalidate()
            self._raw = None
