"""The outbox relay against a real broker (a vhost of its own) on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pika
import pytest
from sqlalchemy import func, select

from crm.lead.v1 import events_pb2
from crm_common.db import COPY_FROM_ROWS, make_engine, new_metadata
from crm_common.events.envelope import new_event
from crm_common.events.outbox import OutboxWriter
from crm_common.events.publisher import BatchPublisher, PublishError
from crm_common.events.relay import OutboxRelay
from crm_common.testing import BACKENDS, empty_database, rabbitmq_vhost

metadata = new_metadata()


@pytest.fixture(scope="module")
def vhost() -> Iterator[str]:
    with rabbitmq_vhost("relay") as uri:
        yield uri


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path):  # type: ignore[no-untyped-def]
    with empty_database(request.param, tmp_path, "relay") as url:
        engine = make_engine(url, pool_size=2)
        metadata.create_all(engine)
        yield engine
        engine.dispose()


def write_events(engine, count: int) -> list[str]:  # type: ignore[no-untyped-def]
    writer = OutboxWriter(metadata)
    events = [new_event(events_pb2.LeadScored, "probe", lead_id=f"lead-{i}", score=i) for i in range(count)]
    with engine.begin() as conn:
        writer.add(conn, *events)
    return [e.metadata.event_id for e in events]


def outbox_count(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(metadata.tables["outbox"])).scalar_one())


def test_relay_moves_events_in_order_with_headers_and_empties_the_outbox(engine, vhost) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(vhost))
    channel = connection.channel()
    channel.exchange_declare("probe.events", "topic", durable=True)
    queue = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(queue, "probe.events", "LeadScored")
    ids = write_events(engine, 25)
    relay = OutboxRelay(engine, metadata, BatchPublisher(vhost, "probe"), batch_size=10)
    moved = [relay.relay_once() for _ in range(4)]
    relay.publisher.close()
    assert moved == [10, 10, 5, 0]
    assert outbox_count(engine) == 0
    received = []
    while True:
        method, props, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            break
        assert props.delivery_mode == 2 and props.content_type == "application/x-protobuf"
        assert props.headers["x-event-type"] == "crm.lead.v1.LeadScored"
        received.append(props.headers["x-event-id"])
        assert events_pb2.LeadScored.FromString(body).metadata.event_id == props.headers["x-event-id"]
    connection.close()
    assert received == ids


def test_a_broker_failure_leaves_every_event_in_the_outbox(engine) -> None:
    write_events(engine, 3)
    unreachable = BatchPublisher("amqp://guest:guest@127.0.0.1:1/%2F", "probe", confirm_timeout=2)
    relay = OutboxRelay(engine, metadata, unreachable)
    with pytest.raises(PublishError):
        relay.relay_once()
    assert outbox_count(engine) == 3


def test_a_large_batch_is_written_with_copy_and_relayed_intact(engine, vhost) -> None:
    """Past COPY_FROM_ROWS events, PostgreSQL takes the rows by COPY: same rows, same order."""
    connection = pika.BlockingConnection(pika.URLParameters(vhost))
    channel = connection.channel()
    channel.exchange_declare("probe.events", "topic", durable=True)
    queue = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(queue, "probe.events", "LeadScored")
    ids = write_events(engine, COPY_FROM_ROWS + 50)
    relay = OutboxRelay(engine, metadata, BatchPublisher(vhost, "probe"), batch_size=500)
    assert relay.relay_once() == COPY_FROM_ROWS + 50
    relay.publisher.close()
    received = []
    while (got := channel.basic_get(queue, auto_ack=True))[0] is not None:
        _method, props, body = got
        assert props.headers["x-event-type"] == "crm.lead.v1.LeadScored"
        assert events_pb2.LeadScored.FromString(body).metadata.event_id == props.headers["x-event-id"]
        received.append(props.headers["x-event-id"])
    connection.close()
    assert received == ids


def test_a_copied_batch_rolls_back_with_its_transaction(engine) -> None:
    writer = OutboxWriter(metadata)
    events = [new_event(events_pb2.LeadScored, "probe", lead_id=f"lead-{i}") for i in range(COPY_FROM_ROWS)]
    with pytest.raises(RuntimeError), engine.begin() as conn:
        writer.add(conn, *events)
        raise RuntimeError("the change failed after its events were written")
    assert outbox_count(engine) == 0


class SlowPublisher:
    """Stands in for the broker: records each batch, and calls `during` inside the first publish."""

    def __init__(self, during=None) -> None:  # type: ignore[no-untyped-def]
        self.batches: list[int] = []
        self.during = during
        self.closed = False

    def publish(self, events) -> None:  # type: ignore[no-untyped-def]
        self.batches.append(len(events))
        if self.during is not None and len(self.batches) == 1:
            self.during()

    def close(self) -> None:
        self.closed = True


def test_the_relay_process_polls_the_outbox_and_relays_what_it_finds(engine) -> None:
    """No wake-up (RELAY_IN_API=false): an idle check every poll, batches only when rows are there."""
    publisher = SlowPublisher()
    relay = OutboxRelay(engine, metadata, publisher, batch_size=10, poll_seconds=0.02, coalesce_seconds=0.0, idle_check=True, drain_on_stop=False)  # type: ignore[arg-type]
    assert relay.pending() is False
    relay.start()
    try:
        write_events(engine, 25)
        deadline = time.monotonic() + 10
        while outbox_count(engine) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert outbox_count(engine) == 0 and sum(publisher.batches) == 25
        assert relay.pending() is False
    finally:
        relay.stop()
    assert publisher.closed


def test_stopping_the_relay_process_finishes_the_batch_in_flight_and_takes_no_other(engine) -> None:
    write_events(engine, 30)
    relay: OutboxRelay

    def stop_meanwhile() -> None:
        threading.Thread(target=relay.stop).start()
        time.sleep(0.2)  # stop() is waiting for this batch

    publisher = SlowPublisher(during=stop_meanwhile)
    relay = OutboxRelay(engine, metadata, publisher, batch_size=10, poll_seconds=0.02, coalesce_seconds=0.0, idle_check=True, drain_on_stop=False)  # type: ignore[arg-type]
    relay.start()
    assert relay._thread is not None
    relay._thread.join(timeout=15)
    assert publisher.batches == [10] and publisher.closed
    assert outbox_count(engine) == 20, "the rest waits in the outbox for the next relay"


def test_stopping_the_api_relay_drains_what_is_committed(engine) -> None:
    write_events(engine, 30)
    publisher = SlowPublisher()
    relay = OutboxRelay(engine, metadata, publisher, batch_size=10, poll_seconds=60)  # type: ignore[arg-type]
    relay.stop()  # before it ever ran: the first cycle is the last, and drains
    relay.start()
    assert relay._thread is not None
    relay._thread.join(timeout=15)
    assert sum(publisher.batches) == 30 and outbox_count(engine) == 0
