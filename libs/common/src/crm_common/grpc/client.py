"""Channels to other services that carry the current call along: identity, trace, deadline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import grpc

from crm_common.auth import current_principal
from crm_common.grpc import call_context
from crm_common.observability.tracing import inject_trace_context

DEFAULT_TIMEOUT_SECONDS = 5.0


class _CallDetails(NamedTuple):
    method: str
    timeout: float | None
    metadata: Any
    credentials: Any
    wait_for_ready: Any
    compression: Any


class PropagatingInterceptor(grpc.UnaryUnaryClientInterceptor):
    """Forwards the caller's bearer token (or the service's own), the traceparent, and the deadline left."""

    def __init__(self, fallback_token: Callable[[], str] | None = None) -> None:
        self._fallback_token = fallback_token

    def intercept_unary_unary(self, continuation, client_call_details, request):  # type: ignore[no-untyped-def]
        metadata = list(client_call_details.metadata or [])
        if not any(k == "authorization" for k, _ in metadata):
            token = current_principal().token or (self._fallback_token() if self._fallback_token else "")
            if token:
                metadata.append(("authorization", f"Bearer {token}"))
        carrier: dict[str, str] = {}
        inject_trace_context(carrier)
        metadata.extend(carrier.items())
        timeout = client_call_details.timeout or DEFAULT_TIMEOUT_SECONDS
        remaining = call_context.remaining_seconds()
        if remaining is not None:
            timeout = min(timeout, remaining)
        details = _CallDetails(
            client_call_details.method,
            timeout,
            metadata,
            client_call_details.credentials,
            getattr(client_call_details, "wait_for_ready", None),
            getattr(client_call_details, "compression", None),
        )
        return continuation(details, request)


def open_channel(target: str, fallback_token: Callable[[], str] | None = None) -> grpc.Channel:
    """An insecure channel inside the cluster (mTLS belongs to the mesh), with propagation."""
    channel = grpc.insecure_channel(
        target,
        options=[
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.enable_retries", 1),
        ],
    )
    return grpc.intercept_channel(channel, PropagatingInterceptor(fallback_token))
