"""Building events: every event message has `metadata` (crm.common.v1.EventMetadata) first."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from google.protobuf.message import Message

from crm.common.v1 import common_pb2
from crm_common.auth import current_principal
from crm_common.db import new_id, utcnow
from crm_common.grpc.mapping import timestamp

M = TypeVar("M", bound=Message)


def new_event(message_cls: type[M], producer: str, correlation_id: str = "", occurred_at: datetime | None = None, **fields: object) -> M:
    metadata = common_pb2.EventMetadata(
        event_id=new_id(),
        producer=producer,
        actor=current_principal().subject,
        correlation_id=correlation_id,
        occur_time=timestamp(occurred_at or utcnow()),
    )
    return message_cls(metadata=metadata, **fields)


def event_type(message: Message) -> str:
    """The routing key: the message's short name, e.g. LeadCaptured."""
    return message.DESCRIPTOR.name
