"""Sales assignment: to an owner or round-robin within a team, the first-contact SLA it starts,
contact attempts against it, and the teams themselves."""

from __future__ import annotations

from datetime import timedelta

from crm_common.auth import DataScope, current_principal
from crm_common.db import new_id, utcnow
from crm_common.errors import FieldViolation, InvalidArgument
from crm_lead.domain.assignment import FirstContactSla, round_robin_pick
from crm_lead.domain.model import SALES_STATUSES, ContactAttempt, ContactOutcome, Lead
from crm_lead.service_layer import commands
from crm_lead.service_layer.common import Clock, LeadEvents, UowFactory, ensure_placed_in_scope, idempotent, lead_for_update, lead_scope
from crm_lead.service_layer.unit_of_work import LeadUnitOfWork


class AssignmentUseCases:
    def __init__(self, uow: UowFactory, events: LeadEvents, sla: FirstContactSla, clock: Clock = utcnow) -> None:
        self.uow = uow
        self.events = events
        self.sla = sla
        self.clock = clock

    def assign_lead(self, cmd: commands.AssignLead) -> Lead:
        if bool(cmd.owner_id) == bool(cmd.team_id):
            raise InvalidArgument(FieldViolation("target", "give exactly one of owner_id or team_id"))
        too_long = [FieldViolation(f, "at most 100 characters") for f in ("branch_id", "territory_id") if len(getattr(cmd, f)) > 100]
        if too_long:
            raise InvalidArgument(too_long)

        def first(uow: LeadUnitOfWork) -> tuple[Lead, str]:
            lead = lead_for_update(uow, cmd.lead_id)
            owner = cmd.owner_id
            if cmd.team_id:
                members, turn = uow.leads.take_team_turn(cmd.team_id)
                owner = round_robin_pick(cmd.team_id, members, turn)
            now = self.clock()
            lead.assign(owner, cmd.team_id, self.sla.due_at(now, lead.score), current_principal().subject, now, cmd.branch_id, cmd.territory_id)
            ensure_placed_in_scope(lead)
            uow.leads.save(lead)
            uow.publish(self.events.assigned(lead, cmd.key.request_id))
            return lead, lead.lead_id

        return idempotent(self.uow, "AssignLead", cmd.key, first)  # type: ignore[no-any-return]

    def assign_routed(self, consumer: str, event_id: str, lead_id: str, owner_id: str, team_id: str, rule_id: str, territory_id: str) -> str:
        """LeadRouted: the territory rules chose the owner; assigning starts the first-contact
        SLA. A manual assignment stands (an override); a lead not for sales yet is left alone."""
        with self.uow() as uow:
            if not uow.claim_event(consumer, event_id):
                return "duplicate"
            outcome = self._assign_routed(uow, lead_id, owner_id, team_id, rule_id, territory_id, event_id)
            uow.commit()
        return outcome

    def _assign_routed(
        self, uow: LeadUnitOfWork, lead_id: str, owner_id: str, team_id: str, rule_id: str, territory_id: str, correlation_id: str
    ) -> str:
        if not owner_id:
            return "no owner: the rules left it unassigned"
        # The event is the territory service's decision: bank-wide, like every event handler.
        lead = uow.leads.get(lead_id, DataScope.bank_wide(), for_update=True)
        if lead.status not in SALES_STATUSES:
            return f"not assigned: the lead is {lead.status}"
        if lead.assignment_source == "MANUAL" and lead.owner_id:
            return f"kept the manual assignment to {lead.owner_id}"
        if lead.owner_id == owner_id:
            return f"already with {owner_id}"
        now = self.clock()
        lead.assign(
            owner_id, team_id, self.sla.due_at(now, lead.score), current_principal().subject, now, territory_id=territory_id, routing_rule_id=rule_id
        )
        uow.leads.save(lead)
        uow.publish(self.events.assigned(lead, correlation_id))
        return f"assigned to {owner_id}"

    def record_contact_attempt(self, cmd: commands.RecordContactAttempt) -> tuple[Lead, ContactAttempt]:
        violations = []
        if not cmd.channel:
            violations.append(FieldViolation("channel", "required"))
        if not cmd.outcome:
            violations.append(FieldViolation("outcome", "required"))
        now = self.clock()
        if cmd.contacted_at and cmd.contacted_at > now + timedelta(minutes=5):
            violations.append(FieldViolation("contact_time", "must not be in the future"))
        if violations:
            raise InvalidArgument(violations)

        def first(uow: LeadUnitOfWork) -> tuple[tuple[Lead, ContactAttempt], str]:
            lead = lead_for_update(uow, cmd.lead_id)
            actor = current_principal().subject
            attempt = ContactAttempt(
                new_id(), lead.lead_id, cmd.channel, ContactOutcome(cmd.outcome), cmd.note[:2000], actor, cmd.contacted_at or now
            )
            first_contact = lead.record_contact(attempt, actor, now)
            uow.leads.add_contact_attempt(attempt)
            uow.leads.save(lead)
            uow.publish(self.events.contacted(lead, attempt, first_contact, lead.first_contact_sla_breached(now), cmd.key.request_id))
            return (lead, attempt), f"{lead.lead_id}|{attempt.attempt_id}"

        def repeat(uow: LeadUnitOfWork, ref: str) -> tuple[Lead, ContactAttempt]:
            lead_id, _, attempt_id = ref.partition("|")
            attempt = next(a for a in uow.leads.contact_attempts(lead_id) if a.attempt_id == attempt_id)
            return uow.leads.get(lead_id, lead_scope()), attempt

        return idempotent(self.uow, "RecordContactAttempt", cmd.key, first, repeat)  # type: ignore[no-any-return]

    def set_team_members(self, cmd: commands.SetTeamMembers) -> list[str]:
        violations = []
        if not cmd.team_id:
            violations.append(FieldViolation("team_id", "required"))
        members = [m.strip() for m in cmd.member_ids]
        if not members or any(not m for m in members):
            violations.append(FieldViolation("member_ids", "at least one non-empty member id"))
        if len(set(members)) != len(members):
            violations.append(FieldViolation("member_ids", "member ids must be unique"))
        if violations:
            raise InvalidArgument(violations)

        def first(uow: LeadUnitOfWork) -> tuple[list[str], str]:
            uow.leads.set_team(cmd.team_id, members, self.clock())
            return members, cmd.team_id

        return idempotent(self.uow, "SetTeamMembers", cmd.key, first, lambda uow, ref: members)  # type: ignore[no-any-return]
