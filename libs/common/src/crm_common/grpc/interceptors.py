"""The server's edge, outermost first: observability → error mapping → audit
(crm_common.grpc.audit, when the server keeps an audit log) → authentication → validation.

Every unary RPC of every service passes through the same layers, so each concern is written
once. A layer wraps a method's handler; `EdgePipeline`, the server's one interceptor, composes
the layers once per method and reuses the result: grpc asks its interceptors for a handler on
every call, and five interceptors built ten closures and five method handlers per call
(bench/README.md, issue 14). What differs per call (metadata, deadline) is read from the
call's context.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Mapping, Sequence
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


Behaviour = Callable[[Any, grpc.ServicerContext], Any]
# (full method name, its handler) -> the handler with one concern added; run once per method.
Layer = Callable[[str, grpc.RpcMethodHandler], grpc.RpcMethodHandler]
# Health checks and reflection: observed and error-mapped, but open to anyone and not audited.
PLATFORM_METHODS = ("/grpc.health.v1.", "/grpc.reflection.")


def call_metadata(context: grpc.ServicerContext) -> dict[str, Any]:
    return dict(context.invocation_metadata() or ())


def wrap_unary(handler: grpc.RpcMethodHandler, wrap: Callable[[Behaviour], Behaviour]) -> grpc.RpcMethodHandler:
    if handler.unary_unary is None:
        return handler  # streaming RPCs: reflection only; none in our contracts
    return grpc.unary_unary_rpc_method_handler(
        wrap(handler.unary_unary),
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


def _split(full_method: str) -> tuple[str, str]:
    service, _, method = full_method.lstrip("/").partition("/")
    return service, method


class EdgePipeline(grpc.ServerInterceptor):
    """The server's one interceptor: `layers` (outermost first) composed once per method and cached."""

    def __init__(self, layers: Sequence[Layer]) -> None:
        self._layers = tuple(reversed(layers))
        self._handlers: dict[str, grpc.RpcMethodHandler] = {}

    def intercept_service(self, continuation, handler_call_details):  # type: ignore[no-untyped-def]
        full_method = handler_call_details.method
        handler = self._handlers.get(full_method)
        if handler is not None:
            return handler
        handler = continuation(handler_call_details)
        if handler is None:
            return None  # an unknown method: grpc answers UNIMPLEMENTED (and nothing is cached for it)
        for layer in self._layers:
            handler = layer(full_method, handler)
        # Two threads may compose the same method at once; either result is the same.
        self._handlers[full_method] = handler
        return handler


def observability(full_method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """A server span (child of the caller's traceparent), RED metrics, the call's deadline, a log line on failure."""
    service, method = _split(full_method)
    # Label children resolved once per method, not on every call.
    started_total = metrics.grpc_started.labels(service, method)
    handled_ok = metrics.grpc_handled.labels(service, method, "OK")
    handling_seconds = metrics.grpc_handling_seconds.labels(service, method)
    attributes = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": method}

    def wrap(behaviour: Behaviour) -> Behaviour:
        def observed(request: Any, context: grpc.ServicerContext) -> Any:
            started_total.inc()
            started = time.perf_counter()
            code = "OK"
            ctx_token = otel_context.attach(extract_trace_context(call_metadata(context)))
            deadline_token = call_context.set_deadline(context.time_remaining())
            try:
                with _tracer.start_as_current_span(full_method, kind=trace.SpanKind.SERVER, attributes=attributes) as span:
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
                (handled_ok if code == "OK" else metrics.grpc_handled.labels(service, method, code)).inc()
                handling_seconds.observe(time.perf_counter() - started)

        return observed

    return wrap_unary(handler, wrap)


def error_mapping(full_method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """Domain errors become precise statuses; anything else is INTERNAL, logged, never leaked."""

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

    return wrap_unary(handler, wrap)


def authentication(verifier: TokenVerifier, permissions: Mapping[str, Access]) -> Layer:
    """Bearer JWT → Principal and its DataScope; each method's permission and data scope come
    from one map (full method name → Access; permission None: open to any authenticated caller),
    unknown methods are refused."""

    def layer(full_method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        if full_method.startswith(PLATFORM_METHODS):
            return handler
        access = permissions.get(full_method)

        def wrap(behaviour: Behaviour) -> Behaviour:
            def authorised(request: Any, context: grpc.ServicerContext) -> Any:
                header = call_metadata(context).get("authorization", "")
                if not isinstance(header, str) or not header.lower().startswith("bearer "):
                    raise errors.Unauthenticated("missing bearer token in 'authorization' metadata")
                principal = verifier.verify(header[7:].strip())
                identify(principal)
                if access is None:
                    raise errors.PermissionDenied(f"no permission is declared for {full_method}")
                needed = access.permission
                if needed is not None and not principal.can(needed):
                    raise errors.PermissionDenied(f"{principal.subject} lacks permission {needed!r}")
                trace.get_current_span().set_attribute("enduser.id", principal.subject)
                with use_principal(principal), use_data_scope(scope_for(principal, access)):
                    return behaviour(request, context)

            return authorised

        return wrap_unary(handler, wrap)

    return layer


def validation_layer(full_method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """Every request checked by `validation` before its servicer; a body that does not decode is
    INVALID_ARGUMENT too (its deserializer is wrapped, since grpc answers a failing one INTERNAL)."""
    if full_method.startswith(PLATFORM_METHODS) or handler.unary_unary is None:
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
