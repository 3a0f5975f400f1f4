"""The one check every request passes before its servicer runs, read off its protobuf descriptor.

Domain rules (a phone's format, a required field) stay with the domain; this layer only makes
sure nothing the database or the status trailers cannot take gets that far:

- every string field, at any depth, and each element of a repeated one: no NUL and no other
  control character (C0 other than tab, line feed and carriage return; DEL; C1), and at most
  its `(crm.common.v1.max_len)` characters, or DEFAULT_MAX_LEN when the contract names none;
- every google.protobuf.Timestamp within 0001-01-01..9999-12-31 (what Python and PostgreSQL hold);
- a body that does not decode as the request type.

Violations name the field by its path from the request root, the one convention of every
service: `lead.contact.phone`, `rows[3].note`, `labels["k"]` for a map entry.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from crm.common.v1 import validation_pb2
from crm_common.errors import FieldViolation, InvalidArgument

# Any string the contract gives no tighter bound: far above any legitimate text field, far below
# what would cost memory or swell an error.
DEFAULT_MAX_LEN = 4096
# Violations reported per request; a request with more is refused all the same.
MAX_REPORTED = 10
# Tab, line feed and carriage return stay allowed: notes, messages and addresses hold line
# breaks, and they are harmless in both databases and in JSON logs.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# google.protobuf.Timestamp's documented range.
_MIN_SECONDS, _MAX_SECONDS = -62_135_596_800, 253_402_300_799
_TIMESTAMP = "google.protobuf.Timestamp"


@dataclass(frozen=True)
class _Field:
    name: str
    kind: str  # "string", "message", "timestamp", "map"
    repeated: bool
    max_len: int = DEFAULT_MAX_LEN
    # Maps only: how the key and the value are checked.
    key: _Field | None = None
    value: _Field | None = None


def _field(fd: FieldDescriptor) -> _Field | None:
    limit = fd.GetOptions().Extensions[validation_pb2.max_len] or DEFAULT_MAX_LEN
    if fd.type == FieldDescriptor.TYPE_STRING:
        return _Field(fd.name, "string", fd.is_repeated, limit)
    message_type = fd.message_type
    if fd.type != FieldDescriptor.TYPE_MESSAGE or message_type is None:
        return None
    if message_type.GetOptions().map_entry:
        key, value = (_field(message_type.fields_by_name[n]) for n in ("key", "value"))
        return _Field(fd.name, "map", True, key=key, value=value) if key or value else None
    if message_type.full_name == _TIMESTAMP:
        return _Field(fd.name, "timestamp", fd.is_repeated)
    return _Field(fd.name, "message", fd.is_repeated)


@functools.cache
def _fields(descriptor: Descriptor) -> dict[str, _Field]:
    """The fields of a message type that can hold something to check, computed once per type."""
    return {fd.name: f for fd in descriptor.fields if (f := _field(fd)) is not None}


def _check_value(rule: _Field, value: Any, path: str, found: list[FieldViolation]) -> None:
    if rule.kind == "string":
        if len(value) > rule.max_len:
            found.append(FieldViolation(path, f"at most {rule.max_len} characters"))
        elif _CONTROL.search(value):
            found.append(FieldViolation(path, "must not contain NUL or other control characters"))
    elif rule.kind == "timestamp":
        if not (_MIN_SECONDS <= value.seconds <= _MAX_SECONDS and 0 <= value.nanos < 1_000_000_000):
            found.append(FieldViolation(path, "a time between 0001-01-01 and 9999-12-31"))
    elif rule.kind == "message":
        _walk(value, f"{path}.", found)


def _walk(message: Message, prefix: str, found: list[FieldViolation]) -> None:
    rules = _fields(message.DESCRIPTOR)
    if not rules:
        return
    for fd, value in message.ListFields():
        rule = rules.get(fd.name)
        if rule is None:
            continue
        path = prefix + fd.name
        if rule.kind == "map":
            for key, item in value.items():
                entry = f"{path}[{key!r}]" if isinstance(key, str) else f"{path}[{key}]"
                if rule.key is not None:
                    _check_value(rule.key, key, entry, found)
                if rule.value is not None:
                    _check_value(rule.value, item, entry, found)
        elif rule.repeated:
            for index, item in enumerate(value):
                _check_value(rule, item, f"{path}[{index}]", found)
        else:
            _check_value(rule, value, path, found)


def violations(request: Message) -> list[FieldViolation]:
    """What is wrong with `request` at this layer (empty when nothing is)."""
    found: list[FieldViolation] = []
    _walk(request, "", found)
    return found


def check(request: Message) -> None:
    """Raises INVALID_ARGUMENT naming the first few bad fields, or returns."""
    found = violations(request)
    if found:
        more = f" (and {len(found) - MAX_REPORTED} more)" if len(found) > MAX_REPORTED else ""
        summary = "; ".join(f"{v.field}: {v.description}" for v in found[:MAX_REPORTED])
        raise InvalidArgument(found[:MAX_REPORTED], f"invalid request: {summary}{more}")


@dataclass(frozen=True)
class Undecodable:
    """Stands in for a request whose body did not decode, so the server answers INVALID_ARGUMENT
    rather than grpc's INTERNAL "Exception deserializing request!"."""

    type_name: str
    reason: str

    def error(self) -> InvalidArgument:
        return InvalidArgument(FieldViolation("", f"the body is not a valid {self.type_name}"), f"invalid request: not a valid {self.type_name}")


def safe_deserializer(deserialize: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    """Wraps a generated `Request.FromString` so a body that does not decode becomes Undecodable."""
    if deserialize is None:
        return None
    message_type = getattr(deserialize, "__self__", None)
    type_name = message_type.DESCRIPTOR.full_name if message_type is not None else "request"

    def decode(body: bytes) -> Any:
        try:
            return deserialize(body)
        except Exception as exc:  # DecodeError mostly; whatever else, a body is never grpc's INTERNAL
            return Undecodable(type_name, str(exc)[:200])

    return decode
