"""Territory model versions: planned for a date with their hierarchy and rules, previewed (what
changes and which accounts move), applied in bulk (history kept, events published) or cancelled;
and reading territories and rules of any version."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from crm_common.auth import current_principal
from crm_common.db import new_id, utcnow
from crm_common.errors import FailedPrecondition, FieldViolation, InvalidArgument, ValidationCollector
from crm_common.pagination import Page
from crm_common.unit_of_work import Idempotent
from crm_territory.adapters.territory_repository import AssignmentEntry, ModelVersionRow, Move
from crm_territory.adapters.territory_tables import TERRITORY_ID
from crm_territory.domain.hierarchy import Hierarchy, HierarchyChanges, NodeSpec, Territory
from crm_territory.domain.owner_selection import OwnerSelector
from crm_territory.domain.realignment import Realignment, realign
from crm_territory.domain.rules import Rule, RuleSet, Subject, validate_rules
from crm_territory.service_layer.assignment_support import AssignmentEvents, Clock, Decision, ModelCache, UowFactory, explain, idempotent
from crm_territory.service_layer.unit_of_work import TerritoryUnitOfWork


@dataclass(frozen=True)
class PlanModelVersion:
    key: Idempotent
    effective_date: date | None
    nodes: list[NodeSpec]
    rules: list[Rule]
    note: str


@dataclass(frozen=True)
class Preview:
    row: ModelVersionRow
    changes: HierarchyChanges
    realignment: Realignment


class ModelVersionUseCases:
    def __init__(self, uow: UowFactory, events: AssignmentEvents, models: ModelCache, clock: Clock = utcnow) -> None:
        self.uow = uow
        self.events = events
        self.models = models
        self.clock = clock

    def plan(self, cmd: PlanModelVersion) -> tuple[ModelVersionRow, list[str]]:
        now = self.clock()
        if cmd.effective_date is None:
            raise InvalidArgument(FieldViolation("effective_date", "required"))
        if cmd.effective_date < now.date():
            raise InvalidArgument(FieldViolation("effective_date", f"today ({now.date()}) or later"))
        hierarchy = Hierarchy.build(cmd.nodes)
        too_long = ValidationCollector()
        for i, territory in enumerate(_by_code_order(hierarchy, cmd.nodes)):
            if len(territory.territory_id) > TERRITORY_ID:
                too_long.add(f"nodes[{i}].code", f"the territory id {territory.territory_id[:40]}… is longer than {TERRITORY_ID} characters")
        too_long.raise_if_any()

        def first(uow: TerritoryUnitOfWork) -> tuple[tuple[ModelVersionRow, list[str]], str]:
            repo = uow.territories
            check = validate_rules(cmd.rules, hierarchy, repo.all_teams(), repo.all_members())
            in_force = repo.version_in_force()
            if in_force is not None and cmd.effective_date is not None and cmd.effective_date <= in_force.effective_date:
                raise InvalidArgument(
                    FieldViolation("effective_date", f"after {in_force.effective_date}, the date of version {in_force.version} in force")
                )
            actor = current_principal().subject
            row = ModelVersionRow(
                version=repo.next_version(),
                effective_date=cmd.effective_date,  # type: ignore[arg-type]
                status="PLANNED",
                note=cmd.note,
                territory_count=len(hierarchy),
                rule_count=len(cmd.rules),
                shadowed_rule_ids=check.shadowed_rule_ids,
                created_at=now,
                created_by=actor,
                updated_at=now,
                updated_by=actor,
                applied_at=None,
                applied_by="",
                realignment=None,
            )
            repo.add_version(row, hierarchy, cmd.rules)
            return (row, check.shadowed_rule_ids), str(row.version)

        def repeat(uow: TerritoryUnitOfWork, ref: str) -> tuple[ModelVersionRow, list[str]]:
            row = uow.territories.version(int(ref))
            return row, list(row.shadowed_rule_ids)

        return idempotent(self.uow, "PlanModelVersion", cmd.key, first, repeat)  # type: ignore[no-any-return]

    def preview(self, version: int) -> Preview:
        """What applying the version would change; nothing is written."""
        _require_version(version)
        with self.uow() as uow:
            repo = uow.territories
            row = repo.version(version)
            if row.status != "PLANNED":
                raise FailedPrecondition(f"model version {version} is {row.status}; only a PLANNED version is previewed")
            planned = self.models.get(repo, version)
            in_force = self.models.in_force(repo)
            changes = (in_force.hierarchy if in_force else Hierarchy([])).diff(planned.hierarchy)
            selector = OwnerSelector(repo.all_members(), repo.loads(), repo.cursors())
            result = realign(repo.accounts(), planned.rules, selector, keep_moves=False)
        return Preview(row, changes, result)

    def apply(self, key: Idempotent, version: int) -> tuple[ModelVersionRow, Realignment]:
        """Puts the version in force: every account re-evaluated, the moves written in bulk with
        their history entries and AccountTerritoryAssigned events, TerritoryModelApplied sent."""
        _require_version(version)
        now = self.clock()

        def first(uow: TerritoryUnitOfWork) -> tuple[tuple[ModelVersionRow, Realignment], str]:
            repo = uow.territories
            row = repo.version(version, for_update=True)
            if row.status != "PLANNED":
                raise FailedPrecondition(f"model version {version} is {row.status}; only a PLANNED version is applied")
            if row.effective_date > now.date():
                raise FailedPrecondition(f"model version {version} takes effect on {row.effective_date}; apply it from that date")
            planned = self.models.get(repo, version)
            previous = repo.version_in_force()
            actor = current_principal().subject
            selector = OwnerSelector(repo.all_members(), repo.loads(), repo.cursors())
            cursors_before = dict(selector.cursors)
            result = realign(repo.accounts(), planned.rules, selector)
            write_moves(uow, self.events, result, version, "REALIGNMENT", planned.rules, now, actor, key.request_id)
            repo.save_cursors({t: c for t, c in selector.cursors.items() if cursors_before.get(t) != c})
            if previous is not None:
                repo.set_status(previous.version, "SUPERSEDED", actor, now)
            summary = realignment_json(result)
            repo.set_status(version, "APPLIED", actor, now, applied_at=now, applied_by=actor, realignment=summary)
            applied = repo.version(version)
            uow.publish(self.events.model_applied(applied, previous.version if previous else 0, result, key.request_id))
            result.moves = []
            return (applied, result), str(version)

        def repeat(uow: TerritoryUnitOfWork, ref: str) -> tuple[ModelVersionRow, Realignment]:
            row = uow.territories.version(int(ref))
            return row, realignment_from_json(row.realignment or {})

        return idempotent(self.uow, "ApplyModelVersion", key, first, repeat)  # type: ignore[no-any-return]

    def cancel(self, key: Idempotent, version: int) -> ModelVersionRow:
        _require_version(version)
        now = self.clock()

        def first(uow: TerritoryUnitOfWork) -> tuple[ModelVersionRow, str]:
            repo = uow.territories
            row = repo.version(version, for_update=True)
            if row.status != "PLANNED":
                raise FailedPrecondition(f"model version {version} is {row.status}; only a PLANNED version is cancelled")
            repo.set_status(version, "CANCELLED", current_principal().subject, now)
            return repo.version(version), str(version)

        return idempotent(self.uow, "CancelModelVersion", key, first, lambda uow, ref: uow.territories.version(int(ref)))  # type: ignore[no-any-return]

    def list_versions(self, page: Page) -> tuple[list[ModelVersionRow], dict[str, int] | None]:
        with self.uow() as uow:
            rows, last = uow.territories.list_versions(page)
        return rows, ({"v": last} if last is not None else None)

    def get_territory(self, territory_id: str, version: int) -> tuple[Territory, list[Territory], int]:
        if not territory_id:
            raise InvalidArgument(FieldViolation("territory_id", "required"))
        with self.uow() as uow:
            repo = uow.territories
            chosen = self.models.chosen(repo, version).version
            return repo.territory(chosen, territory_id), repo.child_territories(chosen, territory_id), chosen

    def list_territories(
        self, page: Page, version: int, within: str, level: str, province_code: str
    ) -> tuple[list[Territory], dict[str, str] | None, int]:
        with self.uow() as uow:
            repo = uow.territories
            chosen = self.models.chosen(repo, version).version
            if within:
                repo.territory(chosen, within)
            rows, last = repo.list_territories(chosen, page, within, level, province_code)
        return rows, ({"id": last} if last is not None else None), chosen

    def validate_rules(self, rules: list[Rule], version: int) -> list[str]:
        with self.uow() as uow:
            repo = uow.territories
            model = self.models.chosen(repo, version)
            return validate_rules(rules, model.hierarchy, repo.all_teams(), repo.all_members()).shadowed_rule_ids

    def list_rules(self, page: Page, version: int, territory_id: str) -> tuple[list[Rule], dict[str, int] | None]:
        """In evaluation order; the page token is the position."""
        with self.uow() as uow:
            repo = uow.territories
            chosen = self.models.chosen(repo, version).version
            rules = repo.rules(chosen, territory_id)
        start = int(page.after["at"]) if page.after else 0
        shown = rules[start : start + page.size]
        more = start + page.size < len(rules)
        return shown, ({"at": start + page.size} if more else None)

    def explain(self, subject: Subject, version: int) -> Decision:
        """The rules' decision with its explanation and the owner the strategy would pick now
        (nothing is stored: a round robin's cursor does not move)."""
        with self.uow() as uow:
            repo = uow.territories
            model = self.models.chosen(repo, version)
            decision, rule = explain(model, subject)
            if rule is None:
                return decision
            from crm_territory.service_layer.assignment_support import selector_for

            selector, _ = selector_for(repo, rule.team_id, rule.owner_id)
            choice = selector.select(rule, subject)
        return replace(decision, owner_id=choice.owner_id, team_id=choice.team_id, owner_reason=choice.reason)


def write_moves(
    uow: TerritoryUnitOfWork,
    events: AssignmentEvents,
    result: Realignment,
    version: int,
    source: str,
    rules: RuleSet,
    now: object,
    actor: str,
    correlation_id: str,
) -> None:
    """Writes a realignment's moves (set-based, batched) and one AccountTerritoryAssigned per
    moved account (outbox rows copied in bulk)."""
    if not result.moves:
        return
    reasons = {r.rule_id: f"{source.lower().replace('_', ' ')} to model version {version}: rule {r.rule_id} matched" for r in rules.rules}
    moves = [Move(m.account_id, m.after.territory_id, m.after.owner_id, m.after.team_id, m.after.rule_id) for m in result.moves]
    uow.territories.apply_moves(new_id(), moves, version, source, reasons, now, actor)  # type: ignore[arg-type]
    for m in result.moves:
        after, before = m.after, m.before
        reason = reasons.get(after.rule_id, "")
        entry = AssignmentEntry(
            0, m.account_id, after.territory_id, after.owner_id, after.team_id, after.rule_id, version, source, False,
            now, None, reason, actor,  # type: ignore[arg-type]
        )  # fmt: skip
        previous = None
        if before is not None:
            # Built directly: dataclasses.replace costs several times a constructor, per move.
            previous = AssignmentEntry(
                0, m.account_id, before.territory_id, before.owner_id, after.team_id, after.rule_id, version, source, False,
                now, None, reason, actor,  # type: ignore[arg-type]
            )  # fmt: skip
        uow.publish(events.account_assigned(entry, previous, correlation_id))


def realignment_json(result: Realignment) -> dict[str, object]:
    return {
        "accounts_evaluated": result.accounts_evaluated,
        "accounts_moved": result.accounts_moved,
        "opportunities_moved": result.opportunities_moved,
        "accounts_unassigned": result.accounts_unassigned,
        "overrides_kept": result.overrides_kept,
        "by_territory": {k: list(vars(v).values()) for k, v in result.by_territory.items()},
        "by_owner": {k: list(vars(v).values()) for k, v in result.by_owner.items()},
    }


def realignment_from_json(data: dict[str, object]) -> Realignment:
    from crm_territory.domain.realignment import MoveCounts

    result = Realignment(keep_moves=False)
    for name in ("accounts_evaluated", "accounts_moved", "opportunities_moved", "accounts_unassigned", "overrides_kept"):
        setattr(result, name, int(data.get(name, 0)))  # type: ignore[call-overload]
    result.by_territory = {k: MoveCounts(*v) for k, v in dict(data.get("by_territory", {})).items()}  # type: ignore[call-overload]
    result.by_owner = {k: MoveCounts(*v) for k, v in dict(data.get("by_owner", {})).items()}  # type: ignore[call-overload]
    return result


def _require_version(version: int) -> None:
    if version <= 0:
        raise InvalidArgument(FieldViolation("version", "a model version number (1 or more)"))


def _by_code_order(hierarchy: Hierarchy, nodes: list[NodeSpec]) -> list[Territory]:
    """The built territories in the order of the nodes given (for field paths)."""
    return [hierarchy.by_code(n.code) for n in nodes]  # type: ignore[misc]
