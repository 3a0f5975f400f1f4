"""nameko event handlers with retries, dead letters, tracing, metrics and the caller's trace.

Use in a service's worker:

    class OrderWorker:
        name = "order"
        context = EventContext()
        handlers = ServiceHandlers(OrderSettings, bootstrap)

        @event_handler("payment", PaymentCaptured)
        def on_payment_captured(self, delivery: Delivery) -> str: ...

The handler receives a `Delivery` (the decoded protobuf event, its id, the consumer name for
the inbox). A handler that raises is retried with exponential backoff through a `.retry`
queue (per-message TTL, dead-lettered back to the main queue); after the last attempt the
message is parked unchanged in the `.dlq` queue, where `crm-<service> dlq` lists and replays it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import eventlet
from google.protobuf.message import DecodeError, Message
from kombu import Connection, Exchange, Producer, Queue
from nameko.events import EventHandler
from nameko.extensions import DependencyProvider
from opentelemetry import context as otel_context
from opentelemetry import trace

from crm_common.app import Application
from crm_common.auth import Principal, use_principal
from crm_common.events import CONTENT_TYPE, dead_letter_queue_name, retry_queue_name
from crm_common.observability import metrics
from crm_common.observability.tracing import extract_trace_context
from crm_common.settings import ServiceSettings, load_settings

log = logging.getLogger("crm.events.consumer")
_tracer = trace.get_tracer("crm.events")

ATTEMPT_HEADER = "x-crm-attempt"


@dataclass(frozen=True)
class Delivery:
    event: Any  # the decoded protobuf message
    event_id: str
    event_type: str
    consumer: str  # "<service>.<method>": the inbox key
    attempt: int
    headers: dict[str, Any]


class _Poison(Exception):
    """A message that can never succeed (undecodable); goes straight to the dead-letter queue."""


class CrmEventHandler(EventHandler):  # type: ignore[misc]
    def __init__(self, source_service: str, message_cls: type[Message], **kwargs: Any) -> None:
        super().__init__(source_service, message_cls.DESCRIPTOR.name, **kwargs)
        self.message_cls = message_cls

    @property
    def consumer_name(self) -> str:
        return f"{self.container.service_name}.{self.method_name}"

    def setup(self) -> None:
        super().setup()
        config = self.container.config
        self.max_attempts = int(config.get("CRM_EVENT_MAX_ATTEMPTS", 5))
        self.retry_base_ms = int(config.get("CRM_EVENT_RETRY_BASE_MS", 500))
        self.amqp_uri = config["AMQP_URI"]
        main = self.queue.name
        self.retry_queue = Queue(
            retry_queue_name(main),
            durable=True,
            # Expired retries go back to the main queue through the default exchange.
            queue_arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": main},
        )
        self.dead_letter_queue = Queue(dead_letter_queue_name(main), durable=True)
        with Connection(self.amqp_uri) as conn:
            channel = conn.channel()
            self.retry_queue.bind(channel).declare()
            self.dead_letter_queue.bind(channel).declare()
        self.depth_every_seconds = float(config.get("CRM_DLQ_DEPTH_SECONDS", 15))

    def start(self) -> None:
        super().start()
        self.container.spawn_managed_thread(self._watch_dead_letters, identifier=f"{self.consumer_name}.dlq-depth")

    def _watch_dead_letters(self) -> None:
        """Keeps crm_dead_letter_queue_depth current, so parked messages can raise an alert."""
        while True:
            try:
                with Connection(self.amqp_uri) as conn:
                    declared = self.dead_letter_queue.bind(conn.channel()).queue_declare(passive=True)
                metrics.dead_letter_depth.labels(self.dead_letter_queue.name).set(declared.message_count)
            except Exception:
                log.warning("could not read the depth of %s", self.dead_letter_queue.name, exc_info=True)
            eventlet.sleep(self.depth_every_seconds)

    def handle_message(self, body: Any, message: Any) -> None:
        headers = dict(message.headers or {})
        attempt = int(headers.get(ATTEMPT_HEADER, 1))
        try:
            if not isinstance(body, bytes | bytearray):
                raise _Poison(f"expected {CONTENT_TYPE} bytes, got {type(body).__name__}")
            event = self.message_cls.FromString(bytes(body))
        except (DecodeError, _Poison) as exc:
            self._park(message, headers, f"undecodable {self.event_type}: {exc}")
            self.queue_consumer.ack_message(message)
            return
        event_id = headers.get("x-event-id") or event.metadata.event_id  # type: ignore[attr-defined]
        delivery = Delivery(event, str(event_id), self.event_type, self.consumer_name, attempt, headers)
        occurred = event.metadata.occur_time  # type: ignore[attr-defined]
        if occurred.seconds:
            lag = time.time() - occurred.ToMicroseconds() / 1e6
            metrics.event_delivery_seconds.labels(self.consumer_name, self.event_type).observe(max(lag, 0.0))
        super().handle_message(delivery, message)

    def handle_message_processed(self, message: Any, result: Any = None, exc_info: Any = None) -> None:
        if exc_info is None:
            self.queue_consumer.ack_message(message)
            return
        headers = dict(message.headers or {})
        attempt = int(headers.get(ATTEMPT_HEADER, 1))
        error = f"{exc_info[0].__name__}: {exc_info[1]}"
        try:
            if attempt < self.max_attempts:
                delay_ms = self.retry_base_ms * 2 ** (attempt - 1)
                headers[ATTEMPT_HEADER] = attempt + 1
                headers["x-crm-last-error"] = error[:500]
                self._publish(self.retry_queue, message, headers, expiration_seconds=delay_ms / 1000)
                metrics.events_consumed.labels(self.consumer_name, self.event_type, "retry").inc()
                log.warning("event %s failed (attempt %d), retry in %d ms: %s", self.event_type, attempt, delay_ms, error)
            else:
                self._park(message, headers, error)
        except Exception:
            # Could not reroute it (broker trouble): give it back rather than lose it, after a
            # pause so a persistent fault cannot spin the message at full speed.
            log.exception("could not schedule a retry; requeueing in 1 s")
            eventlet.sleep(1.0)
            self.queue_consumer.requeue_message(message)
            return
        self.queue_consumer.ack_message(message)

    def _park(self, message: Any, headers: dict[str, Any], error: str) -> None:
        headers["x-crm-last-error"] = error[:500]
        headers["x-crm-dead-lettered-at"] = datetime.now(UTC).isoformat()
        headers["x-crm-original-queue"] = self.queue.name
        self._publish(self.dead_letter_queue, message, headers)
        metrics.events_consumed.labels(self.consumer_name, self.event_type, "dead_letter").inc()
        log.error("event %s parked in %s: %s", self.event_type, self.dead_letter_queue.name, error)

    def _publish(self, queue: Queue, message: Any, headers: dict[str, Any], expiration_seconds: float | None = None) -> None:
        properties: dict[str, Any] = {"delivery_mode": 2, "type": self.event_type}
        if message.properties.get("message_id"):
            properties["message_id"] = message.properties["message_id"]
        if expiration_seconds is not None:
            # kombu takes seconds and writes the AMQP TTL in milliseconds itself.
            properties["expiration"] = expiration_seconds
        with Connection(self.amqp_uri) as conn:
            producer = Producer(conn.channel(), exchange=Exchange(""))
            producer.publish(
                message.body,
                routing_key=queue.name,
                headers=headers,
                content_type=message.content_type,
                content_encoding=message.content_encoding,
                serializer=None,
                retry=True,
                **properties,
            )


event_handler = CrmEventHandler.decorator


class EventContext(DependencyProvider):  # type: ignore[misc]
    """Per event: a consumer span (child of the producer's trace), metrics, and a service identity."""

    def get_dependency(self, worker_ctx: Any) -> None:
        return None

    def worker_setup(self, worker_ctx: Any) -> None:
        delivery = worker_ctx.args[0] if worker_ctx.args else None
        if not isinstance(delivery, Delivery):
            return
        token = otel_context.attach(extract_trace_context({k: str(v) for k, v in delivery.headers.items()}))
        span = _tracer.start_span(f"{delivery.event_type} process", kind=trace.SpanKind.CONSUMER)
        span_token = otel_context.attach(trace.set_span_in_context(span))
        principal_cm = use_principal(Principal(subject=f"service:{self.container.service_name}", roles=("service",)))
        principal_cm.__enter__()
        worker_ctx.data["_crm_event"] = (token, span, span_token, principal_cm, time.perf_counter())

    def worker_result(self, worker_ctx: Any, result: Any = None, exc_info: Any = None) -> None:
        state = worker_ctx.data.get("_crm_event")
        delivery = worker_ctx.args[0] if worker_ctx.args else None
        if state is None or not isinstance(delivery, Delivery):
            return
        _token, span, _span_token, _principal_cm, started = state
        outcome = "ok" if exc_info is None else "error"
        if result == "duplicate":
            outcome = "duplicate"
        if exc_info is not None:
            span.record_exception(exc_info[1])
            span.set_status(trace.Status(trace.StatusCode.ERROR))
        metrics.events_consumed.labels(delivery.consumer, delivery.event_type, outcome).inc()
        metrics.event_handling_seconds.labels(delivery.consumer, delivery.event_type).observe(time.perf_counter() - started)

    def worker_teardown(self, worker_ctx: Any) -> None:
        state = worker_ctx.data.pop("_crm_event", None)
        if state is None:
            return
        token, span, span_token, principal_cm, _started = state
        principal_cm.__exit__(None, None, None)
        span.end()
        otel_context.detach(span_token)
        otel_context.detach(token)


class ServiceHandlers(DependencyProvider):  # type: ignore[misc]
    """Gives a worker's event handlers the service's use cases: the application its composition
    root builds (the same `bootstrap` as the API's, from the same settings), once per process,
    closed when the worker stops:

        handlers = ServiceHandlers(OrderSettings, bootstrap)  # bootstrap(settings) -> Application
    """

    def __init__(self, settings_cls: type[ServiceSettings], bootstrap: Callable[[Any], Application[Any]]) -> None:
        self.settings_cls = settings_cls
        self.bootstrap = bootstrap

    def setup(self) -> None:
        self.app = self.bootstrap(load_settings(self.settings_cls))
        self.handlers = self.app.use_cases

    def stop(self) -> None:
        self.app.close()

    def get_dependency(self, worker_ctx: Any) -> Any:
        return self.handlers
