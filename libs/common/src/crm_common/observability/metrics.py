"""Prometheus metrics shared by every service: RED per RPC, and the event pipeline.

Names follow the go-grpc-prometheus conventions so stock dashboards work.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

grpc_started = Counter("grpc_server_started_total", "RPCs started on the server.", ["grpc_service", "grpc_method"])
grpc_handled = Counter(
    "grpc_server_handled_total",
    "RPCs completed on the server, by status code.",
    ["grpc_service", "grpc_method", "grpc_code"],
)
grpc_handling_seconds = Histogram(
    "grpc_server_handling_seconds",
    "Time to handle an RPC on the server.",
    ["grpc_service", "grpc_method"],
    buckets=LATENCY_BUCKETS,
)

outbox_pending = Gauge("crm_outbox_pending_events", "Outbox rows not yet confirmed by the broker.")
outbox_lag_seconds = Gauge("crm_outbox_lag_seconds", "Age of the oldest outbox row not yet confirmed by the broker.")
events_published = Counter("crm_events_published_total", "Events confirmed by the broker.", ["event_type"])
relay_errors = Counter("crm_outbox_relay_errors_total", "Failed relay cycles (broker or database).")
events_consumed = Counter(
    "crm_events_consumed_total",
    "Events handled by a consumer, by outcome (ok, duplicate, retry, dead_letter).",
    ["consumer", "event_type", "outcome"],
)
event_handling_seconds = Histogram(
    "crm_event_handling_seconds",
    "Time a consumer spent on one event.",
    ["consumer", "event_type"],
    buckets=LATENCY_BUCKETS,
)
event_delivery_seconds = Histogram(
    "crm_event_delivery_seconds",
    "Time from the event's commit to the start of its handling.",
    ["consumer", "event_type"],
    buckets=LATENCY_BUCKETS,
)


dead_letter_depth = Gauge("crm_dead_letter_queue_depth", "Messages parked in a consumer's dead-letter queue.", ["queue"])
dependency_up = Gauge("crm_dependency_up", "1 while the process reaches a dependency (database), else 0.", ["dependency"])
audit_sealed = Counter("crm_audit_sealed_rows_total", "Audit log rows hash-chained by this process's sealer.")
audit_dropped = Counter("crm_audit_dropped_rows_total", "Audit log rows dropped because the database could not take them in time.")


def serve_metrics(port: int, addr: str = "0.0.0.0") -> None:
    """Exposes /metrics on its own port (a daemon thread), so scrapes never touch gRPC threads."""
    if port:
        start_http_server(port, addr=addr)
