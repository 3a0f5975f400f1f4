"""The closed loop: what became of a lead downstream, from the opportunity service's events."""

from __future__ import annotations

from crm_common.db import utcnow
from crm_lead.service_layer.common import Clock, UowFactory


class ClosedLoopUseCases:
    def __init__(self, uow: UowFactory, clock: Clock = utcnow) -> None:
        self.uow = uow
        self.clock = clock

    def on_opportunity_created(
        self, consumer: str, event_id: str, opportunity_id: str, lead_id: str, status: str, amount_minor: int | None, currency: str
    ) -> bool:
        """Remembers the opportunities a lead became. False for a redelivered event."""
        with self.uow() as uow:
            if not uow.claim_event(consumer, event_id):
                return False
            uow.leads.record_opportunity(lead_id, opportunity_id, status, amount_minor, currency, self.clock())
            uow.commit()
        return True
