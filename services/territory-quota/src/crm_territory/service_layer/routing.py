"""Lead routing: the rules decide a lead's territory and owner, synchronously (RouteLead) or from
the lead's events (captured as an MQL, or qualified later), and LeadRouted tells the lead service
to assign it, which starts its first-contact SLA."""

from __future__ import annotations

from crm_common.db import utcnow
from crm_common.errors import FieldViolation, InvalidArgument
from crm_common.unit_of_work import Idempotent
from crm_territory.domain.rules import Subject
from crm_territory.service_layer.assignment_support import AssignmentEvents, Clock, Decision, ModelCache, UowFactory, decide, idempotent
from crm_territory.service_layer.unit_of_work import TerritoryUnitOfWork

# Lead statuses the lead service hands to sales (it assigns only these).
SALES_STATUSES = frozenset({"MQL", "CONTACTED", "SQL"})


class LeadRoutingUseCases:
    def __init__(self, uow: UowFactory, events: AssignmentEvents, models: ModelCache, clock: Clock = utcnow) -> None:
        self.uow = uow
        self.events = events
        self.models = models
        self.clock = clock

    def route_lead(self, key: Idempotent, lead: Subject) -> Decision:
        if not lead.subject_id.strip():
            raise InvalidArgument(FieldViolation("lead.subject_id", "required: the lead_id"))

        def first(uow: TerritoryUnitOfWork) -> tuple[Decision, str]:
            model = self.models.require_in_force(uow.territories)
            uow.territories.save_lead_subject(lead, self.clock())
            decision = self._route(uow, model.version, lead, "REQUESTED", key.request_id)
            return decision, lead.subject_id

        def repeat(uow: TerritoryUnitOfWork, ref: str) -> Decision:
            # The decision as it was published (the round robin moved on since).
            stored = uow.territories.lead_subject(ref)
            version = uow.territories.version_in_force()
            return Decision(
                stored.territory_id if stored else "", stored.owner_id if stored else "", "", stored.rule_id if stored else "",
                None, "repeated request: the decision already made", version.version if version else 0, [], "",
            )  # fmt: skip

        return idempotent(self.uow, "RouteLead", key, first, repeat)  # type: ignore[no-any-return]

    def on_lead_captured(self, consumer: str, event_id: str, lead: Subject, status: str) -> str:
        """Keeps what the rules read of the lead; routes it at once when it is already for sales."""
        with self.uow() as uow:
            if not uow.claim_event(consumer, event_id):
                return "duplicate"
            uow.territories.save_lead_subject(lead, self.clock())
            outcome = "kept: not for sales yet"
            if status in SALES_STATUSES:
                outcome = self._route_if_model(uow, lead, "LEAD_CAPTURED", event_id)
            uow.commit()
        return outcome

    def on_lead_scored(self, consumer: str, event_id: str, lead_id: str, score: int) -> str:
        with self.uow() as uow:
            if not uow.claim_event(consumer, event_id):
                return "duplicate"
            stored = uow.territories.lead_subject(lead_id)
            if stored is None:
                uow.commit()
                return "unknown lead"
            from dataclasses import replace

            uow.territories.save_lead_subject(replace(stored.subject, lead_score=score), self.clock(), score_only=True)
            uow.commit()
        return "score kept"

    def on_lead_qualified(self, consumer: str, event_id: str, lead_id: str, status: str) -> str:
        """A lead moved to MQL or SQL: route it unless the rules already did."""
        with self.uow() as uow:
            if not uow.claim_event(consumer, event_id):
                return "duplicate"
            stored = uow.territories.lead_subject(lead_id)
            if stored is None:
                outcome = "unknown lead (its LeadCaptured was not seen)"
            elif stored.owner_id:
                outcome = f"already routed to {stored.owner_id}"
            elif status not in SALES_STATUSES:
                outcome = "kept: not for sales"
            else:
                outcome = self._route_if_model(uow, stored.subject, "LEAD_QUALIFIED", event_id)
            uow.commit()
        return outcome

    def _route_if_model(self, uow: TerritoryUnitOfWork, lead: Subject, trigger: str, correlation_id: str) -> str:
        model = self.models.in_force(uow.territories)
        if model is None:
            return "kept: no model in force"
        decision = self._route(uow, model.version, lead, trigger, correlation_id)
        return f"routed to {decision.owner_id or 'nobody'} in {decision.territory_id or 'no territory'}"

    def _route(self, uow: TerritoryUnitOfWork, version: int, lead: Subject, trigger: str, correlation_id: str) -> Decision:
        repo = uow.territories
        decision, _ = decide(repo, self.models.get(repo, version), lead)
        repo.record_lead_route(lead.subject_id, decision.territory_id, decision.owner_id, decision.rule_id, self.clock())
        uow.publish(self.events.lead_routed(lead.subject_id, decision, trigger, correlation_id))
        return decision
