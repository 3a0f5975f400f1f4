"""The gRPC API process of a service: threaded grpcio server, health, reflection, graceful stop.

No eventlet anywhere here: nameko runs in the separate worker process (FACTS.md).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Mapping
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from crm_common.app import Application
from crm_common.auth import Access, Scope, TokenVerifier
from crm_common.grpc.interceptors import AuthInterceptor, ErrorInterceptor, ObservabilityInterceptor, ValidationInterceptor
from crm_common.lifecycle import Background
from crm_common.observability import configure_logging, configure_tracing
from crm_common.observability.metrics import serve_metrics
from crm_common.settings import ServiceSettings

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


class GrpcServer:
    def __init__(self, settings: ServiceSettings, bindings: list[ServiceBinding], background: list[Background] | None = None) -> None:
        self.settings = settings
        self.bindings = bindings
        self.background = background or []
        permissions: dict[str, Access] = {}
        for binding in bindings:
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
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=settings.grpc_max_workers, thread_name_prefix="grpc"),
            interceptors=[ObservabilityInterceptor(), ErrorInterceptor(), AuthInterceptor(verifier, permissions), ValidationInterceptor()],
            maximum_concurrent_rpcs=settings.grpc_max_concurrent_rpcs,
            options=[
                ("grpc.so_reuseport", 0),
                ("grpc.max_receive_message_length", settings.grpc_max_message_mb * 1024 * 1024),
                ("grpc.max_send_message_length", settings.grpc_max_message_mb * 1024 * 1024),
            ],
        )
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        for binding in bindings:
            binding.add_to_server(binding.servicer, self.server)
        reflection.enable_server_reflection(
            [b.full_name for b in bindings] + [health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME],
            self.server,
        )
        self.port = self.server.add_insecure_port(f"{settings.grpc_host}:{settings.grpc_port}")
        if self.port == 0:
            raise RuntimeError(f"cannot bind gRPC port {settings.grpc_host}:{settings.grpc_port}")
        self._stopped = threading.Event()
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
        if ready != self._ready and not self._stopped.is_set():
            status = health_pb2.HealthCheckResponse.SERVING if ready else health_pb2.HealthCheckResponse.NOT_SERVING
            for binding in self.bindings:
                self.health.set(binding.full_name, status)
            if self._ready is not None:
                log.warning("readiness changed", extra={"fields": {"ready": ready}})
            self._ready = ready

    def _watch_readiness(self) -> None:
        while not self._stopped.wait(1.0):
            self._update_readiness()

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


def run(settings: ServiceSettings, bootstrap: Callable[..., Application[Any]]) -> None:
    """Entry point of `crm-<service> api`: logs, traces, metrics, then serve until SIGTERM/SIGINT.

    `bootstrap` is the service's composition root, called with serve=True."""
    configure_logging(settings.tracing_service_name, settings.log_level)
    configure_tracing(settings.tracing_service_name, settings.otel_exporter_otlp_endpoint)
    serve_metrics(settings.metrics_port)
    app = bootstrap(settings, serve=True)
    server = GrpcServer(settings, app.bindings, app.background)
    done = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("signal received, draining", extra={"fields": {"signal": signum}})
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.start()
    done.wait()
    server.stop()
    app.close()
