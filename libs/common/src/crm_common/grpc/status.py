"""Domain errors → gRPC status with rich details (google.rpc.BadRequest, ResourceInfo)."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from crm_common import errors

_CODES = {
    errors.InvalidArgument: code_pb2.INVALID_ARGUMENT,
    errors.NotFound: code_pb2.NOT_FOUND,
    errors.AlreadyExists: code_pb2.ALREADY_EXISTS,
    errors.FailedPrecondition: code_pb2.FAILED_PRECONDITION,
    errors.PermissionDenied: code_pb2.PERMISSION_DENIED,
    errors.Unauthenticated: code_pb2.UNAUTHENTICATED,
    errors.Unavailable: code_pb2.UNAVAILABLE,
    errors.Aborted: code_pb2.ABORTED,
}


# Bounds on what one status carries in its trailers: grpc-message repeats the message
# (percent-encoded, so up to 9 bytes a character) and grpc-status-details-bin repeats it with the
# details (base64); clients refuse trailers past 8 KiB by default, and a 10,000-character echo
# once made the client see RESOURCE_EXHAUSTED. Messages should echo input through errors.echo;
# these stop any that do not.
MAX_MESSAGE = 300
MAX_DESCRIPTION = 160
MAX_NAME = 100
MAX_DETAILS_BYTES = 3072


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed


def to_grpc_status(error: errors.DomainError) -> grpc.Status:
    code = next((c for cls, c in _CODES.items() if isinstance(error, cls)), code_pb2.UNKNOWN)
    status = status_pb2.Status(code=code, message=_cut(error.message, MAX_MESSAGE))
    if isinstance(error, errors.InvalidArgument):
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=_cut(v.field, MAX_NAME), description=_cut(v.description, MAX_DESCRIPTION))
                for v in error.violations[:20]
            ]
        )
        while bad.field_violations and bad.ByteSize() + status.ByteSize() > MAX_DETAILS_BYTES:
            del bad.field_violations[-1]  # the first ones are the most useful; the message names more
        status.details.append(_pack(bad))
    elif isinstance(error, errors.NotFound | errors.AlreadyExists):
        info = error_details_pb2.ResourceInfo(resource_type=error.resource_type, resource_name=_cut(error.resource_name, MAX_NAME))
        status.details.append(_pack(info))
    return rpc_status.to_status(status)


def field_violations(exc: grpc.RpcError) -> list[tuple[str, str]]:
    """For clients and tests: the (field, description) pairs of an INVALID_ARGUMENT error."""
    status = rpc_status.from_call(exc)  # type: ignore[arg-type]
    found: list[tuple[str, str]] = []
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            found.extend((v.field, v.description) for v in bad.field_violations)
    return found


def resource_info(exc: grpc.RpcError) -> tuple[str, str] | None:
    status = rpc_status.from_call(exc)  # type: ignore[arg-type]
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.ResourceInfo.DESCRIPTOR):
            info = error_details_pb2.ResourceInfo()
            detail.Unpack(info)
            return info.resource_type, info.resource_name
    return None
