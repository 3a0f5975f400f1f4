"""Data-subject erasure: the leads of a person the account service erased."""

from __future__ import annotations

from crm_common.events.erasure import erasure_confirmed
from crm_lead.service_layer.common import UowFactory


class PrivacyUseCases:
    def __init__(self, uow: UowFactory) -> None:
        self.uow = uow

    def erase_person(self, consumer: str, event_id: str, erasure_id: str, account_id: str, lead_ids: list[str]) -> str:
        """Anonymises the leads of a person the account service erased, and confirms it in the
        same transaction (ErasureConfirmed through the outbox). "duplicate" for a redelivery."""
        with self.uow() as uow:
            if not uow.claim_event(consumer, event_id):
                return "duplicate"
            touched = uow.leads.anonymise_person(account_id, lead_ids)
            uow.publish(erasure_confirmed("lead", erasure_id, account_id, touched))
            uow.commit()
        return f"{touched} lead(s) anonymised"
