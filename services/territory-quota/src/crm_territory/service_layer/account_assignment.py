"""Account assignment: the rules evaluated on each account's own change event (and by
AssignAccount), manual overrides, the append-only, effective-dated history ("why is this account
in this territory, since when, by which rule"), and an RM's departure moving their book."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from crm_common.auth import current_data_scope, current_principal
from crm_common.db import utcnow
from crm_common.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound, ValidationCollector
from crm_common.pagination import Page
from crm_common.unit_of_work import Idempotent
from crm_territory.adapters.territory_repository import AssignmentEntry
from crm_territory.domain.members import access_scope
from crm_territory.domain.realignment import Realignment, depart
from crm_territory.domain.rules import Subject
from crm_territory.service_layer.assignment_support import AssignmentEvents, Clock, Decision, ModelCache, UowFactory, decide, explain, idempotent
from crm_territory.service_layer.model_versions import write_moves
from crm_territory.service_layer.unit_of_work import TerritoryUnitOfWork


@dataclass(frozen=True)
class AssignOutcome:
    # None: the account has no assignment (no rule placed it yet).
    assignment: AssignmentEntry | None
    decision: Decision | None
    changed: bool


@dataclass(frozen=True)
class Override:
    key: Idempotent
    account_id: str
    territory_id: str
    owner_id: str
    team_id: str
    reason: str


class AccountAssignmentUseCases:
    def __init__(self, uow: UowFactory, events: AssignmentEvents, models: ModelCache, clock: Clock = utcnow) -> None:
        self.uow = uow
        self.events = events
        self.models = models
        self.clock = clock

    def assign_account(self, key: Idempotent, subject: Subject) -> AssignOutcome:
        _require_account(subject.subject_id, "account.subject_id")

        def first(uow: TerritoryUnitOfWork) -> tuple[AssignOutcome, str]:
            model = self.models.require_in_force(uow.territories)
            outcome = self._evaluate(uow, model.version, subject, key.request_id)
            return outcome, subject.subject_id

        def repeat(uow: TerritoryUnitOfWork, ref: str) -> AssignOutcome:
            return AssignOutcome(uow.territories.current_assignment(ref), None, False)

        return idempotent(self.uow, "AssignAccount", key, first, repeat)  # type: ignore[no-any-return]

    def on_account_changed(self, consumer: str, event_id: str, subject: Subject) -> str:
        """AccountCreated/AccountUpdated: keep the attributes and re-evaluate this one account."""
        with self.uow() as uow:
            if not uow.claim_event(consumer, event_id):
                return "duplicate"
            model = self.models.in_force(uow.territories)
            if model is None:
                uow.territories.save_account_subject(subject, self.clock())
                uow.commit()
                return "kept: no model in force"
            outcome = self._evaluate(uow, model.version, subject, event_id)
            uow.commit()
        if outcome.assignment is None:
            return "unassigned: no rule matched"
        return f"assigned to {outcome.assignment.territory_id}" if outcome.changed else "unchanged"

    def _evaluate(self, uow: TerritoryUnitOfWork, version: int, subject: Subject, correlation_id: str) -> AssignOutcome:
        repo = uow.territories
        now = self.clock()
        repo.lock_account(subject.subject_id)
        repo.save_account_subject(subject, now)
        model = self.models.get(repo, version)
        current = repo.current_assignment(subject.subject_id)
        if current is not None and current.override:
            decision, _ = explain(model, subject)
            return AssignOutcome(current, decision, False)
        decision, placed = decide(repo, model, subject, current.assignment if current else None)
        if placed is None or (current is not None and placed.same_place(current.assignment)):
            return AssignOutcome(current, decision, False)
        entry = repo.assign(
            AssignmentEntry(
                0, subject.subject_id, placed.territory_id, placed.owner_id, placed.team_id, placed.rule_id, model.version, "RULE",
                False, now, None, f"{decision.summary}; owner: {decision.owner_reason}"[:2000], current_principal().subject,
            )
        )  # fmt: skip
        uow.publish(self.events.account_assigned(entry, current, correlation_id))
        return AssignOutcome(entry, decision, True)

    def override(self, cmd: Override) -> AssignmentEntry:
        errors = ValidationCollector()
        for name in ("account_id", "territory_id", "owner_id", "reason"):
            if not getattr(cmd, name).strip():
                errors.add(name, "required" + (": why, kept in the history" if name == "reason" else ""))
        errors.raise_if_any()
        now = self.clock()

        def first(uow: TerritoryUnitOfWork) -> tuple[AssignmentEntry, str]:
            repo = uow.territories
            model = self.models.require_in_force(repo)
            found = ValidationCollector()
            if cmd.territory_id not in model.hierarchy:
                found.add("territory_id", f"unknown territory {cmd.territory_id!r} in model version {model.version}")
            places = [m for m in repo.members_of(cmd.owner_id)]
            if not places:
                found.add("owner_id", f"{cmd.owner_id!r} is not a member of any team")
            elif not any(m.takes_assignments for m in places):
                found.add("owner_id", f"{cmd.owner_id!r} does not take assignments (inactive, or not an RM or team lead)")
            if cmd.team_id and repo.team(cmd.team_id) is None:
                found.add("team_id", f"unknown team {cmd.team_id!r}")
            found.raise_if_any()
            repo.lock_account(cmd.account_id)
            current = repo.current_assignment(cmd.account_id)
            team_id = cmd.team_id or next((m.team_id for m in places if m.takes_assignments), "")
            entry = repo.assign(
                AssignmentEntry(
                    0, cmd.account_id, cmd.territory_id, cmd.owner_id, team_id, "", model.version, "MANUAL_OVERRIDE", True, now, None,
                    cmd.reason[:2000], current_principal().subject,
                )
            )  # fmt: skip
            uow.publish(self.events.account_assigned(entry, current, cmd.key.request_id))
            return entry, str(entry.assignment_id)

        return idempotent(self.uow, "OverrideAccountAssignment", cmd.key, first, lambda uow, ref: _entry_by_id(uow, cmd.account_id, int(ref)))  # type: ignore[no-any-return]

    def clear_override(self, key: Idempotent, account_id: str, subject: Subject | None) -> AssignOutcome:
        _require_account(account_id, "account_id")
        if subject is not None and subject.subject_id and subject.subject_id != account_id:
            raise InvalidArgument(FieldViolation("account.subject_id", "empty or the account_id"))

        def first(uow: TerritoryUnitOfWork) -> tuple[AssignOutcome, str]:
            repo = uow.territories
            model = self.models.require_in_force(repo)
            repo.lock_account(account_id)
            current = repo.current_assignment(account_id)
            if current is None or not current.override:
                raise FailedPrecondition(f"account {account_id} has no manual override to clear")
            attributes = replace(subject, subject_id=account_id) if subject is not None else repo.account_subject(account_id)
            if attributes is None:
                raise FailedPrecondition(f"no attributes known for account {account_id}: pass them in `account`")
            repo.save_account_subject(attributes, self.clock())
            decision, placed = decide(repo, model, attributes, replace(current.assignment, override=False))
            if placed is None:
                raise FailedPrecondition(f"no rule places account {account_id} ({decision.summary}); the override stays")
            now = self.clock()
            entry = repo.assign(
                AssignmentEntry(
                    0, account_id, placed.territory_id, placed.owner_id, placed.team_id, placed.rule_id, model.version, "RULE", False,
                    now, None, f"override cleared; {decision.summary}; owner: {decision.owner_reason}"[:2000], current_principal().subject,
                )
            )  # fmt: skip
            uow.publish(self.events.account_assigned(entry, current, key.request_id))
            return AssignOutcome(entry, decision, True), str(entry.assignment_id)

        def repeat(uow: TerritoryUnitOfWork, ref: str) -> AssignOutcome:
            return AssignOutcome(_entry_by_id(uow, account_id, int(ref)), None, True)

        return idempotent(self.uow, "ClearAccountOverride", key, first, repeat)  # type: ignore[no-any-return]

    def get_assignment(self, account_id: str) -> tuple[AssignmentEntry, Decision | None]:
        """The entry in force and, for a rule's, the explanation under its model version."""
        _require_account(account_id, "account_id")
        with self.uow() as uow:
            repo = uow.territories
            entry = _in_reach(repo.current_assignment(account_id), account_id)
            subject = repo.account_subject(account_id)
            if entry.override or subject is None:
                return entry, None
            decision, _ = explain(self.models.get(repo, entry.model_version), subject)
        return entry, replace(decision, owner_id=entry.owner_id, team_id=entry.team_id, owner_reason=entry.reason)

    def history(self, account_id: str, page: Page) -> tuple[list[AssignmentEntry], dict[str, int] | None]:
        _require_account(account_id, "account_id")
        with self.uow() as uow:
            _in_reach(uow.territories.current_assignment(account_id), account_id)
            rows, last = uow.territories.history(account_id, page)
        return rows, ({"id": last} if last is not None else None)

    def preview_departure(self, rm_id: str, effective_date: date | None) -> Realignment:
        _check_departure(rm_id, effective_date)
        with self.uow() as uow:
            repo = uow.territories
            model = self.models.require_in_force(repo)
            if not repo.members_of(rm_id):
                raise NotFound("member", rm_id)
            result, _ = depart(rm_id, repo.accounts(owner_id=rm_id), model.rules, repo.all_members(), repo.loads(), repo.cursors(), keep_moves=False)
        return result

    def apply_departure(self, key: Idempotent, rm_id: str, effective_date: date | None) -> Realignment:
        """Marks the RM inactive from the date and moves their book by the rules without them."""
        _check_departure(rm_id, effective_date)
        now = self.clock()

        def first(uow: TerritoryUnitOfWork) -> tuple[Realignment, str]:
            repo = uow.territories
            model = self.models.require_in_force(repo)
            if not repo.members_of(rm_id):
                raise NotFound("member", rm_id)
            cursors = repo.cursors()
            result, selector = depart(rm_id, repo.accounts(owner_id=rm_id), model.rules, repo.all_members(), repo.loads(), cursors)
            actor = current_principal().subject
            write_moves(uow, self.events, result, model.version, "RM_DEPARTURE", model.rules, now, actor, key.request_id)
            repo.save_cursors({t: c for t, c in selector.cursors.items() if cursors.get(t) != c})
            repo.deactivate(rm_id, effective_date, now)  # type: ignore[arg-type]
            scope = access_scope(rm_id, repo.members_of(rm_id), repo.all_teams(), model.hierarchy)
            uow.publish(self.events.access_scope_changed(scope, model.version, key.request_id))
            result.moves = []
            return result, rm_id

        def repeat(uow: TerritoryUnitOfWork, ref: str) -> Realignment:
            return Realignment(keep_moves=False)

        return idempotent(self.uow, "ApplyRmDeparture", key, first, repeat)  # type: ignore[no-any-return]

    # The opportunity events: which accounts have open opportunities (realignment counts).

    def on_opportunity_opened(self, consumer: str, event_id: str, opportunity_id: str, account_id: str) -> str:
        with self.uow() as uow:
            if not uow.claim_event(consumer, event_id):
                return "duplicate"
            uow.territories.open_opportunity(opportunity_id, account_id)
            uow.commit()
        return "open"

    def on_opportunity_closed(self, consumer: str, event_id: str, opportunity_id: str) -> str:
        with self.uow() as uow:
            if not uow.claim_event(consumer, event_id):
                return "duplicate"
            uow.territories.close_opportunity(opportunity_id)
            uow.commit()
        return "closed"


def _in_reach(entry: AssignmentEntry | None, account_id: str) -> AssignmentEntry:
    """The entry in force when the caller reaches the account where it is placed now (its owner,
    team or territory); NOT_FOUND otherwise, as for an account never assigned (no existence leak)."""
    if entry is None or not current_data_scope().covers(entry.owner_id, entry.team_id, "", entry.territory_id):
        raise NotFound("account assignment", account_id)
    return entry


def _require_account(account_id: str, field: str) -> None:
    if not account_id.strip():
        raise InvalidArgument(FieldViolation(field, "required"))


def _check_departure(rm_id: str, effective_date: date | None) -> None:
    errors = ValidationCollector()
    if not rm_id.strip():
        errors.add("rm_id", "required")
    if effective_date is None:
        errors.add("effective_date", "required")
    errors.raise_if_any()


def _entry_by_id(uow: TerritoryUnitOfWork, account_id: str, assignment_id: int) -> AssignmentEntry:
    rows, _ = uow.territories.history(account_id, Page(500, None))
    return next(r for r in rows if r.assignment_id == assignment_id)
