"""The transactional outbox: an event is a row written in the same transaction as the change."""

from __future__ import annotations

from collections.abc import Callable

from google.protobuf.message import Message
from sqlalchemy import Connection, MetaData

from crm_common.db import bulk_insert, utcnow
from crm_common.events.envelope import event_type
from crm_common.observability.tracing import inject_trace_context


class OutboxWriter:
    def __init__(self, metadata: MetaData) -> None:
        self.table = metadata.tables["outbox"]

    def row(self, event: Message) -> dict[str, object]:
        meta = event.metadata  # type: ignore[attr-defined]
        headers: dict[str, str] = {"x-event-type": event.DESCRIPTOR.full_name}
        inject_trace_context(headers)
        return {
            "event_id": meta.event_id,
            "event_type": event_type(event),
            "payload": event.SerializeToString(),
            "headers": headers,
            "created_at": utcnow(),
        }

    def add(self, conn: Connection, *events: Message) -> None:
        bulk_insert(conn, self.table, [self.row(e) for e in events])


class RelayWakeup:
    """Lets a committed transaction wake the relay at once instead of waiting for its poll."""

    def __init__(self) -> None:
        self.listeners: list[Callable[[], None]] = []

    def notify(self) -> None:
        for listener in self.listeners:
            listener()
