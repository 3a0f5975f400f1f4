"""Domain errors: what went wrong in business terms, mapped to gRPC status codes at the edge.

Domain and service-layer code raise these; only `crm_common.grpc.interceptors` knows gRPC.
"""

from __future__ import annotations

from dataclasses import dataclass

# How much of a caller's value an error message repeats: enough to recognise it, never enough
# to swell the status trailers (a 10,000-character value once made the client see RESOURCE_EXHAUSTED).
ECHO_CHARS = 64


def echo(value: object, limit: int = ECHO_CHARS) -> str:
    """A caller's value quoted for an error message, cut to `limit` characters plus "…"."""
    text = str(value)
    return repr(text if len(text) <= limit else text[:limit] + "…")


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class DomainError(Exception):
    """Base of every error a caller can be told about."""

    code = "UNKNOWN"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(DomainError):
    code = "INVALID_ARGUMENT"

    def __init__(self, violations: list[FieldViolation] | FieldViolation, message: str | None = None) -> None:
        self.violations = [violations] if isinstance(violations, FieldViolation) else list(violations)
        summary = "; ".join(f"{v.field}: {v.description}" for v in self.violations)
        super().__init__(message or f"invalid request: {summary}")


class NotFound(DomainError):
    code = "NOT_FOUND"

    def __init__(self, resource_type: str, resource_name: str) -> None:
        self.resource_type = resource_type
        self.resource_name = resource_name
        super().__init__(f"{resource_type} {echo(resource_name)} not found")


class AlreadyExists(DomainError):
    code = "ALREADY_EXISTS"

    def __init__(self, resource_type: str, resource_name: str, message: str) -> None:
        self.resource_type = resource_type
        self.resource_name = resource_name
        super().__init__(message)


class FailedPrecondition(DomainError):
    code = "FAILED_PRECONDITION"


class PermissionDenied(DomainError):
    code = "PERMISSION_DENIED"


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"


class Unavailable(DomainError):
    """A dependency (another service, the broker) cannot be reached; the caller may retry."""

    code = "UNAVAILABLE"


class Aborted(DomainError):
    """A concurrent change won; the caller may retry the whole request."""

    code = "ABORTED"


class ValidationCollector:
    """Collects every violation of a request before raising once, so callers see them all."""

    def __init__(self) -> None:
        self.violations: list[FieldViolation] = []

    def add(self, field: str, description: str) -> None:
        self.violations.append(FieldViolation(field, description))

    def raise_if_any(self) -> None:
        if self.violations:
            raise InvalidArgument(self.violations)
