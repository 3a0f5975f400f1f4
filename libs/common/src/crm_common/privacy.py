"""Data-subject rights as a contract every service holding a person's data joins by declaration.

A service declares `pii=True` in its registry entry (crm_common.registry) and then:
- serves `crm.privacy.v1.PersonalDataService` (its section of a person's export), by giving its
  composition root's bindings `crm_common.grpc.personal_data.personal_data_binding(provider)`
  with a `PersonalDataProvider`;
- consumes the account service's `ErasureRequested`, anonymises every record `PersonIdentifiers`
  matches and publishes `ErasureConfirmed` (`crm_common.events.erasure`) in the same transaction.

The account service coordinates: it names the person by every identifier it knows, calls each
participant's export, and waits for each participant's confirmation; the participants are the
registry's `pii` services (or CRM_PII_SERVICES, or ACCOUNT_ERASURE_SERVICES), so a new service
joins without a change to the account service. Light on imports: the worker loads it too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from crm.privacy.v1 import personal_data_pb2
from crm_common.auth.roles import PERSONAL_DATA_EXPORT

# The blind-index kinds (crm_common.pii.BlindIndex) every service uses for these identifiers.
NATIONAL_ID, PHONE, EMAIL = "national_id", "phone", "email"

__all__ = ["EMAIL", "NATIONAL_ID", "PERSONAL_DATA_EXPORT", "PHONE", "PersonIdentifiers", "PersonalDataProvider"]


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    """Non-empty values, first occurrence first."""
    return tuple(dict.fromkeys(v for v in values if v))


@dataclass(frozen=True)
class PersonIdentifiers:
    """Everything that names one person across the suite; blind indexes, never plaintext."""

    account_ids: tuple[str, ...] = ()
    lead_ids: tuple[str, ...] = ()
    national_id_indexes: tuple[str, ...] = ()
    phone_indexes: tuple[str, ...] = ()
    email_indexes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("account_ids", "lead_ids", "national_id_indexes", "phone_indexes", "email_indexes"):
            object.__setattr__(self, name, _unique(getattr(self, name)))

    @property
    def account_id(self) -> str:
        """The person's account (the first id); "" for none."""
        return self.account_ids[0] if self.account_ids else ""

    @property
    def merged_account_ids(self) -> tuple[str, ...]:
        return self.account_ids[1:]

    @property
    def contact_indexes(self) -> dict[str, tuple[str, ...]]:
        """Blind indexes by kind, as the services' `<kind>_bidx` columns hold them."""
        return {NATIONAL_ID: self.national_id_indexes, PHONE: self.phone_indexes, EMAIL: self.email_indexes}

    def is_empty(self) -> bool:
        return not (self.account_ids or self.lead_ids or self.national_id_indexes or self.phone_indexes or self.email_indexes)

    def to_proto(self) -> personal_data_pb2.PersonIdentifiers:
        return personal_data_pb2.PersonIdentifiers(
            account_ids=self.account_ids,
            lead_ids=self.lead_ids,
            national_id_indexes=self.national_id_indexes,
            phone_indexes=self.phone_indexes,
            email_indexes=self.email_indexes,
        )

    @classmethod
    def from_proto(cls, message: personal_data_pb2.PersonIdentifiers) -> PersonIdentifiers:
        return cls(
            tuple(message.account_ids),
            tuple(message.lead_ids),
            tuple(message.national_id_indexes),
            tuple(message.phone_indexes),
            tuple(message.email_indexes),
        )

    @classmethod
    def from_erasure_request(cls, event: Any) -> PersonIdentifiers:
        """The person an `ErasureRequested` names; an event from before `person` existed names
        the account and its converting leads only."""
        person = cls.from_proto(event.person) if event.HasField("person") else cls()
        return cls(
            (event.account_id, *person.account_ids),
            (*event.lead_ids, *person.lead_ids),
            person.national_id_indexes,
            person.phone_indexes,
            person.email_indexes,
        )


class PersonalDataProvider(Protocol):
    """A participant's part of a person's export: a JSON-serialisable object (plaintext: it is
    the person's own copy), or an empty one when it holds nothing of them."""

    def export_personal_data(self, person: PersonIdentifiers) -> dict[str, Any]: ...
