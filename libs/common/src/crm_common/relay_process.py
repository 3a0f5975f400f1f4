"""`crm-<service> relay`: the outbox relay, the audit sealer and the platform janitor in a process
of their own, beside the API (the chart's `relay` container in the API pod; `make up` and the
end-to-end suite run one beside each API).

In the API process these threads share its GIL with the RPCs (publishing costs ~0.11 ms of CPU
per event in pika's framing, sealing hashes every audit row), while the machine has CPU to
spare; here they use a core of their own. The API then runs with RELAY_IN_API=false: it still
writes its outbox and audit rows in its transactions (and its buffered audit rows), and starts
none of the three (docs/operations.md, "Processes of a service").

Everything it touches is a platform table (crm_common.db.new_metadata: outbox, audit_log,
idempotency_keys, inbox), the same in every service, and the service publishes on the exchange
of its registry name (`<name>.events`), so it needs nothing of the service but its settings.

Replicas may run side by side: the relay takes batches with FOR UPDATE SKIP LOCKED, and sealers
take turns (crm_common.audit.chain.seal). On SIGTERM/SIGINT it takes no new batch, finishes the
one in flight, and exits 0; what is left waits in the outbox for the next relay. A second signal
leaves at once: an unconfirmed batch rolls back into the outbox with the connection.
"""

from __future__ import annotations

import logging
import threading

from crm_common.lifecycle import Background, stop_on_signals
from crm_common.observability import configure_logging, configure_tracing
from crm_common.observability.metrics import serve_metrics
from crm_common.settings import ServiceSettings

log = logging.getLogger("crm.relay")


class RelayProcess:
    """The helpers of the relay process over the service's database, started and stopped together."""

    def __init__(self, settings: ServiceSettings, producer: str) -> None:
        from crm_common.audit.trail import AuditSealer
        from crm_common.db import new_metadata, service_engine
        from crm_common.events.relay import separate_outbox_relay
        from crm_common.retention import janitor

        self.settings = settings
        self.engine = service_engine(settings)
        metadata = new_metadata()
        self.helpers: list[Background] = [separate_outbox_relay(settings, self.engine, metadata, producer)]
        if settings.audit_enabled:
            self.helpers.append(AuditSealer(self.engine, settings.audit_seal_seconds))
        self.helpers.append(janitor(settings, self.engine, metadata))

    def start(self) -> None:
        for helper in self.helpers:
            helper.start()
        log.info(
            "relay process running: outbox relay, audit sealer, platform janitor",
            extra={"fields": {"metrics_port": self.settings.relay_metrics_port, "idle_poll_ms": self.settings.relay_idle_poll_ms}},
        )

    def stop(self) -> None:
        """Each helper finishes what it is doing (the relay its batch in flight) and stops."""
        for helper in reversed(self.helpers):
            helper.stop()
        self.engine.dispose()
        log.info("relay process stopped")


def run(settings: ServiceSettings, producer: str) -> None:
    """Entry point of `crm-<service> relay`: logs, traces, metrics, then relay until SIGTERM/SIGINT."""
    configure_logging(settings.tracing_service_name, settings.log_level)
    configure_tracing(settings.tracing_service_name, settings.otel_exporter_otlp_endpoint)
    serve_metrics(settings.relay_metrics_port)
    if settings.relay_in_api:
        # Harmless (replicas take turns), but the API's threads then still cost its GIL.
        log.warning("RELAY_IN_API is true: the API process relays and seals too; set RELAY_IN_API=false on the API")
    process = RelayProcess(settings, producer)
    hurry = threading.Event()
    done = stop_on_signals(
        "signal received: finishing the batch in flight", "second signal: leaving now, a batch in flight goes back to the outbox", hurry.set
    )
    process.start()
    done.wait()
    stopping = threading.Thread(target=process.stop, name="relay-stop", daemon=True)
    stopping.start()
    while stopping.is_alive() and not hurry.is_set():
        stopping.join(0.1)
