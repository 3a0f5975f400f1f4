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


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed


def to_grpc_status(error: errors.DomainError) -> grpc.Status:
    code = next((c for cls, c in _CODES.items() if isinstance(error, cls)), code_pb2.UNKNOWN)
    status = status_pb2.Status(code=code, message=error.message)
    if isinstance(error, errors.InvalidArgument):
        status.details.append(
            _pack(
                error_details_pb2.BadRequest(
                    field_violations=[error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description) for v in error.violations]
                )
            )
        )
    elif isinstance(error, errors.NotFound | errors.AlreadyExists):
        status.details.append(_pack(error_details_pb2.ResourceInfo(resource_type=error.resource_type, resource_name=error.resource_name)))
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
