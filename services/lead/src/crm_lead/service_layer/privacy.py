"""Data-subject rights, the lead service's part (crm_common.privacy): every lead of a person the
account service names, for their export and for their erasure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crm_common.auth import DataScope
from crm_common.events.erasure import erasure_confirmed
from crm_common.privacy import PersonIdentifiers
from crm_lead.domain.model import ContactAttempt, Lead
from crm_lead.service_layer.common import UowFactory


@dataclass(frozen=True)
class PersonsLead:
    """One of a person's leads with what hangs off it (an export's content)."""

    lead: Lead
    contact_attempts: list[ContactAttempt]
    # (behaviour, when, detail)
    behaviours: list[tuple[str, datetime, str]]
    opportunities: list[dict[str, Any]]


class PrivacyUseCases:
    def __init__(self, uow: UowFactory) -> None:
        self.uow = uow

    def personal_data(self, person: PersonIdentifiers) -> list[PersonsLead]:
        """Every lead of the person (converted into their accounts, named as theirs, or
        unconverted with their national id, phone or email), oldest first."""
        with self.uow() as uow:
            return [
                PersonsLead(
                    # Bank-wide: the person's leads, whoever's book they are in.
                    uow.leads.get(lead_id, DataScope.bank_wide()),
                    uow.leads.contact_attempts(lead_id),
                    uow.leads.behaviour_log(lead_id),
                    uow.leads.opportunities_of(lead_id),
                )
                for lead_id in uow.leads.lead_ids_of(person)
            ]

    def erase_person(self, consumer: str, event_id: str, erasure_id: str, person: PersonIdentifiers) -> str:
        """Anonymises every lead of a person the account service erased, and confirms it in the
        same transaction (ErasureConfirmed through the outbox). "duplicate" for a redelivery."""
        with self.uow() as uow:
            if not uow.claim_event(consumer, event_id):
                return "duplicate"
            touched = uow.leads.anonymise_person(person)
            uow.publish(erasure_confirmed("lead", erasure_id, person.account_id, touched))
            uow.commit()
        return f"{touched} lead(s) anonymised"
