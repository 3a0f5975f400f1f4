"""Small helpers every thin servicer uses to turn a request into a command."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from crm_common.auth import current_principal
from crm_common.unit_of_work import Idempotent


def fingerprint(request: Message) -> str:
    """A stable hash of the whole request: a reused request_id must come with the same request."""
    return hashlib.sha256(request.SerializeToString(deterministic=True)).hexdigest()


def idempotency_key(request: Message) -> Idempotent:
    """The key of a mutating request: its `request_id` field and a hash of the whole request,
    scoped to the calling subject (another caller's request_id is not theirs to replay)."""
    return Idempotent(request.request_id.strip(), fingerprint(request), current_principal().subject)  # type: ignore[attr-defined]


def optional_time(message: Message, field: str) -> datetime | None:
    if not message.HasField(field):
        return None
    value: Timestamp = getattr(message, field)
    return value.ToDatetime(tzinfo=UTC)
