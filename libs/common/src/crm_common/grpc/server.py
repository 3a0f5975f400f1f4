"""The gRPC API process of a service: threaded grpcio server, health, reflection, graceful stop,
and the audit log (every call recorded; crm.audit.v1.AuditService served by every service).

On SIGTERM the server first drains (GRPC_DRAIN_SECONDS): readiness goes NOT_SERVING while calls
are still served, so whoever routes calls here (Kubernetes endpoints, a load balancer's health
checks) stops before the server refuses any; then it stops accepting and gives in-flight calls
GRPC_GRACE_SECONDS to finish.

No eventlet anywhere here: nameko runs in the separate worker process (FACTS.md).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from concurrent import futures
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from crm_common.app import Application
from crm_common.auth import Access, Scope, TokenVerifier
from crm_common.grpc.interceptors import EdgePipeline, Layer, authentication, error_mapping, observability, validation_layer
from crm_common.lifecycle import Background, stop_on_signals
from crm_common.observability import configure_logging, configure_tracing
from crm_common.observability.metrics import serve_metrics
from crm_common.settings import ServiceSettings

if TYPE_CHECKING:
    # Imported where used: the API of a service without a database loads no SQLAlchemy.
    from sqlalchemy import Engine

    from crm_common.audit.trail import AuditTrail

log = logging.getLogger("crm.server")


@dataclass
class ServiceBinding:
    """One gRPC service to expose: its servicer, how to add it, and each method's access."""

    full_name: str  # e.g. crm.lead.v1.LeadService
    servicer: Any
    add_to_server: Callable[[Any, grpc.Server], None]
    # Method name → Access(permission, data scope). Every method must be listed, with a Scope.
    permissions: Mapping[str, Access]
    method_names: list[str] = field(default_factory=list)

    @classmethod
    def for_service(
        cls, descriptor: Any, servicer: Any, add_to_server: Callable[[Any, grpc.Server], None], permissions: Mapping[str, Access]
    ) -> ServiceBinding:
        """Binds a servicer to its service descriptor (e.g. lead_service_pb2.DESCRIPTOR.services_by_name["LeadService"])."""
        return cls(descriptor.full_name, servicer, add_to_server, permissions, [m.name for m in descriptor.methods])

    def full_permissions(self) -> dict[str, Access]:
        """Full method name → Access; refuses (the server does not start) a method without an
        explicit Access and data scope."""
        missing = sorted(set(self.method_names) - set(self.permissions))
        if missing:
            raise RuntimeError(f"{self.full_name}: no permission declared for {', '.join(missing)}")
        unscoped = sorted(m for m, a in self.permissions.items() if not isinstance(a, Access) or not isinstance(a.scope, Scope))
        if unscoped:
            raise RuntimeError(f"{self.full_name}: no Access(permission, scope=...) declared for {', '.join(unscoped)}")
        return {f"/{self.full_name}/{m}": p for m, p in self.permissions.items()}


def audit_binding(trail: AuditTrail) -> ServiceBinding:
    """crm.audit.v1.AuditService over the process's audit log: every service serves it."""
    from crm.audit.v1 import audit_service_pb2, audit_service_pb2_grpc
    from crm_common.grpc import audit

    return ServiceBinding.for_service(
        audit_service_pb2.DESCRIPTOR.services_by_name["AuditService"],
        audit.AuditServicer(trail),
        audit_service_pb2_grpc.add_AuditServiceServicer_to_server,
        audit.PERMISSIONS,
    )


