"""Coverage-guided fuzzing (atheris) of what every server does to a request before its servicer:
decode the body, then check it (crm_common.grpc.validation). `make fuzz` runs each target for a
bounded time; findings and figures are in docs/security.md.

Targets:
  decode   raw bytes as the body of any RPC of any service: decoding never raises, a body that does
           not decode becomes INVALID_ARGUMENT, a decoded one is checked without raising, and the
           status sent back stays within its bounds;
  strings  any text in every string field of a valid request: the check refuses it exactly when it
           holds a control character (other than tab, LF, CR) or is longer than the field's bound.

Usage: python tests/fuzz/fuzz_requests.py decode|strings [libFuzzer flags, e.g. -max_total_time=60]
"""

from __future__ import annotations

import re
import sys

import atheris

with atheris.instrument_imports(include=["crm_common"]):
    from google.protobuf.message import Message
    from google.protobuf.message_factory import GetMessageClass

    from crm.account.v1 import account_service_pb2
    from crm.common.v1 import validation_pb2
    from crm.lead.v1 import lead_service_pb2
    from crm.opportunity.v1 import opportunity_service_pb2
    from crm_common.errors import InvalidArgument
    from crm_common.grpc import validation
    from crm_common.grpc.status import MAX_DETAILS_BYTES, to_grpc_status

REQUEST_TYPES = [
    GetMessageClass(method.input_type)
    for module in (lead_service_pb2, account_service_pb2, opportunity_service_pb2)
    for service in module.DESCRIPTOR.services_by_name.values()
    for method in service.methods
]
DESERIALIZERS = [validation.safe_deserializer(cls.FromString) for cls in REQUEST_TYPES]
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _bounded(error: InvalidArgument) -> None:
    status = to_grpc_status(error)
    details = dict(status.trailing_metadata)["grpc-status-details-bin"]
    assert len(details) <= MAX_DETAILS_BYTES + 512, len(details)


def decode(data: bytes) -> None:
    if not data:
        return
    decoder = DESERIALIZERS[data[0] % len(DESERIALIZERS)]
    assert decoder is not None
    request = decoder(data[1:])
    if isinstance(request, validation.Undecodable):
        _bounded(request.error())
        return
    try:
        validation.check(request)
    except InvalidArgument as error:
        _bounded(error)


def _string_fields(message: Message) -> list[tuple[Message, object]]:
    """Every singular string field of `message` and of its set sub-messages."""
    found: list[tuple[Message, object]] = []
    for fd in message.DESCRIPTOR.fields:
        if fd.type == fd.TYPE_STRING and not fd.is_repeated:
            found.append((message, fd))
        elif fd.type == fd.TYPE_MESSAGE and not fd.is_repeated and message.HasField(fd.name):
            found.extend(_string_fields(getattr(message, fd.name)))
    return found


def strings(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    cls = REQUEST_TYPES[provider.ConsumeIntInRange(0, len(REQUEST_TYPES) - 1)]
    request = cls()
    # Touch every singular sub-message so nested strings are reachable too.
    for fd in cls.DESCRIPTOR.fields:
        if fd.type == fd.TYPE_MESSAGE and not fd.is_repeated and fd.message_type.full_name != "google.protobuf.Timestamp":
            getattr(request, fd.name).SetInParent()
    fields = _string_fields(request)
    if not fields:
        return
    holder, fd = fields[provider.ConsumeIntInRange(0, len(fields) - 1)]
    text = provider.ConsumeUnicodeNoSurrogates(provider.ConsumeIntInRange(0, 5000))
    setattr(holder, fd.name, text)  # type: ignore[attr-defined]
    bound = fd.GetOptions().Extensions[validation_pb2.max_len] or validation.DEFAULT_MAX_LEN  # type: ignore[attr-defined]
    should_refuse = len(text) > bound or CONTROL.search(text) is not None
    refused = bool(validation.violations(request))
    assert refused == should_refuse, (cls.DESCRIPTOR.full_name, fd.name, len(text), bound)  # type: ignore[attr-defined]


TARGETS = {"decode": decode, "strings": strings}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(__doc__)
    target = TARGETS[sys.argv.pop(1)]
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()
