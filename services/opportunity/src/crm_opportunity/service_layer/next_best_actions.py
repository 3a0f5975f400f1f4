"""Next best actions: one opportunity's, an RM's ranked book, the periodic sweep that lets time
move the rules, and the lead's first-contact facts (LeadContacted) that some rules read."""

from __future__ import annotations

from datetime import datetime

from crm_common.auth import current_data_scope, current_principal
from crm_common.errors import FieldViolation, InvalidArgument
from crm_opportunity.domain.next_best_action import Suggestion
from crm_opportunity.service_layer.common import ActionKeeper, UowFactory, opportunity_id_violations


class NextBestActionUseCases:
    def __init__(self, uow: UowFactory, actions: ActionKeeper) -> None:
        self.uow = uow
        self.actions = actions

    def next_best_actions(self, opportunity_id: str) -> list[Suggestion]:
        violations = opportunity_id_violations(opportunity_id)
        if violations:
            raise InvalidArgument(violations)
        with self.uow() as uow:
            opportunity = uow.opportunities.get(opportunity_id, current_data_scope())
            facts = self.actions.facts(uow, [opportunity])[opportunity_id]
        return self.actions.suggest(opportunity, facts)

    def book_actions(self, owner_id: str, limit: int) -> tuple[list[Suggestion], int]:
        """An RM's book, ranked: by priority, then bigger amounts, then sooner closes. Read from
        the suggestions kept per opportunity (recomputed with every change; the rules that
        depend on time, by the sweep every OPPORTUNITY_NBA_SWEEP_SECONDS)."""
        if not 0 <= limit <= 1000:
            raise InvalidArgument(FieldViolation("limit", "between 1 and 1000 (0: 200)"))
        owner, scope = owner_id.strip() or current_principal().subject, current_data_scope()
        with self.uow() as uow:
            # Another owner's book holds only the opportunities the caller reaches (often none).
            return uow.opportunities.book(owner, limit or 200, scope), uow.opportunities.count_open_of_owner(owner, scope)

    def refresh_all_actions(self, batch: int = 500) -> int:
        """The sweep: every open opportunity's suggestions recomputed, a batch per transaction
        (time moves idle and close-date rules without any change). Returns how many."""
        done, after = 0, ""
        while True:
            with self.uow() as uow:
                if done % (batch * 20) == 0:  # the table may have grown a lot since it was planned
                    uow.opportunities.refresh_statistics()
                found = uow.opportunities.open_batch(after, batch)
                if not found:
                    uow.commit()
                    return done
                self.actions.refresh(uow, found)
                uow.commit()
            done += len(found)
            after = found[-1].opportunity_id

    def record_first_contact(self, consumer: str, event_id: str, lead_id: str, sla_breached: bool, contacted_at: datetime) -> str:
        """LeadContacted with its first-contact facts, kept for the opportunity the lead becomes."""
        with self.uow() as uow:
            if not uow.claim_event(consumer, event_id):
                return "duplicate"
            uow.opportunities.record_first_contact(lead_id, sla_breached, contacted_at)
            self.actions.refresh(uow, uow.opportunities.with_lead(lead_id))
            uow.commit()
        return "breached" if sla_breached else "in time"
