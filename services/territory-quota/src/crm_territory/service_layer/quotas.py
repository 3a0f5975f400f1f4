"""Quota plans: seeded from last year's actuals for the same scopes × growth, allocated top-down,
adjusted by hand (differences shown), submitted by a maker and approved or rejected by a checker
who is not the maker, revised into a new version once approved.

The scopes a plan covers (a territory, its descendants, their teams and RMs) come from what this
half knows: the accounts' current territories, teams and RMs (AccountTerritoryAssigned) and the
scopes credited last year (the attainment ledger). `scope_tree` builds the tree from them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from crm_common.auth import current_principal
from crm_common.db import new_id
from crm_common.errors import AlreadyExists, FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from crm_common.pagination import Page
from crm_common.unit_of_work import Idempotent, request_id_violations, run_idempotent
from crm_territory.adapters.quota_repository import StoredPlan
from crm_territory.domain.attainment import months_of
from crm_territory.domain.quotas import BASIS_POINTS, Measure, MovePolicy, Period, PlanStatus, QuotaPlan, Scope, ScopeKind, seed_plan
from crm_territory.service_layer.unit_of_work import TerritoryUnitOfWork

UowFactory = Callable[[], TerritoryUnitOfWork]
Clock = Callable[[], datetime]
MAX_NOTE = 500
MAX_ID = 200


class QuotaEvents(Protocol):
    """Builds the quota half's events (protobuf messages)."""

    def plan_submitted(self, stored: StoredPlan, correlation_id: str) -> Any: ...
    def plan_approved(self, stored: StoredPlan, correlation_id: str) -> Any: ...
    def plan_rejected(self, stored: StoredPlan, correlation_id: str) -> Any: ...


@dataclass(frozen=True)
class SeedPlan:
    key: Idempotent
    period: Period
    measure: Measure | None
    root_territory_id: str
    growth_bp: int
    move_policy: MovePolicy | None


@dataclass(frozen=True)
class AllocatePlan:
    key: Idempotent
    plan_id: str
    parent: Scope | None
    total: int | None
    # Empty: by last year's actuals.
    weights: Mapping[str, int]
    # How total was given: "count" or "money" ("" when it was not).
    unit: str = ""


@dataclass(frozen=True)
class AdjustLine:
    key: Idempotent
    plan_id: str
    scope: Scope | None
    target: int
    note: str
    unit: str = ""


def ancestors(territory_id: str) -> list[str]:
    """A territory's id and its ancestors' (materialized paths), nearest first."""
    parts = territory_id.split(".")
    return [".".join(parts[:n]) for n in range(len(parts), 0, -1)]


def scope_tree(root: str, roster: Iterable[tuple[str, str, str]], credited: Iterable[tuple[Scope, str]]) -> list[tuple[Scope, Scope | None]]:
    """(scope, parent) over a root territory, parents first: its descendant territories (every
    path step between), the teams in them and their RMs (under their team, or their territory
    when they have none). `roster` is (territory, team, RM) of the accounts' owners; `credited`
    the scopes last year's credits went to with their territory."""
    territories = {root}
    teams: dict[str, str] = {}
    rms: dict[str, tuple[str, str]] = {}
    for territory, team, rm in sorted(roster):
        territories.update(t for t in ancestors(territory) if t == root or t.startswith(root + "."))
        if team:
            teams.setdefault(team, territory)
        if rm:
            rms.setdefault(rm, (territory, team))
    for scope, territory in sorted(credited):
        territories.update(t for t in ancestors(territory) if t == root or t.startswith(root + "."))
        if scope.kind is ScopeKind.TERRITORY:
            territories.update(t for t in ancestors(scope.id) if t == root or t.startswith(root + "."))
        elif scope.kind is ScopeKind.TEAM:
            teams.setdefault(scope.id, territory)
        else:
            rms.setdefault(scope.id, (territory, ""))
    tree: list[tuple[Scope, Scope | None]] = [(Scope(ScopeKind.TERRITORY, root), None)]
    for territory in sorted(territories - {root}, key=lambda t: (t.count("."), t)):
        tree.append((Scope(ScopeKind.TERRITORY, territory), Scope(ScopeKind.TERRITORY, territory.rsplit(".", 1)[0])))
    for team, territory in sorted(teams.items()):
        tree.append((Scope(ScopeKind.TEAM, team), Scope(ScopeKind.TERRITORY, territory)))
    for rm, (territory, team) in sorted(rms.items()):
        parent = Scope(ScopeKind.TEAM, team) if team in teams else Scope(ScopeKind.TERRITORY, territory)
        tree.append((Scope(ScopeKind.RM, rm), parent))
    return tree


