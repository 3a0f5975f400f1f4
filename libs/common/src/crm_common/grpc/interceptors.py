"""Server interceptors, outermost first: observability → error mapping → audit
(crm_common.grpc.audit, when the server keeps an audit log) → authentication.

Every unary RPC of every service passes through the same three, so each concern is written once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import grpc
from opentelemetry import context as otel_context
from opentelemetry import trace

from crm_common import errors
from crm_common.audit.record import identify
from crm_common.auth import TokenVerifier, use_principal
from crm_common.grpc import call_context
from crm_common.grpc.status import to_grpc_status
from crm_common.observability import metrics
from crm_common.observability.tracing import extract_trace_context

log = logging.getLogger("crm.grpc")
_tracer = trace.get_tracer("crm.grpc")

Behaviour = Callable[[Any, grpc.ServicerContext], Any]


def _wrap_unary(handler: grpc.RpcMethodHandler | None, wrap: Callable[[Behaviour], Behaviour]) -> grpc.RpcMethodHandler | None:
    if handler is None or handler.unary_unary is None:
        return handler  # streaming RPCs: none in our contracts yet
    return grpc.unary_unary_rpc_method_handler(
        wrap(handler.unary_unary),
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


def _split(full_method: str) -> tuple[str, str]:
    service, _, method = full_method.lstrip("/").partition("/")
    return service, method


class ObservabilityInterceptor(grpc.ServerInterceptor):
    """A server span (child of the caller's traceparent), RED metrics, the call's deadline, a log line on failure."""

    def intercept_service(self, continuation, handler_call_details):  # type: ignore[no-untyped-def]
        full_method = handler_call_details.method
        service, method = _split(full_method)
        metadata = dict(handler_call_details.invocation_metadata or ())

        def wrap(behaviour: Behaviour) -> Behaviour:
            def observed(request: Any, context: grpc.ServicerContext) -> Any:
                metrics.grpc_started.labels(service, method).inc()
                started = time.perf_counter()
                code = "OK"
                ctx_token = otel_context.attach(extract_trace_context(metadata))
                deadline_token = call_context.set_deadline(context.time_remaining())
                try:
                    with _tracer.start_as_current_span(
                        full_method, kind=trace.SpanKind.SERVER, attributes={"rpc.system": "grpc", "rpc.service": service, "rpc.method": method}
                    ) as span:
                        try:
                            return behaviour(request, context)
                        except Exception:
                            code_obj = context.code() if hasattr(context, "code") else None
                            code = code_obj.name if isinstance(code_obj, grpc.StatusCode) else "UNKNOWN"
                            span.set_attribute("rpc.grpc.status_code", code)
                            raise
                finally:
                    call_context.reset_deadline(deadline_token)
                    otel_context.detach(ctx_token)
                    metrics.grpc_handled.labels(service, method, code).inc()
                    metrics.grpc_handling_seconds.labels(service, method).observe(time.perf_counter() - started)

            return observed

        return _wrap_unary(continuation(handler_call_details), wrap)


class ErrorInterceptor(grpc.ServerInterceptor):
    """Domain errors become precise statuses; anything else is INTERNAL, logged, never leaked."""

    def intercept_service(self, continuation, handler_call_details):  # type: ignore[no-untyped-def]
        full_method = handler_call_details.method

        def wrap(behaviour: Behaviour) -> Behaviour:
            def mapped(request: Any, context: grpc.ServicerContext) -> Any:
                try:
                    return behaviour(request, context)
                except errors.DomainError as exc:
                    context.abort_with_status(to_grpc_status(exc))
                except Exception:
                    if context.code() is not None:  # already aborted on purpose
                        raise
                    span_ctx = trace.get_current_span().get_span_context()
                    ref = format(span_ctx.trace_id, "032x") if span_ctx.is_valid else "-"
                    log.exception("unhandled error in %s", full_method, extra={"fields": {"method": full_method}})
                    context.abort(grpc.StatusCode.INTERNAL, f"internal error (trace {ref})")

            return mapped

        return _wrap_unary(continuation(handler_call_details), wrap)


class AuthInterceptor(grpc.ServerInterceptor):
    """Bearer JWT → Principal; each method's permission comes from one map, unknown methods are refused."""

    def __init__(self, verifier: TokenVerifier, permissions: Mapping[str, str | None]) -> None:
        # full method name → permission needed; None marks a method open to any authenticated caller.
        self._verifier = verifier
        self._permissions = dict(permissions)

    def intercept_service(self, continuation, handler_call_details):  # type: ignore[no-untyped-def]
        full_method = handler_call_details.method
        if full_method.startswith(("/grpc.health.v1.", "/grpc.reflection.")):
            return continuation(handler_call_details)
        metadata = dict(handler_call_details.invocation_metadata or ())

        def wrap(behaviour: Behaviour) -> Behaviour:
            def authorised(request: Any, context: grpc.ServicerContext) -> Any:
                header = metadata.get("authorization", "")
                if not isinstance(header, str) or not header.lower().startswith("bearer "):
                    raise errors.Unauthenticated("missing bearer token in 'authorization' metadata")
                principal = self._verifier.verify(header[7:].strip())
                identify(principal)
                if full_method not in self._permissions:
                    raise errors.PermissionDenied(f"no permission is declared for {full_method}")
                needed = self._permissions[full_method]
                if needed is not None and not principal.can(needed):
                    raise errors.PermissionDenied(f"{principal.subject} lacks permission {needed!r}")
                trace.get_current_span().set_attribute("enduser.id", principal.subject)
                with use_principal(principal):
                    return behaviour(request, context)

            return authorised

        return _wrap_unary(continuation(handler_call_details), wrap)
