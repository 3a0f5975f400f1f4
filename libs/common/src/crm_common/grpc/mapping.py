"""Domain ↔ protobuf for the common contracts (crm.common.v1) every service's messages carry:
timestamps, money, audit stamps and list pages. Enums: crm_common.grpc.enums."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from google.protobuf.timestamp_pb2 import Timestamp

from crm.common.v1 import common_pb2

# The suite's home currency: money whose currency is not given is in đồng.
HOME_CURRENCY = "VND"


class Stamped(Protocol):
    """A record that says who created and last changed it, and when."""

    @property
    def created_at(self) -> datetime | None: ...
    @property
    def created_by(self) -> str: ...
    @property
    def updated_at(self) -> datetime | None: ...
    @property
    def updated_by(self) -> str: ...


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)


def timestamp(value: datetime | None) -> Timestamp | None:
    """The Timestamp of a datetime (a naive one is UTC, as Timestamp.FromDatetime takes it); None
    (the field left unset) for None. Computed directly: FromDatetime is pure Python and was three
    times the cost, on every message of every reply and event."""
    if value is None:
        return None
    delta = value - (_NAIVE_EPOCH if value.tzinfo is None else _EPOCH)
    return Timestamp(seconds=delta.days * 86_400 + delta.seconds, nanos=delta.microseconds * 1000)


def money(amount_minor: int, currency: str = "") -> common_pb2.Money:
    """Money in integer minor units; '' currency is the home currency."""
    return common_pb2.Money(currency_code=currency or HOME_CURRENCY, amount_minor=amount_minor)


def audit_stamps(record: Stamped) -> common_pb2.AuditStamps:
    return common_pb2.AuditStamps(
        create_time=timestamp(record.created_at),
        created_by=record.created_by,
        update_time=timestamp(record.updated_at),
        updated_by=record.updated_by,
    )


def page_response(after: dict[str, Any] | None) -> common_pb2.PageResponse:
    """The reply's page: the token of the next page after the key `after` ('' on the last page)."""
    # Here, not at the top: crm_common.pagination needs SQLAlchemy, which a service without tables lacks.
    from crm_common.pagination import next_token

    return common_pb2.PageResponse(next_page_token=next_token(after))
