"""One trace follows a business flow: gRPC call → outbox row → AMQP headers → consumer span,
and gRPC call → call to another service."""

from __future__ import annotations

from types import SimpleNamespace

from opentelemetry import trace

from crm.lead.v1 import events_pb2
from crm_common.db import new_metadata
from crm_common.events.consumer import Delivery, EventContext
from crm_common.events.envelope import new_event
from crm_common.events.outbox import OutboxWriter
from crm_common.grpc.client import PropagatingInterceptor
from crm_common.observability.tracing import configure_tracing

configure_tracing("crm-test")
tracer = trace.get_tracer("test")


def trace_id_of(traceparent: str) -> str:
    return traceparent.split("-")[1]


def test_the_event_written_in_a_call_carries_the_calls_trace_to_the_consumer() -> None:
    with tracer.start_as_current_span("CreateLead") as call_span:
        event = new_event(events_pb2.LeadCaptured, "lead")
        row = OutboxWriter(new_metadata()).row(event)
    call_trace = format(call_span.get_span_context().trace_id, "032x")
    assert trace_id_of(row["headers"]["traceparent"]) == call_trace

    # The worker side: nameko calls worker_setup before the handler, in the handler's thread.
    provider = EventContext()
    provider.container = SimpleNamespace(service_name="account")
    delivery = Delivery(event, event.metadata.event_id, "LeadCaptured", "account.on_x", 1, dict(row["headers"]))
    worker_ctx = SimpleNamespace(args=(delivery,), data={})
    provider.worker_setup(worker_ctx)
    try:
        consumer_span = trace.get_current_span().get_span_context()
        assert format(consumer_span.trace_id, "032x") == call_trace
        assert consumer_span.span_id != call_span.get_span_context().span_id
    finally:
        provider.worker_result(worker_ctx, result="ok")
        provider.worker_teardown(worker_ctx)
    assert not trace.get_current_span().get_span_context().is_valid


def test_calls_to_other_services_carry_the_trace() -> None:
    seen: dict[str, str] = {}

    def continuation(details, request):  # type: ignore[no-untyped-def]
        seen.update(dict(details.metadata))

    details = SimpleNamespace(method="/crm.account.v1.AccountService/GetAccount", timeout=1.0, metadata=[], credentials=None)
    with tracer.start_as_current_span("ConvertLead") as span:
        PropagatingInterceptor(lambda: "t").intercept_unary_unary(continuation, details, b"")
    assert trace_id_of(seen["traceparent"]) == format(span.get_span_context().trace_id, "032x")
