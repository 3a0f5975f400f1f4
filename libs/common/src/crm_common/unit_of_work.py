"""The unit of work: one transaction in which a change, its events (outbox), the inbox mark of
the event that caused it, the idempotency record of the request that caused it, and the audit
row of the call that made it commit together or not at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Self, TypeVar

from google.protobuf.message import Message
from sqlalchemy import Connection, Engine, MetaData, select

from crm_common.audit.record import current_record, generated_ids
from crm_common.db import WRITE_CONFLICTS, is_postgres, upsert_insert, utcnow
from crm_common.errors import FieldViolation, InvalidArgument
from crm_common.events.outbox import OutboxWriter, RelayWakeup
from crm_common.group_commit import GroupCommit


@dataclass(frozen=True)
class Idempotent:
    """The idempotency key of a mutating request: its request_id and a hash of the whole request,
    scoped to the caller that sent it."""

    request_id: str
    # A reused request_id must come with the same request.
    fingerprint: str
    # Who sent it (the token's subject: a user, or a service's client id). Another caller's
    # request_id is another key: replaying it runs a new request, it never returns their result.
    caller: str = ""

    @property
    def stored_id(self) -> str:
        """What the idempotency_keys table holds: a hash of caller and request_id (64 hex digits,
        so the existing column takes it), or the request_id itself for a key with no caller
        (one the service derived, e.g. a saga's)."""
        if not self.caller:
            return self.request_id
        # Length-prefixed: no caller and request_id can be shifted into another pair.
        return hashlib.sha256(f"{len(self.caller)}:{self.caller}{self.request_id}".encode()).hexdigest()


class SqlUnitOfWork:
    def __init__(
        self,
        engine: Engine,
        metadata: MetaData,
        wakeup: RelayWakeup | None = None,
        single_statement: bool = False,
        group_commit: GroupCommit | None = None,
    ) -> None:
        """`single_statement`: the caller writes everything in ONE statement; on PostgreSQL the
        connection then runs in autocommit (that statement is its own transaction, one round
        trip instead of BEGIN + statement + COMMIT), and that statement may go through
        `group_commit` (committed together with concurrent ones). Elsewhere it changes nothing."""
        self.engine = engine
        self.metadata = metadata
        self.wakeup = wakeup
        self.outbox = OutboxWriter(metadata)
        self._inbox = metadata.tables["inbox"]
        self._idempotency = metadata.tables["idempotency_keys"]
        self._audit_log = metadata.tables["audit_log"]
        self.single_statement = single_statement and is_postgres(engine)
        self.group_commit = group_commit if self.single_statement else None
        self.conn: Connection

    def __enter__(self) -> Self:
        self.conn = self.engine.connect()
        if self.single_statement:
            self.conn = self.conn.execution_options(isolation_level="AUTOCOMMIT")
        self._tx = self.conn.begin()
        self._events: list[Message] = []
        # Ids this transaction created or changed, for the call's audit row.
        self._audit_ids: list[str] = []
        self._audit_taken = False
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._tx.is_active:
            self._tx.rollback()
        self.conn.close()

    def publish(self, *events: Message) -> None:
        """Queues events; they are written to the outbox by commit(), in the same transaction."""
        self._events.extend(events)

    def commit(self, wrote_events: bool = False) -> None:
        """Commits; `wrote_events` says the caller put rows in the outbox itself (wakes the relay).

        The first commit of an audited call also inserts the call's audit row (crm_common.audit),
        unless the caller wrote it in its own statement (take_audit_row)."""
        self.outbox.add(self.conn, *self._events)
        record = current_record()
        if record is not None and record.written:
            record = None
        if record is not None and not self._audit_taken and not self.single_statement:
            self.conn.execute(self._audit_log.insert().values(record.row("OK", self._audit_ids)))
        self._tx.commit()
        if record is not None and (self._audit_taken or not self.single_statement):
            record.written = True
        if (self._events or wrote_events) and self.wakeup is not None:
            self.wakeup.notify()
        self._events = []

    def take_audit_row(self, *object_ids: str) -> dict[str, object] | None:
        """The call's audit row, for a writer that stores it in its own single statement, only
        when its change is stored; commit() then does not insert it. None when the call is not
        audited or its row is already written."""
        record = current_record()
        if record is None or record.written:
            return None
        self._audit_taken = True
        return record.row("OK", [*self._audit_ids, *object_ids])

    def claim_event(self, consumer: str, event_id: str) -> bool:
        """Marks an event as handled by a consumer; False when it was handled before (a redelivery)."""
        stmt = (
            upsert_insert(self.conn)(self._inbox)
            .values(consumer=consumer, event_id=event_id, processed_at=utcnow())
            .on_conflict_do_nothing()
            .returning(self._inbox.c.event_id)
        )
        # Not rowcount: SQLAlchemy reports -1 for an INSERT on psycopg.
        return self.conn.execute(stmt).first() is not None

    def previous_result(self, method: str, key: Idempotent) -> str | None:
        """The result of the caller's earlier call with this request_id, or None for a first call."""
        check_request_id(key.request_id)
        row = self.conn.execute(
            select(self._idempotency.c.request_hash, self._idempotency.c.result_ref).where(
                self._idempotency.c.method == method, self._idempotency.c.request_id == key.stored_id
            )
        ).first()
        if row is None:
            return None
        return check_same_request(row.request_hash, key.fingerprint, row.result_ref)

    def remember_result(self, method: str, key: Idempotent, result_ref: str) -> None:
        # What the call created or changed is recorded in its audit row with it.
        self._audit_ids.extend(generated_ids(result_ref))
        self.conn.execute(
            self._idempotency.insert().values(
                method=method, request_id=key.stored_id, request_hash=key.fingerprint, result_ref=result_ref, created_at=utcnow()
            )
        )


MAX_REQUEST_ID = 100


def request_id_violations(request_id: str) -> list[FieldViolation]:
    """What is wrong with a request_id, to report with the request's other violations."""
    if not request_id:
        return [FieldViolation("request_id", "required: a unique key per intended change (idempotency)")]
    if len(request_id) > MAX_REQUEST_ID:
        return [FieldViolation("request_id", f"at most {MAX_REQUEST_ID} characters")]
    return []


def check_request_id(request_id: str) -> None:
    violations = request_id_violations(request_id)
    if violations:
        raise InvalidArgument(violations)


def check_same_request(stored_hash: str, fingerprint: str, result_ref: str) -> str:
    """The earlier result, unless the request_id came back with a different request."""
    if stored_hash != fingerprint:
        raise InvalidArgument(FieldViolation("request_id", "already used for a different request"))
    return str(result_ref)


U = TypeVar("U", bound=SqlUnitOfWork)
R = TypeVar("R")


def run_idempotent(
    uow_factory: Callable[[], U],
    method: str,
    key: Idempotent,
    first_call: Callable[[U], tuple[R, str]],
    repeat_call: Callable[[U, str], R],
) -> R:
    """Runs `first_call` once per caller and request_id; a repeat (even a concurrent one) gets `repeat_call`.

    `first_call` returns (result, result_ref) and must not commit; this commits. Two concurrent
    first calls race on the idempotency key's primary key: the loser rolls back and answers
    as a repeat.
    """
    for attempt in (1, 2):
        with uow_factory() as uow:
            ref = uow.previous_result(method, key)
            if ref is not None:
                return repeat_call(uow, ref)
            try:
                result, ref = first_call(uow)
                uow.remember_result(method, key, ref)
                uow.commit()
            except WRITE_CONFLICTS:
                if attempt == 2:
                    raise
                continue
            return result
    raise AssertionError("unreachable")
