"""Listing and replaying a consumer's dead letters (`crm-<service> dlq list|replay`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pika

from crm_common.events import dead_letter_queue_name
from crm_common.events.consumer import ATTEMPT_HEADER


@dataclass
class DeadLetter:
    queue: str
    event_id: str
    event_type: str
    attempts: int
    error: str
    dead_lettered_at: str
    replayed: int


def consumer_queues(service_cls: type) -> list[str]:
    """The main queue of every event handler a nameko service class declares."""
    from nameko.containers import get_container_cls
    from nameko.events import EventHandler

    from crm_common.events import queue_name

    queues = []
    container = get_container_cls({})(service_cls, {"AMQP_URI": "memory://"})
    for entrypoint in container.entrypoints:
        if isinstance(entrypoint, EventHandler):
            queues.append(queue_name(entrypoint.source_service, entrypoint.event_type, container.service_name, entrypoint.method_name))
    return sorted(queues)


def _declare(channel: Any, queue: str) -> int:
    return channel.queue_declare(dead_letter_queue_name(queue), durable=True).method.message_count  # type: ignore[no-any-return]


def list_dead_letters(amqp_uri: str, queues: list[str], limit: int = 100) -> list[DeadLetter]:
    """Peeks without consuming: every message read is returned to its queue."""
    found: list[DeadLetter] = []
    with pika.BlockingConnection(pika.URLParameters(amqp_uri)) as conn:
        channel = conn.channel()
        for queue in queues:
            depth = _declare(channel, queue)
            for _ in range(min(depth, limit)):
                method, props, _body = channel.basic_get(dead_letter_queue_name(queue), auto_ack=False)
                if method is None:
                    break
                headers = props.headers or {}
                found.append(
                    DeadLetter(
                        queue=queue,
                        event_id=str(headers.get("x-event-id", props.message_id or "")),
                        event_type=str(props.type or ""),
                        attempts=int(headers.get(ATTEMPT_HEADER, 1)),
                        error=str(headers.get("x-crm-last-error", "")),
                        dead_lettered_at=str(headers.get("x-crm-dead-lettered-at", "")),
                        replayed=int(headers.get("x-crm-replayed", 0)),
                    )
                )
            channel.basic_recover(requeue=True)
    return found


def replay_dead_letters(amqp_uri: str, queues: list[str], event_id: str | None = None) -> int:
    """Moves parked messages back to their consumer's queue with a fresh attempt count."""
    replayed = 0
    with pika.BlockingConnection(pika.URLParameters(amqp_uri)) as conn:
        channel = conn.channel()
        channel.confirm_delivery()
        for queue in queues:
            depth = _declare(channel, queue)
            keep: list[int] = []
            for _ in range(depth):
                method, props, body = channel.basic_get(dead_letter_queue_name(queue), auto_ack=False)
                if method is None:
                    break
                headers = dict(props.headers or {})
                if event_id and headers.get("x-event-id") != event_id:
                    keep.append(method.delivery_tag)
                    continue
                headers[ATTEMPT_HEADER] = 1
                headers["x-crm-replayed"] = int(headers.get("x-crm-replayed", 0)) + 1
                props.headers = headers
                channel.basic_publish("", queue, body, props)
                channel.basic_ack(method.delivery_tag)
                replayed += 1
            if keep:
                channel.basic_recover(requeue=True)
    return replayed
