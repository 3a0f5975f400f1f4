"""OpenTelemetry tracing: one provider per process, W3C trace context across gRPC and AMQP.

Spans are always created (so trace ids reach logs and events); they are exported only when
OTEL_EXPORTER_OTLP_ENDPOINT is set.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagate import extract, inject
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

_configured = False


def configure_tracing(service_name: str, otlp_endpoint: str = "") -> None:
    global _configured
    if _configured:
        return
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
    trace.set_tracer_provider(provider)
    _configured = True


def inject_trace_context(carrier: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """Writes the current span's `traceparent` (and `tracestate`) into a carrier."""
    inject(carrier)
    return carrier


def extract_trace_context(carrier: Mapping[str, str]) -> otel_context.Context:
    return extract(carrier)