def plan_ref(plan: QuotaPlan) -> str:
    return f"{plan.plan_id}:{plan.version}"


def _stored_by_ref(uow: TerritoryUnitOfWork, ref: str) -> StoredPlan:
    plan_id, _, version = ref.rpartition(":")
    return uow.quotas.get(plan_id, int(version))


def _plan_id_violations(plan_id: str) -> list[FieldViolation]:
    if not plan_id.strip():
        return [FieldViolation("plan_id", "required")]
    if len(plan_id) > 36:
        return [FieldViolation("plan_id", "not a plan id")]
    return []


def _check_unit(plan: QuotaPlan, unit: str, field: str) -> None:
    """A count for NEW_CARDS, money for the other measures."""
    if unit and (unit == "count") != plan.measure.is_count:
        wanted = "count" if plan.measure.is_count else "money"
        raise InvalidArgument(FieldViolation(f"{field}.{unit}", f"plan {plan.plan_id} counts {plan.measure}: give {field}.{wanted}"))


def _scope_violations(scope: Scope | None, field: str) -> list[FieldViolation]:
    if scope is None:
        return [FieldViolation(f"{field}.kind", "required: TERRITORY, TEAM or RM")]
    if not scope.id.strip():
        return [FieldViolation(f"{field}.id", "required")]
    if len(scope.id) > MAX_ID:
        return [FieldViolation(f"{field}.id", f"at most {MAX_ID} characters")]
    return []


