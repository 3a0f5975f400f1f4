"""The audit log at the gRPC edge: the interceptor that records every authenticated call, and
crm.audit.v1.AuditService, which every API process serves over its own log.

Object ids are found generically: string fields named `*_id` / `*_ids` at the top level of the
request and of the response and one message level down (repeated messages included: the leads a
list returned). Fields that are not objects, or that are personal data, are left out.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any

import grpc
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from opentelemetry import trace

from crm.audit.v1 import audit_service_pb2, audit_service_pb2_grpc
from crm_common import errors
from crm_common.audit.record import MAX_OBJECT_IDS, PURPOSE_HEADER, AuditRecord, recording
from crm_common.audit.trail import AuditQuery, AuditTrail
from crm_common.auth.roles import AUDIT_READ
from crm_common.auth.scopes import Access, Scope
from crm_common.db import utcnow
from crm_common.grpc.interceptors import PLATFORM_METHODS, Layer, call_metadata
from crm_common.grpc.mapping import page_response
from crm_common.grpc.requests import optional_time
from crm_common.pagination import parse_page

# `_id` fields that name no object: idempotency and correlation keys, and personal data
# (a national id is PII; a cookie id identifies a person online).
NOT_OBJECT_IDS = frozenset({"request_id", "correlation_id", "event_id", "national_id", "cookie_id"})
# A purpose is a short code the bank defines (kyc-review, complaint:CASE-123), never free text
# that could carry personal data.
PURPOSE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/#+-]{0,99}")


def _id_field(field: FieldDescriptor) -> bool:
    return field.type == FieldDescriptor.TYPE_STRING and field.name.endswith(("_id", "_ids")) and field.name not in NOT_OBJECT_IDS


@functools.cache
def _plan(descriptor: Descriptor, depth: int = 1) -> tuple[tuple[str, bool, tuple[Any, ...] | None], ...]:
    """Per message type, once: (field name, repeated, plan of the sub-message or None for an id)."""
    plan: list[tuple[str, bool, tuple[Any, ...] | None]] = []
    for field in descriptor.fields:
        repeated = field.is_repeated
        if _id_field(field):
            plan.append((field.name, repeated, None))
        elif depth > 0 and field.message_type is not None and not field.message_type.GetOptions().map_entry:
            sub = _plan(field.message_type, depth - 1)
            if sub:
                plan.append((field.name, repeated, sub))
    return tuple(plan)


def _walk(message: Message, plan: tuple[tuple[str, bool, tuple[Any, ...] | None], ...]) -> Iterator[str]:
    for name, repeated, sub in plan:
        if sub is None:
            if repeated:
                yield from getattr(message, name)
            else:
                value = getattr(message, name)
                if value:
                    yield value
        elif repeated:
            for item in getattr(message, name):
                yield from _walk(item, sub)
        elif message.HasField(name):
            yield from _walk(getattr(message, name), sub)


def object_ids(message: Any) -> list[str]:
    """The object ids a request or response names (see the module docstring), first ones first."""
    if not isinstance(message, Message):
        return []
    found: dict[str, None] = {}
    for value in _walk(message, _plan(message.DESCRIPTOR)):
        if value:
            found[value] = None
            if len(found) >= MAX_OBJECT_IDS:
                break
    return list(found)


def _trace_id() -> str:
    span = trace.get_current_span().get_span_context()
    return format(span.trace_id, "032x") if span.is_valid else ""


def _outcome(exc: BaseException, context: grpc.ServicerContext) -> str:
    if isinstance(exc, errors.DomainError):
        return exc.code
    code = context.code()
    return code.name if isinstance(code, grpc.StatusCode) else "INTERNAL"


def auditing(trail: AuditTrail) -> Layer:
    """Opens the call's audit record, and appends it after the call unless the call committed it
    with its change. Sits inside error mapping (it sees domain errors) and outside authentication
    (a refused call is recorded; authentication names the caller on the record)."""

    def layer(full_method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        if full_method.startswith(PLATFORM_METHODS) or handler.unary_unary is None:
            return handler
        behaviour = handler.unary_unary
        # The log's own entries name other calls' objects: a query is recorded by what it asked.
        response_ids = not full_method.startswith("/crm.audit.")

        def audited(request: Any, context: grpc.ServicerContext) -> Any:
            purpose = call_metadata(context).get(PURPOSE_HEADER, "")
            if purpose and not (isinstance(purpose, str) and PURPOSE.fullmatch(purpose)):
                raise errors.InvalidArgument(
                    errors.FieldViolation(
                        PURPOSE_HEADER, "a purpose code: up to 100 letters, digits and . _ : / # + -, starting with a letter or digit"
                    )
                )
            record = AuditRecord(trail.service, full_method, utcnow(), _trace_id(), purpose, object_ids(request))
            outcome, response = "OK", None
            with recording(record):
                try:
                    response = behaviour(request, context)
                    return response
                except Exception as exc:
                    outcome = _outcome(exc, context)
                    raise
                finally:
                    # Unauthenticated calls have no subject and are not recorded. A call that
                    # committed its row and then failed gets a second row with its outcome.
                    if record.subject and (not record.written or outcome != "OK"):
                        trail.append(record.row(outcome, object_ids(response) if response_ids else ()))

        return grpc.unary_unary_rpc_method_handler(
            audited, request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer
        )

    return layer


def _timestamp(value: Any) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


class AuditServicer(audit_service_pb2_grpc.AuditServiceServicer):
    def __init__(self, trail: AuditTrail) -> None:
        self.trail = trail

    def QueryAuditLog(
        self, request: audit_service_pb2.QueryAuditLogRequest, context: grpc.ServicerContext
    ) -> audit_service_pb2.QueryAuditLogResponse:
        page = parse_page(request.page.page_size, request.page.page_token)
        before = None
        if page.after is not None:
            before = page.after.get("id")
            if not isinstance(before, int):
                raise errors.InvalidArgument(errors.FieldViolation("page.page_token", "not a token from a previous page"))
        where = AuditQuery(request.object_id, request.subject, optional_time(request, "from_time"), optional_time(request, "to_time"))
        rows, last = self.trail.query(where, page.size, before)
        return audit_service_pb2.QueryAuditLogResponse(
            entries=[
                audit_service_pb2.AuditEntry(
                    entry_id=row.id,
                    occur_time=_timestamp(row.occurred_at),
                    subject=row.subject,
                    roles=row.roles,
                    client_id=row.client_id,
                    service=row.service,
                    rpc=row.rpc,
                    object_ids=row.object_ids,
                    outcome=row.outcome,
                    trace_id=row.trace_id,
                    purpose=row.purpose,
                    seal_seq=row.seal_seq or 0,
                )
                for row in rows
            ],
            page=page_response(None if last is None else {"id": last}),
        )


# Each AuditService method's access: a platform permission (crm_common.auth.roles), bank-wide
# (compliance looks at any customer's record of calls; the log holds ids only).
PERMISSIONS = {"QueryAuditLog": Access(AUDIT_READ, Scope.BANK)}
