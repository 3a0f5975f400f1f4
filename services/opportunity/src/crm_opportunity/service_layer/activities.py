"""Activities (calls, meetings, tasks, notes) on an opportunity or an account, and an RM's
worklist of what is open and overdue."""

from __future__ import annotations

from typing import Any

from crm_common.auth import DataScope, current_data_scope, current_principal
from crm_common.db import new_id, utcnow
from crm_common.errors import FieldViolation, InvalidArgument
from crm_common.pagination import Page
from crm_common.unit_of_work import request_id_violations, run_idempotent
from crm_opportunity.domain.activities import MAX_OUTCOME, Activity, ActivityKind, ActivityStatus, clean_activity
from crm_opportunity.domain.model import is_valid_id
from crm_opportunity.service_layer import commands
from crm_opportunity.service_layer.common import ActionKeeper, Clock, OpportunityEvents, UowFactory, opportunity_id_violations
from crm_opportunity.service_layer.unit_of_work import OpportunityUnitOfWork


class ActivityUseCases:
    def __init__(self, uow: UowFactory, events: OpportunityEvents, actions: ActionKeeper, clock: Clock = utcnow) -> None:
        self.uow = uow
        self.events = events
        self.actions = actions
        self.clock = clock

    def _after_meeting_change(self, uow: OpportunityUnitOfWork, activity: Activity) -> None:
        # "No meeting yet" may no longer hold for the opportunity's next best actions.
        if activity.kind is ActivityKind.MEETING and activity.opportunity_id:
            # Bookkeeping on the activity's opportunity, reached or not by the caller.
            self.actions.refresh(uow, [uow.opportunities.get(activity.opportunity_id, DataScope.bank_wide())])

    def create_activity(self, cmd: commands.CreateActivity) -> Activity:
        """On an opportunity (its account implied) or an account; a note is done when written."""
        kind, violations = clean_activity(cmd.draft)
        violations = request_id_violations(cmd.key.request_id) + violations
        if bool(cmd.opportunity_id) == bool(cmd.account_id):
            violations += [FieldViolation(f, "exactly one of opportunity_id and account_id") for f in ("opportunity_id", "account_id")]
        elif cmd.opportunity_id:
            violations += opportunity_id_violations(cmd.opportunity_id)
        elif not is_valid_id(cmd.account_id):
            violations.append(FieldViolation("account_id", "not a valid account id"))
        if len(cmd.owner_id) > 200:
            violations.append(FieldViolation("owner_id", "at most 200 characters"))
        if violations:
            raise InvalidArgument(violations)
        assert kind is not None

        def first(uow: OpportunityUnitOfWork) -> tuple[Activity, str]:
            account_id = uow.opportunities.get(cmd.opportunity_id, current_data_scope()).account_id if cmd.opportunity_id else cmd.account_id
            actor, now = current_principal().subject, self.clock()
            done = kind is ActivityKind.NOTE
            activity = Activity(
                activity_id=new_id(),
                kind=kind,
                account_id=account_id,
                opportunity_id=cmd.opportunity_id,
                owner_id=cmd.owner_id.strip() or actor,
                subject=cmd.draft.subject.strip(),
                notes=cmd.draft.notes,
                due_at=cmd.draft.due_at,
                status=ActivityStatus.COMPLETED if done else ActivityStatus.OPEN,
                outcome="",
                completed_at=now if done else None,
                created_at=now,
                created_by=actor,
                updated_at=now,
                updated_by=actor,
            )
            uow.activities.add(activity)
            self._after_meeting_change(uow, activity)
            return activity, activity.activity_id

        return run_idempotent(self.uow, "CreateActivity", cmd.key, first, lambda uow, ref: uow.activities.get(ref, current_data_scope()))

    def finish_activity(self, cmd: commands.FinishActivity) -> Activity:
        """Completes an open activity with its outcome (ActivityCompleted), or cancels it."""
        violations = request_id_violations(cmd.key.request_id)
        if not is_valid_id(cmd.activity_id):
            violations.append(FieldViolation("activity_id", "required" if not cmd.activity_id else "not a valid activity id"))
        if not cmd.cancel and not cmd.outcome.strip():
            violations.append(FieldViolation("outcome", "required: what happened"))
        if len(cmd.outcome) > MAX_OUTCOME:
            violations.append(FieldViolation("outcome", f"at most {MAX_OUTCOME} characters"))
        if violations:
            raise InvalidArgument(violations)
        method = "CancelActivity" if cmd.cancel else "CompleteActivity"

        def first(uow: OpportunityUnitOfWork) -> tuple[Activity, str]:
            activity = uow.activities.get(cmd.activity_id, current_data_scope(), for_update=True)
            actor, now = current_principal().subject, self.clock()
            if cmd.cancel:
                activity.cancel(actor, now)
            else:
                activity.complete(cmd.outcome.strip(), actor, now)
                uow.publish(self.events.activity_completed(activity, cmd.key.request_id))
            uow.activities.save(activity)
            self._after_meeting_change(uow, activity)
            return activity, activity.activity_id

        return run_idempotent(self.uow, method, cmd.key, first, lambda uow, ref: uow.activities.get(ref, current_data_scope()))

    def list_activities(self, opportunity_id: str, account_id: str, page: Page) -> tuple[list[Activity], dict[str, Any] | None]:
        if bool(opportunity_id) == bool(account_id):
            raise InvalidArgument([FieldViolation(f, "exactly one of opportunity_id and account_id") for f in ("opportunity_id", "account_id")])
        with self.uow() as uow:
            return uow.activities.of(opportunity_id, account_id, page, current_data_scope())

    def worklist(self, owner_id: str, limit: int) -> tuple[list[Activity], int]:
        if not 0 <= limit <= 500:
            raise InvalidArgument(FieldViolation("limit", "between 1 and 500 (0: 100)"))
        with self.uow() as uow:
            # Another owner's worklist holds only the activities the caller reaches (often none).
            owner = owner_id.strip() or current_principal().subject
            return uow.activities.worklist(owner, self.clock(), limit or 100, current_data_scope())
