"""The requests the account service handles, as plain data (no protobuf, no gRPC)."""

from __future__ import annotations

from dataclasses import dataclass

from crm_account.domain.model import Acquisition
from crm_account.domain.person import PersonDraft
from crm_common.unit_of_work import Idempotent


@dataclass(frozen=True)
class ResolvePersonAccount:
    key: Idempotent
    person: PersonDraft


@dataclass(frozen=True)
class SearchAccounts:
    phone: str = ""
    email: str = ""
    national_id: str = ""


@dataclass(frozen=True)
class RecordAcquisition:
    """A converted lead's attribution, from the LeadConverted event `event_id`."""

    consumer: str
    event_id: str
    account_id: str
    acquisition: Acquisition
    correlation_id: str = ""
