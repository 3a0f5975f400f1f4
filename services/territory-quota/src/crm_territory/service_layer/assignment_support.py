"""What the territory half's use cases share: the model in force (compiled once per version and
cached), one decision with its explanation, the events they publish, the idempotent run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from crm_common.errors import FailedPrecondition
from crm_common.unit_of_work import Idempotent, run_idempotent
from crm_territory.adapters.territory_repository import AssignmentEntry, ModelVersionRow, TerritoryRepository
from crm_territory.domain.hierarchy import Hierarchy
from crm_territory.domain.members import Member
from crm_territory.domain.owner_selection import OwnerSelector
from crm_territory.domain.realignment import Assignment, Realignment, place
from crm_territory.domain.rules import OwnerStrategy, RuleEvaluation, RuleSet, Subject
from crm_territory.service_layer.unit_of_work import TerritoryUnitOfWork

UowFactory = Callable[..., TerritoryUnitOfWork]
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Model:
    """One model version, compiled: its hierarchy and its rules ready to match."""

    row: ModelVersionRow
    hierarchy: Hierarchy
    rules: RuleSet

    @property
    def version(self) -> int:
        return self.row.version


class ModelCache:
    """Compiled models by version. A version's territories and rules never change once planned,
    so the cache needs no invalidation (only the status row is re-read)."""

    def __init__(self) -> None:
        self._models: dict[int, tuple[Hierarchy, RuleSet]] = {}
        self._lock = threading.Lock()

    def get(self, repo: TerritoryRepository, version: int) -> Model:
        row = repo.version(version)
        return self._compiled(repo, row)

    def in_force(self, repo: TerritoryRepository) -> Model | None:
        row = repo.version_in_force()
        return self._compiled(repo, row) if row is not None else None

    def require_in_force(self, repo: TerritoryRepository) -> Model:
        model = self.in_force(repo)
        if model is None:
            raise FailedPrecondition("no territory model is in force yet: plan and apply a model version first")
        return model

    def chosen(self, repo: TerritoryRepository, version: int) -> Model:
        """The version asked for, or the one in force for 0."""
        return self.get(repo, version) if version else self.require_in_force(repo)

    def _compiled(self, repo: TerritoryRepository, row: ModelVersionRow) -> Model:
        with self._lock:
            found = self._models.get(row.version)
        if found is None:
            found = (repo.hierarchy(row.version), RuleSet(repo.rules(row.version)))
            with self._lock:
                self._models[row.version] = found
        return Model(row, *found)


@dataclass(frozen=True)
class Decision:
    """What the rules decided for one subject, and why."""

    territory_id: str
    owner_id: str
    team_id: str
    rule_id: str
    strategy: OwnerStrategy | None
    owner_reason: str
    model_version: int
    evaluations: list[RuleEvaluation]
    summary: str


def explain(model: Model, subject: Subject) -> tuple[Decision, Any]:
    """The explanation alone (no owner chosen): (decision without owner, the matched rule or None)."""
    explanation = model.rules.explain(subject)
    rule = explanation.rule
    decision = Decision(
        rule.territory_id if rule else "",
        "",
        rule.team_id if rule else "",
        rule.rule_id if rule else "",
        rule.strategy if rule else None,
        "",
        model.version,
        explanation.evaluations,
        explanation.summary(),
    )
    return decision, rule


def selector_for(repo: TerritoryRepository, team_id: str, owner_id: str) -> tuple[OwnerSelector, dict[str, str]]:
    """A selector over the members one rule can pick (its team, its named RM) with their loads
    and the team's cursor; also the cursors as read, to persist only what moved."""
    candidates: list[Member] = [m for m in repo.all_members() if m.team_id == team_id or m.subject_id == owner_id] if (team_id or owner_id) else []
    cursors = repo.cursors()
    selector = OwnerSelector(candidates, repo.loads(m.subject_id for m in candidates), cursors)
    return selector, dict(cursors)


def decide(repo: TerritoryRepository, model: Model, subject: Subject, current: Assignment | None = None) -> tuple[Decision, Assignment | None]:
    """The rules' decision for a subject with its owner chosen (the owner kept where allowed),
    persisting the round-robin cursor it moved."""
    decision, rule = explain(model, subject)
    if rule is None:
        return decision, None
    selector, before = selector_for(repo, rule.team_id, rule.owner_id)
    assignment, reason = place(rule, subject, current, selector)
    repo.save_cursors({team: last for team, last in selector.cursors.items() if before.get(team) != last})
    decided = Decision(
        assignment.territory_id,
        assignment.owner_id,
        assignment.team_id,
        rule.rule_id,
        rule.strategy,
        reason,
        model.version,
        decision.evaluations,
        decision.summary,
    )
    return decided, assignment


class AssignmentEvents(Protocol):
    """Builds the territory half's events (protobuf messages)."""

    def account_assigned(self, entry: AssignmentEntry, previous: AssignmentEntry | None, correlation_id: str) -> Any: ...
    def lead_routed(self, lead_id: str, decision: Decision, trigger: str, correlation_id: str) -> Any: ...
    def model_applied(self, row: ModelVersionRow, previous_version: int, realignment: Realignment, correlation_id: str) -> Any: ...
    def access_scope_changed(self, scope: Any, model_version: int, correlation_id: str) -> Any: ...


def idempotent(
    uow: UowFactory,
    method: str,
    key: Idempotent,
    first: Callable[[TerritoryUnitOfWork], tuple[Any, str]],
    repeat: Callable[[TerritoryUnitOfWork, str], Any],
) -> Any:
    return run_idempotent(uow, method, key, first, repeat)


def today(now: datetime) -> date:
    return now.date()
