"""Server interceptors, outermost first: observability → error mapping → audit
(crm_common.grpc.audit, when the server keeps an audit log) → authentication → validation.

Every unary RPC of every service passes through the same ones, so each concern is written once.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

import grpc
from google.protobuf.message import Message
from opentelemetry import context as otel_context
from opentelemetry import trace

from crm_common import errors
from crm_common.audit.record import identify
from crm_common.auth import Access, TokenVerifier, use_data_scope, use_principal
from crm_common.auth.scopes import scope_for
from crm_common.grpc import call_context, validation
from crm_common.grpc.status import to_grpc_status
from crm_common.observability import metrics
from crm_common.observability.tracing import extract_trace_context

log = logging.getLogger("crm.grpc")
_tracer = trace.get_tracer("crm.grpc")

Behaviour = Callable[[Any, grpc.ServicerContext], Any]

# The database refusing a value (NUL, too long, out of range, bad encoding): through SQLAlchemy,
# or straight from psycopg on the paths that use the driver's cursor (lead capture).
_DATA_ERRORS = (("sqlalchemy.exc", "DataError"), ("psycopg", "DataError"))


def is_data_error(exc: BaseException) -> bool:
    """Whether `exc` is the database refusing a value. Looked up in sys.modules, not imported: a
    service without a database loads neither library (an error of theirs means they are loaded)."""
    for module, name in _DATA_ERRORS:
        loaded = sys.modules.get(module)
        if loaded is not None and isinstance(exc, getattr(loaded, name)):
            return True
    return False


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
                except Exception as exc:
                    if is_data_error(exc):
                        # A value the database refused that no check caught first: the caller's fault, and
                        # the unit of work rolled back, so nothing was written. No field path is known here:
                        # the property tests (tests/property) fail on this message, so a gap gets its check.
                        kind = type(getattr(exc, "orig", None) or exc).__name__
                        log.warning("database refused a value in %s: %s", full_method, kind, extra={"fields": {"method": full_method}})
                        refused = errors.InvalidArgument([], f"invalid request: a value does not fit its field ({kind})")
                        context.abort_with_status(to_grpc_status(refused))
                    if context.code() is not None:  # already aborted on purpose
                        raise
                    span_ctx = trace.get_current_span().get_span_context()
                    ref = format(span_ctx.trace_id, "032x") if span_ctx.is_valid else "-"
                    log.exception("unhandled error in %s", full_method, extra={"fields": {"method": full_method}})
                    context.abort(grpc.StatusCode.INTERNAL, f"internal error (trace {ref})")

            return mapped

        return _wrap_unary(continuation(handler_call_details), wrap)


class AuthInterceptor(grpc.ServerInterceptor):
    """Bearer JWT → Principal and its DataScope; each method's permission and data scope come
    from one map, unknown methods are refused."""

    def __init__(self, verifier: TokenVerifier, permissions: Mapping[str, Access]) -> None:
        # full method name → Access (permission None: open to any authenticated caller).
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
                access = self._permissions[full_method]
                needed = access.permission
                if needed is not None and not principal.can(needed):
                    raise errors.PermissionDenied(f"{principal.subject} lacks permission {needed!r}")
                trace.get_current_span().set_attribute("enduser.id", principal.subject)
                with use_principal(principal), use_data_scope(scope_for(principal, access)):
                    return behaviour(request, context)

            return authorised

        return _wrap_unary(continuation(handler_call_details), wrap)


class ValidationInterceptor(grpc.ServerInterceptor):
    """Every request checked by `validation` before its servicer; a body that does not decode is
    INVALID_ARGUMENT too (its deserializer is wrapped, since grpc answers a failing one INTERNAL)."""

    def intercept_service(self, continuation, handler_call_details):  # type: ignore[no-untyped-def]
        handler = continuation(handler_call_details)
        if handler_call_details.method.startswith(("/grpc.health.v1.", "/grpc.reflection.")):
            return handler
        if handler is None or handler.unary_unary is None:
            return handler
        behaviour = handler.unary_unary

        def validated(request: Any, context: grpc.ServicerContext) -> Any:
            if isinstance(request, validation.Undecodable):
                raise request.error()
            if isinstance(request, Message):  # a handler without a deserializer gets bytes
                validation.check(request)
            return behaviour(request, context)

        return grpc.unary_unary_rpc_method_handler(
            validated,
            request_deserializer=validation.safe_deserializer(handler.request_deserializer),
            response_serializer=handler.response_serializer,
        )