class QuotaPlanUseCases:
    def __init__(self, uow: UowFactory, events: QuotaEvents, clock: Clock) -> None:
        self.uow = uow
        self.events = events
        self.clock = clock

    def _touch(self, stored: StoredPlan) -> None:
        stored.updated_at = self.clock()
        stored.updated_by = current_principal().subject

    def seed_plan(self, cmd: SeedPlan) -> StoredPlan:
        """A draft seeded from last year's actuals of the same scopes × growth, allocated top-down."""
        violations = request_id_violations(cmd.key.request_id)
        if cmd.measure is None:
            violations.append(FieldViolation("measure", "required"))
        root = cmd.root_territory_id.strip()
        if not root:
            violations.append(FieldViolation("root_territory_id", "required"))
        elif len(root) > MAX_ID or any(not part for part in root.split(".")):
            violations.append(FieldViolation("root_territory_id", "not a territory id (codes joined by dots)"))
        if cmd.growth_bp < -BASIS_POINTS:
            violations.append(FieldViolation("growth_bp", "cannot shrink below -10000 (-100 %)"))
        if violations:
            raise InvalidArgument(violations)
        assert cmd.measure is not None
        measure = cmd.measure

        def first(uow: TerritoryUnitOfWork) -> tuple[StoredPlan, str]:
            root_scope = Scope(ScopeKind.TERRITORY, root)
            existing = uow.quotas.find(cmd.period, measure, root_scope)
            if existing is not None:
                raise AlreadyExists("quota plan", existing, f"{root} already has a {measure} plan for {cmd.period}: revise that plan")
            if not uow.attainment.knows_territory(root):
                raise NotFound("territory", root)
            last_year = months_of(cmd.period.last_year())
            credited = uow.attainment.credited_under(root, last_year, measure)
            tree = scope_tree(root, uow.attainment.roster_under(root), credited)
            actuals: dict[Scope, int] = {}
            for kind in ScopeKind:
                for scope_id, actual in uow.attainment.actuals_under(kind, measure, last_year, root).items():
                    actuals[Scope(kind, scope_id)] = actual
            plan = seed_plan(new_id(), cmd.period, measure, cmd.growth_bp, cmd.move_policy or MovePolicy.PRO_RATE, tree, actuals)
            now, subject = self.clock(), current_principal().subject
            stored = StoredPlan(plan, now, subject, now, subject, order=[scope for scope, _ in tree])
            uow.quotas.add(stored)
            return stored, plan_ref(plan)

        return run_idempotent(self.uow, "SeedQuotaPlan", cmd.key, first, _stored_by_ref)

    def allocate(self, cmd: AllocatePlan) -> StoredPlan:
        """Splits a line's target (set to total first, when given) over its children by weights."""
        violations = request_id_violations(cmd.key.request_id) + _plan_id_violations(cmd.plan_id) + _scope_violations(cmd.parent, "parent")
        if cmd.total is not None and cmd.total < 0:
            violations.append(FieldViolation("total", "0 or more"))
        violations += [FieldViolation(f"weights[{key}]", "0 or more") for key, weight in sorted(cmd.weights.items()) if weight < 0]
        if violations:
            raise InvalidArgument(violations)

        def first(uow: TerritoryUnitOfWork) -> tuple[StoredPlan, str]:
            stored = uow.quotas.get(cmd.plan_id, for_update=True)
            plan = stored.plan
            assert cmd.parent is not None
            _check_unit(plan, cmd.unit, "total")
            plan.allocate_down(cmd.parent, cmd.total, dict(cmd.weights) or None)
            self._touch(stored)
            uow.quotas.update(stored, [plan.line(cmd.parent), *plan.children(cmd.parent)])
            return stored, plan_ref(plan)

        return run_idempotent(self.uow, "AllocateQuota", cmd.key, first, _stored_by_ref)

    def adjust(self, cmd: AdjustLine) -> StoredPlan:
        """One line's target set by hand, with a note; the plan shows what no longer adds up."""
        violations = request_id_violations(cmd.key.request_id) + _plan_id_violations(cmd.plan_id) + _scope_violations(cmd.scope, "scope")
        if cmd.target < 0:
            violations.append(FieldViolation("target", "0 or more"))
        if not cmd.note.strip():
            violations.append(FieldViolation("note", "say why the quota is adjusted by hand"))
        elif len(cmd.note) > MAX_NOTE:
            violations.append(FieldViolation("note", f"at most {MAX_NOTE} characters"))
        if violations:
            raise InvalidArgument(violations)

        def first(uow: TerritoryUnitOfWork) -> tuple[StoredPlan, str]:
            stored = uow.quotas.get(cmd.plan_id, for_update=True)
            assert cmd.scope is not None
            _check_unit(stored.plan, cmd.unit, "target")
            stored.plan.adjust(cmd.scope, cmd.target, cmd.note)
            self._touch(stored)
            uow.quotas.update(stored, [stored.plan.line(cmd.scope)])
            return stored, plan_ref(stored.plan)

        return run_idempotent(self.uow, "AdjustQuota", cmd.key, first, _stored_by_ref)

    def submit(self, key: Idempotent, plan_id: str, accept_differences: bool) -> StoredPlan:
        """The maker sends the latest draft for approval (lines must add up unless accepted)."""
        self._check(key, plan_id)

        def first(uow: TerritoryUnitOfWork) -> tuple[StoredPlan, str]:
            stored = uow.quotas.get(plan_id, for_update=True)
            stored.plan.submit(current_principal().subject, accept_differences)
            stored.submit_time, stored.decide_time = self.clock(), None
            self._touch(stored)
            uow.quotas.update(stored)
            uow.publish(self.events.plan_submitted(stored, key.request_id))
            return stored, plan_ref(stored.plan)

        return run_idempotent(self.uow, "SubmitQuotaPlan", key, first, _stored_by_ref)

    def approve(self, key: Idempotent, plan_id: str) -> StoredPlan:
        """A checker who is not the maker puts the submitted version in force (its targets)."""
        self._check(key, plan_id)

        def first(uow: TerritoryUnitOfWork) -> tuple[StoredPlan, str]:
            stored = uow.quotas.get(plan_id, for_update=True)
            plan = stored.plan
            previous = uow.quotas.approved(plan_id) if plan.version > 1 else None
            plan.approve(current_principal().subject, previous.plan if previous else None)
            held = uow.quotas.held_by_others(plan)
            if held:
                listed = ", ".join(f"{scope} (plan {other})" for scope, other in held[:10])
                raise FailedPrecondition(f"other approved {plan.measure} plans of {plan.period} already set quotas for {listed}")
            stored.decide_time = self.clock()
            self._touch(stored)
            if previous is not None:
                self._touch(previous)
                uow.quotas.update(previous)
            uow.quotas.update(stored)
            uow.quotas.put_targets(plan)
            uow.publish(self.events.plan_approved(stored, key.request_id))
            return stored, plan_ref(plan)

        return run_idempotent(self.uow, "ApproveQuotaPlan", key, first, _stored_by_ref)

    def reject(self, key: Idempotent, plan_id: str, reason: str) -> StoredPlan:
        """A checker who is not the maker sends the submitted version back, saying why."""
        violations = request_id_violations(key.request_id) + _plan_id_violations(plan_id)
        if not reason.strip():
            violations.append(FieldViolation("reason", "say why the plan is rejected"))
        elif len(reason) > MAX_NOTE:
            violations.append(FieldViolation("reason", f"at most {MAX_NOTE} characters"))
        if violations:
            raise InvalidArgument(violations)

        def first(uow: TerritoryUnitOfWork) -> tuple[StoredPlan, str]:
            stored = uow.quotas.get(plan_id, for_update=True)
            stored.plan.reject(current_principal().subject, reason)
            stored.decide_time = self.clock()
            self._touch(stored)
            uow.quotas.update(stored)
            uow.publish(self.events.plan_rejected(stored, key.request_id))
            return stored, plan_ref(stored.plan)

        return run_idempotent(self.uow, "RejectQuotaPlan", key, first, _stored_by_ref)

    def revise(self, key: Idempotent, plan_id: str) -> StoredPlan:
        """The next version of an approved plan, as a draft; the approved one stays in force."""
        self._check(key, plan_id)

        def first(uow: TerritoryUnitOfWork) -> tuple[StoredPlan, str]:
            current = uow.quotas.get(plan_id, for_update=True)
            revised = current.plan.revise()
            now, subject = self.clock(), current_principal().subject
            stored = StoredPlan(revised, now, subject, now, subject, order=current.order)
            uow.quotas.add(stored)
            for transfer in {t for line in revised.lines.values() for t in line.transfers}:
                uow.quotas.add_transfer(revised, transfer, now)
            return stored, plan_ref(revised)

        return run_idempotent(self.uow, "ReviseQuotaPlan", key, first, _stored_by_ref)

    def get(self, plan_id: str, version: int) -> StoredPlan:
        violations = _plan_id_violations(plan_id)
        if version < 0:
            violations.append(FieldViolation("version", "0 (the latest) or more"))
        if violations:
            raise InvalidArgument(violations)
        with self.uow() as uow:
            return uow.quotas.get(plan_id, version)

    def list_plans(
        self, page: Page, period: Period | None, measure: Measure | None, status: PlanStatus | None
    ) -> tuple[list[StoredPlan], dict[str, Any] | None]:
        with self.uow() as uow:
            return uow.quotas.list_plans(page, period, measure, status)

    @staticmethod
    def _check(key: Idempotent, plan_id: str) -> None:
        violations = request_id_violations(key.request_id) + _plan_id_violations(plan_id)
        if violations:
            raise InvalidArgument(violations)
