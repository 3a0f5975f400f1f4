"""The event worker process of a service: nameko's runner, with our config and signals.

`crm-<service> worker` monkey-patches with eventlet before anything imports sockets, then
calls `run_worker`. The gRPC server never runs in this process (FACTS.md).
"""

from __future__ import annotations

import logging
import signal
from typing import Any

from crm_common.events import SERIALIZER
from crm_common.events.serialization import register_protobuf_serializer
from crm_common.settings import ServiceSettings

log = logging.getLogger("crm.worker")


def nameko_config(settings: ServiceSettings) -> dict[str, Any]:
    return {
        "AMQP_URI": settings.amqp_uri,
        "serializer": "json",
        "ACCEPT": ["json", SERIALIZER],
        # nameko uses max_workers as the consumer prefetch too.
        "max_workers": settings.event_prefetch,
        "CRM_EVENT_MAX_ATTEMPTS": settings.event_max_attempts,
        "CRM_EVENT_RETRY_BASE_MS": settings.event_retry_base_ms,
        "CRM_DLQ_DEPTH_SECONDS": settings.event_dlq_depth_seconds,
    }


def run_worker(settings: ServiceSettings, service_cls: type) -> None:
    import eventlet
    from nameko.runners import ServiceRunner

    from crm_common.observability import configure_logging, configure_tracing
    from crm_common.observability.metrics import serve_metrics

    configure_logging(f"{settings.tracing_service_name}-worker", settings.log_level)
    configure_tracing(f"{settings.tracing_service_name}-worker", settings.otel_exporter_otlp_endpoint)
    serve_metrics(settings.worker_metrics_port)
    register_protobuf_serializer()
    runner = ServiceRunner(nameko_config(settings))
    runner.add_service(service_cls)

    def on_signal(signum: int, _frame: object) -> None:
        log.info("signal received, stopping worker", extra={"fields": {"signal": signum}})
        eventlet.spawn_n(runner.stop)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    runner.start()
    log.info("event worker started", extra={"fields": {"service": settings.service_name}})
    runner.wait()
    log.info("event worker stopped")
