"""Qualifying leads: behaviour that scores and promotes to MQL, MQL → SQL, disqualifying, and
handing a lead back to marketing (nurture)."""

from __future__ import annotations

from crm_common.auth import current_principal
from crm_common.db import utcnow
from crm_common.errors import FailedPrecondition, FieldViolation, InvalidArgument
from crm_lead.domain.model import Lead, Status
from crm_lead.domain.scoring import INTEREST_BEHAVIOURS, ScoringRules
from crm_lead.service_layer import commands
from crm_lead.service_layer.common import Clock, LeadEvents, UowFactory, idempotent, lead_for_update, rescore
from crm_lead.service_layer.unit_of_work import LeadUnitOfWork


class QualificationUseCases:
    def __init__(self, uow: UowFactory, events: LeadEvents, rules: ScoringRules, clock: Clock = utcnow) -> None:
        self.uow = uow
        self.events = events
        self.rules = rules
        self.clock = clock

    def record_behaviour(self, cmd: commands.RecordBehaviour) -> Lead:
        if not cmd.behaviour:
            raise InvalidArgument(FieldViolation("behaviour", "required"))

        def first(uow: LeadUnitOfWork) -> tuple[Lead, str]:
            lead = lead_for_update(uow, cmd.lead_id)
            if lead.status == Status.CONVERTED:
                raise FailedPrecondition(f"lead {lead.lead_id} is CONVERTED; behaviour now belongs to its account")
            now = self.clock()
            uow.leads.add_behaviour(lead.lead_id, cmd.behaviour, cmd.occurred_at or now, cmd.detail[:2000])
            rescore(uow, lead, self.rules, self.events, cmd.key.request_id)
            actor = current_principal().subject
            if cmd.behaviour in INTEREST_BEHAVIOURS and lead.promote_if_marketing_qualified(actor, now):
                uow.publish(self.events.qualified(lead, cmd.key.request_id))
            lead.updated_at, lead.updated_by = now, actor
            uow.leads.save(lead)
            return lead, lead.lead_id

        return idempotent(self.uow, "RecordBehaviour", cmd.key, first)  # type: ignore[no-any-return]

    def qualify_lead(self, cmd: commands.QualifyLead) -> Lead:
        def first(uow: LeadUnitOfWork) -> tuple[Lead, str]:
            lead = lead_for_update(uow, cmd.lead_id)
            lead.qualify(uow.leads.was_reached(lead.lead_id), cmd.note[:2000], current_principal().subject, self.clock())
            uow.leads.save(lead)
            uow.publish(self.events.qualified(lead, cmd.key.request_id))
            return lead, lead.lead_id

        return idempotent(self.uow, "QualifyLead", cmd.key, first)  # type: ignore[no-any-return]

    def disqualify_lead(self, cmd: commands.DisqualifyLead) -> Lead:
        if not cmd.reason:
            raise InvalidArgument(FieldViolation("reason", "required: why the lead is disqualified"))

        def first(uow: LeadUnitOfWork) -> tuple[Lead, str]:
            lead = lead_for_update(uow, cmd.lead_id)
            lead.disqualify(cmd.reason, cmd.note[:2000], current_principal().subject, self.clock())
            uow.leads.save(lead)
            uow.publish(self.events.disqualified(lead, cmd.key.request_id))
            return lead, lead.lead_id

        return idempotent(self.uow, "DisqualifyLead", cmd.key, first)  # type: ignore[no-any-return]

    def return_to_nurture(self, cmd: commands.ReturnToNurture) -> Lead:
        def first(uow: LeadUnitOfWork) -> tuple[Lead, str]:
            lead = lead_for_update(uow, cmd.lead_id)
            previous_status, previous_owner = str(lead.status), lead.owner_id
            lead.return_to_nurture(cmd.note[:2000], current_principal().subject, self.clock())
            uow.leads.save(lead)
            uow.publish(self.events.returned_to_nurture(lead, previous_status, previous_owner, cmd.key.request_id))
            return lead, lead.lead_id

        return idempotent(self.uow, "ReturnToNurture", cmd.key, first)  # type: ignore[no-any-return]
