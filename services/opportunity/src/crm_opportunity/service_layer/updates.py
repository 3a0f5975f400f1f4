"""Updating an open opportunity's fields by mask: amount, close date, owner, team, territory, a
probability override (until the next stage move) and the next step."""

from __future__ import annotations

from typing import Any

from crm_common.auth import current_data_scope, current_principal
from crm_common.db import utcnow
from crm_common.errors import FieldViolation, InvalidArgument, PermissionDenied, echo
from crm_common.unit_of_work import request_id_violations, run_idempotent
from crm_opportunity.domain.drafting import MAX_ID, clean_money
from crm_opportunity.domain.model import Opportunity
from crm_opportunity.service import OPPORTUNITY_REASSIGN
from crm_opportunity.service_layer import commands
from crm_opportunity.service_layer.common import ActionKeeper, Clock, OpportunityEvents, UowFactory, opportunity_id_violations, stored_opportunity
from crm_opportunity.service_layer.unit_of_work import OpportunityUnitOfWork

MAX_NEXT_STEP = 300
# UpdateOpportunity's paths (the API's names) and the opportunity fields they set.
UPDATE_PATHS = {
    "amount": "amount",
    "expected_close_time": "expected_close_at",
    "owner_id": "owner_id",
    "team_id": "team_id",
    "territory_id": "territory_id",
    "probability_percent": "probability_percent",
    "next_step": "next_step",
}
# The fields that move an opportunity to another book (a manager's call, within their scope).
PLACEMENT = ("owner_id", "team_id", "territory_id")


class UpdateUseCases:
    def __init__(self, uow: UowFactory, events: OpportunityEvents, actions: ActionKeeper, clock: Clock = utcnow) -> None:
        self.uow = uow
        self.events = events
        self.actions = actions
        self.clock = clock

    def update_opportunity(self, cmd: commands.UpdateOpportunity) -> Opportunity:
        """Changes an open opportunity's fields named by the mask. Its forecast contribution moves
        with it (repository.save) and its next best actions are worked out again."""
        violations = request_id_violations(cmd.key.request_id) + opportunity_id_violations(cmd.opportunity_id)
        paths = set(cmd.update_mask)
        if not paths:
            violations.append(FieldViolation("update_mask", "required: name the fields to change"))
        for path in sorted(paths - set(UPDATE_PATHS)):
            violations.append(FieldViolation("update_mask", f"{echo(path)} cannot be changed here (only {', '.join(UPDATE_PATHS)})"))
        changes: dict[str, Any] = {}
        if "amount" in paths:
            changes["amount"] = clean_money(*(cmd.amount or (0, "")), violations)
        if "expected_close_time" in paths:
            changes["expected_close_at"] = cmd.expected_close_at
        for field in ("owner_id", "team_id", "territory_id"):
            if field in paths:
                changes[field] = getattr(cmd, field).strip()
                if len(changes[field]) > MAX_ID:
                    violations.append(FieldViolation(field, f"at most {MAX_ID} characters"))
        if "probability_percent" in paths:
            changes["probability_percent"] = cmd.probability_percent
            if not 0 <= cmd.probability_percent <= 100:
                violations.append(FieldViolation("probability_percent", "0 to 100"))
        if "next_step" in paths:
            changes["next_step"] = cmd.next_step.strip()
            if len(changes["next_step"]) > MAX_NEXT_STEP:
                violations.append(FieldViolation("next_step", f"at most {MAX_NEXT_STEP} characters"))
        if violations:
            raise InvalidArgument(violations)
        api_name = {field: path for path, field in UPDATE_PATHS.items()}

        def first(uow: OpportunityUnitOfWork) -> tuple[Opportunity, str]:
            opportunity = uow.opportunities.get(cmd.opportunity_id, current_data_scope(), for_update=True)
            changed = opportunity.amend(changes, current_principal().subject, self.clock())
            moved = sorted(set(changed) & set(PLACEMENT))
            if moved and not current_principal().can(OPPORTUNITY_REASSIGN):
                raise PermissionDenied(f"changing {', '.join(moved)} reassigns the opportunity: it needs {OPPORTUNITY_REASSIGN!r}")
            if moved and not current_data_scope().covers(opportunity.owner_id, opportunity.team_id, "", opportunity.territory_id):
                raise PermissionDenied("the opportunity would leave your data scope: reassign within your own team or territory")
            if changed:
                uow.opportunities.save(opportunity)
                self.actions.refresh(uow, [opportunity])
                uow.publish(self.events.updated(opportunity, [api_name[f] for f in changed], cmd.key.request_id))
            return opportunity, opportunity.opportunity_id

        return run_idempotent(self.uow, "UpdateOpportunity", cmd.key, first, stored_opportunity)