class GrpcServer:
    def __init__(
        self,
        settings: ServiceSettings,
        bindings: list[ServiceBinding],
        background: list[Background] | None = None,
        audit_trail: AuditTrail | None = None,
    ) -> None:
        """`audit_trail`: the service's audit log (run() and crm_common.testing give one); with it
        every call is recorded and AuditService is served, and it starts and stops with the server."""
        self.settings = settings
        self.audit = audit_trail
        self.bindings = [*bindings, audit_binding(audit_trail)] if audit_trail is not None else list(bindings)
        # The audit log starts first and stops last: it records every call the server answers.
        self.background = ([audit_trail] if audit_trail is not None else []) + list(background or [])
        permissions: dict[str, Access] = {}
        for binding in self.bindings:
            permissions.update(binding.full_permissions())
        verifier = TokenVerifier(
            settings.jwt_key,
            settings.jwt_algorithm,
            settings.jwt_issuer,
            settings.jwt_audience,
            teams_claim=settings.jwt_teams_claim,
            branches_claim=settings.jwt_branches_claim,
            territories_claim=settings.jwt_territories_claim,
        )
        audit_layer: list[Layer] = []
        if audit_trail is not None:
            from crm_common.grpc.audit import auditing

            audit_layer.append(auditing(audit_trail))
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=settings.grpc_max_workers, thread_name_prefix="grpc"),
            interceptors=[EdgePipeline([observability, error_mapping, *audit_layer, authentication(verifier, permissions), validation_layer])],
            maximum_concurrent_rpcs=settings.grpc_max_concurrent_rpcs,
            options=[
                ("grpc.so_reuseport", 0),
                ("grpc.max_receive_message_length", settings.grpc_max_message_mb * 1024 * 1024),
                ("grpc.max_send_message_length", settings.grpc_max_message_mb * 1024 * 1024),
            ],
        )
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        for binding in self.bindings:
            binding.add_to_server(binding.servicer, self.server)
        reflection.enable_server_reflection(
            [b.full_name for b in self.bindings] + [health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME],
            self.server,
        )
        self.port = self.server.add_insecure_port(f"{settings.grpc_host}:{settings.grpc_port}")
        if self.port == 0:
            raise RuntimeError(f"cannot bind gRPC port {settings.grpc_host}:{settings.grpc_port}")
        self._stopped = threading.Event()
        # Set when the drain starts, or cut short (a second signal).
        self._draining = threading.Event()
        self._hurry = threading.Event()
        # Readiness changes from the watcher and the drain must not interleave.
        self._health_lock = threading.Lock()
        self._ready: bool | None = None

    def start(self) -> None:
        for item in self.background:
            item.start()
        self.server.start()
        self.health.set("", health_pb2.HealthCheckResponse.SERVING)
        self._update_readiness()
        threading.Thread(target=self._watch_readiness, name="readiness", daemon=True).start()
        log.info("gRPC API listening", extra={"fields": {"port": self.port}})

    def _update_readiness(self) -> None:
        ready = all(getattr(item, "ready", True) for item in self.background)
        with self._health_lock:
            if ready == self._ready or self._draining.is_set() or self._stopped.is_set():
                return
            status = health_pb2.HealthCheckResponse.SERVING if ready else health_pb2.HealthCheckResponse.NOT_SERVING
            for binding in self.bindings:
                self.health.set(binding.full_name, status)
            if self._ready is not None:
                log.warning("readiness changed", extra={"fields": {"ready": ready}})
            self._ready = ready

    def _watch_readiness(self) -> None:
        while not self._stopped.wait(1.0):
            self._update_readiness()

    def drain(self, seconds: float | None = None) -> None:
        """Readiness NOT_SERVING (liveness stays SERVING: the process is not restarted), calls
        still served, for `seconds` (GRPC_DRAIN_SECONDS) or until hurry()."""
        seconds = self.settings.grpc_drain_seconds if seconds is None else seconds
        with self._health_lock:
            if self._draining.is_set() or self._stopped.is_set():
                return
            self._draining.set()
            for binding in self.bindings:
                self.health.set(binding.full_name, health_pb2.HealthCheckResponse.NOT_SERVING)
        log.info("draining: not ready, still serving", extra={"fields": {"seconds": seconds}})
        self._hurry.wait(max(seconds, 0.0))

    def hurry(self) -> None:
        """Cuts the drain short (a second SIGTERM/SIGINT)."""
        self._hurry.set()

    def shutdown(self) -> None:
        """What SIGTERM does: drain, then stop within the grace period."""
        self.drain()
        self.stop()

    def stop(self, grace: float | None = None) -> None:
        """Stop accepting, let in-flight calls finish (up to the grace period), then stop helpers."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self.health.enter_graceful_shutdown()
        self.server.stop(self.settings.grpc_grace_seconds if grace is None else grace).wait()
        for item in reversed(self.background):
            item.stop()
        log.info("gRPC API stopped")

    def wait(self) -> None:
        self.server.wait_for_termination()


def service_audit_trail(settings: ServiceSettings, engine: Engine | None) -> AuditTrail | None:
    """The audit log of a service's API process, on the service's database (None for a service
    without one, or with AUDIT_ENABLED=false, which is for measurements only)."""
    if engine is None:
        return None
    if not settings.audit_enabled:
        log.warning("AUDIT_ENABLED=false: calls are not recorded in the audit log")
        return None
    from crm_common.audit.trail import AuditTrail

    # RELAY_IN_API=false: the relay process seals; this process still writes its rows.
    return AuditTrail(engine, settings.service_name, settings.audit_flush_seconds, settings.audit_seal_seconds, sealing=settings.relay_in_api)


def run(settings: ServiceSettings, bootstrap: Callable[..., Application[Any]]) -> None:
    """Entry point of `crm-<service> api`: logs, traces, metrics, then serve until SIGTERM/SIGINT.

    `bootstrap` is the service's composition root, called with serve=True."""
    configure_logging(settings.tracing_service_name, settings.log_level)
    configure_tracing(settings.tracing_service_name, settings.otel_exporter_otlp_endpoint)
    serve_metrics(settings.metrics_port)
    app = bootstrap(settings, serve=True)
    server = GrpcServer(settings, app.bindings, app.background, service_audit_trail(settings, app.engine))
    done = stop_on_signals("signal received, draining", "second signal: ending the drain now", server.hurry)
    server.start()
    done.wait()
    server.shutdown()
    app.close()
