"""Domain events: transactional outbox → pika relay → RabbitMQ → nameko consumers with an inbox.

Wire format (see docs/events.md): exchange `<producer>.events` (durable topic), routing key =
event message name (`LeadCaptured`), body = protobuf bytes with content type
`application/x-protobuf`, headers `x-event-id`, `x-event-type` (full proto name) and W3C
`traceparent`/`tracestate`. Consumer queues follow nameko's naming:
`evt-<producer>-<EventName>--<consumer service>.<method>`, with `.retry` and `.dlq` beside each.
"""

CONTENT_TYPE = "application/x-protobuf"
SERIALIZER = "protobuf"


def exchange_name(producer: str) -> str:
    return f"{producer}.events"


def queue_name(producer: str, event_type: str, consumer_service: str, method: str) -> str:
    return f"evt-{producer}-{event_type}--{consumer_service}.{method}"


def retry_queue_name(queue: str) -> str:
    return f"{queue}.retry"


def dead_letter_queue_name(queue: str) -> str:
    return f"{queue}.dlq"
