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
backend anyway, and the next batch forms while it runs (two in flight measured worse).

The trade (bench/README.md, lead capture at 16 clients on 2 cores): PostgreSQL's CPU per capture
0.59 -> 0.39 ms, the API's 1.29 -> 1.47-1.54 ms and the latency up. So it is off by default
(DATABASE_GROUP_COMMIT_MAX): it pays where the primary's CPU binds and API pods are cheap to add.
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
    __slots__ = ("batch", "done", "error", "params", "queued_at", "row", "sql")

    def __init__(self, sql: str, params: Mapping[str, Any]) -> None:
        self.sql = sql
        self.params = params
        self.queued_at = time.perf_counter()
        self.row: tuple[Any, ...] | None = None
        self.error: BaseException | None = None
        self.done = threading.Event()
        # Handed over by a leader that finished while this statement waited: run this batch.
        self.batch: list[_Pending] | None = None

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
        self._leaders = 0
        # The engine's pooled connection the batches run on, held between them: its prepared
        # statements stay warm. (A list: a broken one is dropped and the next batch takes a new one.)
        self._idle: list[PoolProxiedConnection] = []
        self._batch_size = group_commit_batch_size.labels(writer)
        self._waited = group_commit_wait_seconds.labels(writer)
        self._retries = group_commit_retries.labels(writer)

    def execute(self, sql: str, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        mine = _Pending(sql, params)
        with self._lock:
            self._queue.append(mine)
            batch = self._take() if self._leaders == 0 else None
            if batch is not None:
                self._leaders += 1
        if batch is None:
            mine.done.wait()
            if mine.batch is None:
                return mine.result()
            batch = mine.batch
        self._lead(batch, mine)
        return mine.result()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for raw in idle:
            raw.close()

    def _take(self) -> list[_Pending]:
        batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
        return batch

    def _lead(self, batch: list[_Pending], mine: _Pending) -> None:
        """Runs `batch` (`mine` among it), then hands the next batch to its oldest statement's
        caller, or stops leading when nothing waits."""
        successor: _Pending | None = None
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
                    successor_batch = self._take()
                    successor = successor_batch[0]
                    successor.batch = successor_batch
                else:
                    self._leaders -= 1
            for pending in batch:
                if pending is not mine:
                    pending.done.set()
            if successor is not None:
                successor.done.set()

    # -- the leader's side

    def _run(self, batch: list[_Pending]) -> None:
        started = time.perf_counter()
        for pending in batch:
            self._waited.observe(started - pending.queued_at)
        self._batch_size.observe(len(batch))
        raw = self._checkout(batch)
        if raw is None:
            return
        if len(batch) == 1:
            self._alone(raw, batch[0])
        elif not self._together(raw, batch):
            self._retries.inc()
            for pending in batch:  # each alone, so each caller keeps its own outcome
                if raw is None or not self._usable(raw):
                    raw = self._renew(raw, pending)
                if raw is not None:
                    self._alone(raw, pending)
        if raw is not None:
            self._checkin(raw)

    def _together(self, raw: PoolProxiedConnection, batch: list[_Pending]) -> bool:
        """One transaction for the batch; False (rolled back) when any statement failed."""
        conn: psycopg.Connection[Any] = raw.driver_connection  # type: ignore[assignment]
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
            return True
        except Exception:  # psycopg's error, or a parameter it could not adapt
            self._rollback(conn)
            for pending in batch:
                pending.row = None
            return False

    def _alone(self, raw: PoolProxiedConnection, pending: _Pending) -> None:
        """The statement as its own transaction."""
        conn: psycopg.Connection[Any] = raw.driver_connection  # type: ignore[assignment]
        try:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(pending.sql, pending.params)
                pending.row = cursor.fetchone()
        except Exception as error:  # psycopg's error, or a parameter it could not adapt
            pending.error = error
            self._rollback(conn)

    def _checkout(self, batch: list[_Pending]) -> PoolProxiedConnection | None:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        try:
            return self.engine.raw_connection()
        except Exception as error:  # the database is unreachable: every caller of the batch hears it
            for pending in batch:
                if pending.error is None:
                    pending.error = error
            return None

    def _checkin(self, raw: PoolProxiedConnection) -> None:
        if not self._usable(raw):
            raw.invalidate()
            return
        with self._lock:
            self._idle.append(raw)

    def _renew(self, raw: PoolProxiedConnection | None, pending: _Pending) -> PoolProxiedConnection | None:
        if raw is not None:
            raw.invalidate()
        return self._checkout([pending])

    @staticmethod
    def _usable(raw: PoolProxiedConnection) -> bool:
        conn: psycopg.Connection[Any] = raw.driver_connection  # type: ignore[assignment]
        return not conn.closed and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE

    @staticmethod
    def _rollback(conn: psycopg.Connection[Any]) -> None:
        """Rolls back after an error; a broken connection is left for _usable to find."""
        if conn.closed:
            return
        try:
            conn.rollback()
        except psycopg.Error:
            pass
