"""Next best actions: for each open opportunity, ranked suggestions with a reason and a priority.

The rules are data (`data/nba_rules.json`, or a bank's own file read with `load_rules`): each
names a condition kind, its parameters, the action it suggests, a priority (1 most urgent to 5)
and a reason template filled with the numbers that made it fire, so every suggestion explains
itself ("idle 12 days in documents_collected (norm 7)").

Condition kinds:

- `idle_beyond_norm` (`factor`): whole days in the stage > the stage's norm_days × factor.
- `exit_criteria_missing` (`criteria`: "checklist" or "fields"): checklist items not done, or
  required fields not set, that keep the opportunity in its stage.
- `close_date_passed`: the expected close is before now.
- `close_date_missing`: no expected close.
- `high_value_without_meeting` (`min_amount_vnd`): a VND amount of at least the threshold and
  no meeting planned or held (a fact the caller gives).
- `lead_sla_breached`: the first-contact SLA of the lead it was converted from is breached (a
  fact the caller gives, from the lead service).
- `ready_to_advance` (`factor`): every exit criterion of the stage is met and whole days in the
  stage > norm_days × factor.

Pure domain: the caller brings the opportunities, their pipelines and the facts (activities,
lead SLA, now).
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from crm_opportunity.domain.model import DEFAULT_CURRENCY, WON_STAGE, Money, Opportunity, Status
from crm_opportunity.domain.pipeline import Pipeline


class ActionKind(StrEnum):
    CALL_CUSTOMER = "CALL_CUSTOMER"
    COLLECT_DOCUMENTS = "COLLECT_DOCUMENTS"
    COMPLETE_FIELDS = "COMPLETE_FIELDS"
    UPDATE_CLOSE_DATE = "UPDATE_CLOSE_DATE"
    SCHEDULE_MEETING = "SCHEDULE_MEETING"
    CONTACT_NOW = "CONTACT_NOW"
    ADVANCE_STAGE = "ADVANCE_STAGE"


class Condition(StrEnum):
    IDLE_BEYOND_NORM = "idle_beyond_norm"
    EXIT_CRITERIA_MISSING = "exit_criteria_missing"
    CLOSE_DATE_PASSED = "close_date_passed"
    CLOSE_DATE_MISSING = "close_date_missing"
    HIGH_VALUE_WITHOUT_MEETING = "high_value_without_meeting"
    LEAD_SLA_BREACHED = "lead_sla_breached"
    READY_TO_ADVANCE = "ready_to_advance"


class RuleError(ValueError):
    """A rules file that cannot be used, naming the rule and what is wrong with it."""


@dataclass(frozen=True, slots=True)
class Suggestion:
    opportunity_id: str
    action: ActionKind
    # 1 is the most urgent, 5 the least.
    priority: int
    # Why, with the numbers: "idle 12 days in documents_collected (norm 7)".
    reason: str
    # The id of the rule that fired.
    rule: str


@dataclass(frozen=True)
class OpportunityFacts:
    """What the rules need beyond the opportunity, gathered by the caller."""

    # A meeting activity on the opportunity, planned or held.
    has_meeting_planned_or_held: bool
    # The lead it was converted from missed its first-contact SLA (the lead service's data).
    lead_first_contact_breached: bool
    now: datetime


@dataclass(frozen=True)
class Rule:
    id: str
    when: Condition
    params: Mapping[str, Any]
    action: ActionKind
    priority: int
    # A str.format template; the placeholders its condition kind offers (see _SPECS).
    reason: str


# --- what the rules look at -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _StageInfo:
    """One stage, precomputed once per pipeline for the hot loop."""

    name: str
    norm_days: int
    required_fields: tuple[str, ...]
    checklist: tuple[str, ...]
    next_stage: str


def _stage_infos(pipeline: Pipeline) -> dict[str, _StageInfo]:
    stages = pipeline.stages
    return {
        s.name: _StageInfo(s.name, s.norm_days, s.required_fields, s.checklist, stages[i + 1].name if i + 1 < len(stages) else WON_STAGE)
        for i, s in enumerate(stages)
    }


class _Context:
    """One opportunity with what every rule reads from it, computed once."""

    __slots__ = ("days_in_stage", "facts", "missing_checklist", "missing_fields", "opportunity", "stage")

    def __init__(self, opportunity: Opportunity, stage: _StageInfo | None, facts: OpportunityFacts) -> None:
        self.opportunity, self.stage, self.facts = opportunity, stage, facts
        entered = opportunity.stage_entered_at or opportunity.created_at
        self.days_in_stage = max((facts.now - entered).days, 0)
        self.missing_fields: list[str] = []
        self.missing_checklist: list[str] = []
        if stage is not None:
            if stage.required_fields:
                present = opportunity.present_fields()
                self.missing_fields = [f for f in stage.required_fields if f not in present]
            if stage.checklist:
                done = opportunity.checklist
                self.missing_checklist = [i for i in stage.checklist if i not in done]


def _number(value: float) -> str:
    """12.0 → "12", 10.5 → "10.5": limits read like the norms they come from."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _vnd(amount_minor: int) -> str:
    return f"{amount_minor:,}"


# Each condition kind has two parts. `prepare(stage, params)` runs once per stage of a pipeline
# (the stage None when the opportunity's stage is not in its pipeline): the rule's argument
# specialised to the stage (thresholds worked out, reason values that only depend on the
# stage), or None when the rule can never fire there. `check(ctx, argument)` runs per
# opportunity: the values of the reason's placeholders when the rule fires, None when not.
_Prepare = Callable[[_StageInfo | None, Mapping[str, Any]], Any]
_Check = Callable[[_Context, Any], dict[str, Any] | None]


def _prepare_stage_limit(stage: _StageInfo | None, params: Mapping[str, Any]) -> tuple[float, dict[str, Any]] | None:
    if stage is None:
        return None
    limit = stage.norm_days * params["factor"]
    return limit, {"stage": stage.name, "norm": stage.norm_days, "limit": _number(limit), "next_stage": stage.next_stage}


def _idle_beyond_norm(ctx: _Context, argument: tuple[float, dict[str, Any]]) -> dict[str, Any] | None:
    limit, values = argument
    if ctx.days_in_stage <= limit:
        return None
    return {**values, "days": ctx.days_in_stage}


def _ready_to_advance(ctx: _Context, argument: tuple[float, dict[str, Any]]) -> dict[str, Any] | None:
    limit, values = argument
    if ctx.days_in_stage <= limit or ctx.missing_fields or ctx.missing_checklist:
        return None
    return {**values, "days": ctx.days_in_stage}


def _prepare_exit_criteria(stage: _StageInfo | None, params: Mapping[str, Any]) -> tuple[bool, str] | None:
    checklist = params["criteria"] == "checklist"
    if stage is None or not (stage.checklist if checklist else stage.required_fields):
        return None  # nothing to miss here
    return checklist, stage.name


def _exit_criteria_missing(ctx: _Context, argument: tuple[bool, str]) -> dict[str, Any] | None:
    checklist, stage = argument
    missing = ctx.missing_checklist if checklist else ctx.missing_fields
    if not missing:
        return None
    return {"stage": stage, "items": ", ".join(missing), "count": len(missing)}


def _prepare_anywhere(stage: _StageInfo | None, params: Mapping[str, Any]) -> Mapping[str, Any]:
    return params


def _close_date_passed(ctx: _Context, argument: object) -> dict[str, Any] | None:
    close, now = ctx.opportunity.expected_close_at, ctx.facts.now
    if close is None or close >= now:
        return None
    return {"close_date": close.date().isoformat(), "today": now.date().isoformat(), "days_overdue": (now - close).days}


def _close_date_missing(ctx: _Context, argument: object) -> dict[str, Any] | None:
    if ctx.opportunity.expected_close_at is not None:
        return None
    return {"stage": ctx.opportunity.stage}


def _prepare_min_amount(stage: _StageInfo | None, params: Mapping[str, Any]) -> tuple[int, str]:
    return params["min_amount_vnd"], _vnd(params["min_amount_vnd"])


def _high_value_without_meeting(ctx: _Context, argument: tuple[int, str]) -> dict[str, Any] | None:
    minimum, shown = argument
    amount = ctx.opportunity.amount
    if ctx.facts.has_meeting_planned_or_held or amount.amount_minor < minimum or amount.currency != DEFAULT_CURRENCY:
        return None
    return {"amount": _vnd(amount.amount_minor), "min_amount": shown, "stage": ctx.opportunity.stage}


def _lead_sla_breached(ctx: _Context, argument: object) -> dict[str, Any] | None:
    lead = ctx.opportunity.source_lead_id
    if not lead or not ctx.facts.lead_first_contact_breached:
        return None
    return {"lead_id": lead}


def _positive_number(value: Any) -> str | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
    return None if ok else "a number above 0"


def _non_negative_int(value: Any) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return None if ok else "a whole number of đồng, 0 or more"


def _criteria(value: Any) -> str | None:
    return None if value in ("checklist", "fields") else '"checklist" or "fields"'


@dataclass(frozen=True)
class _Spec:
    prepare: _Prepare
    check: _Check
    # Each parameter with its validator (None when the value is fine, else what it must be).
    params: Mapping[str, Callable[[Any], str | None]]
    # Values of every placeholder, to try a reason template on when the rules load.
    sample: Mapping[str, Any]


_STAGE_SAMPLE = {"days": 12, "stage": "documents_collected", "norm": 7, "limit": "7", "next_stage": "submitted_to_los"}
_SPECS: dict[Condition, _Spec] = {
    Condition.IDLE_BEYOND_NORM: _Spec(_prepare_stage_limit, _idle_beyond_norm, {"factor": _positive_number}, _STAGE_SAMPLE),
    Condition.EXIT_CRITERIA_MISSING: _Spec(
        _prepare_exit_criteria,
        _exit_criteria_missing,
        {"criteria": _criteria},
        {"stage": "documents_collected", "items": "id_document_verified", "count": 1},
    ),
    Condition.CLOSE_DATE_PASSED: _Spec(
        _prepare_anywhere, _close_date_passed, {}, {"close_date": "2024-05-01", "today": "2024-05-13", "days_overdue": 12}
    ),
    Condition.CLOSE_DATE_MISSING: _Spec(_prepare_anywhere, _close_date_missing, {}, {"stage": "qualification"}),
    Condition.HIGH_VALUE_WITHOUT_MEETING: _Spec(
        _prepare_min_amount,
        _high_value_without_meeting,
        {"min_amount_vnd": _non_negative_int},
        {"amount": "750,000,000", "min_amount": "500,000,000", "stage": "needs_analysis"},
    ),
    Condition.LEAD_SLA_BREACHED: _Spec(_prepare_anywhere, _lead_sla_breached, {}, {"lead_id": "3f2b8c1e-5d4a-4b7e-9c2d-1a2b3c4d5e6f"}),
    Condition.READY_TO_ADVANCE: _Spec(_prepare_stage_limit, _ready_to_advance, {"factor": _positive_number}, _STAGE_SAMPLE),
}


# --- the rules file ---------------------------------------------------------------------------


def _rule(raw: Any, index: int, seen: set[str]) -> Rule:
    if not isinstance(raw, dict):
        raise RuleError(f"rules[{index}]: a rule is an object")
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not rule_id.strip():
        raise RuleError(f"rules[{index}]: a rule needs an id")
    where = f"rule {rule_id!r}"
    if rule_id in seen:
        raise RuleError(f"{where}: the id repeats")
    unknown_keys = set(raw) - {"id", "when", "params", "action", "priority", "reason", "comment"}
    if unknown_keys:
        raise RuleError(f"{where}: unknown keys {sorted(unknown_keys)}")
    try:
        when = Condition(raw.get("when", ""))
    except ValueError:
        known = ", ".join(c.value for c in Condition)
        raise RuleError(f"{where}: unknown condition kind {raw.get('when')!r} (known: {known})") from None
    try:
        action = ActionKind(raw.get("action", ""))
    except ValueError:
        known = ", ".join(a.value for a in ActionKind)
        raise RuleError(f"{where}: unknown action {raw.get('action')!r} (known: {known})") from None
    priority = raw.get("priority")
    if not isinstance(priority, int) or isinstance(priority, bool) or not 1 <= priority <= 5:
        raise RuleError(f"{where}: priority must be a whole number 1-5 (1 most urgent), not {priority!r}")
    spec = _SPECS[when]
    params = raw.get("params", {})
    if not isinstance(params, dict):
        raise RuleError(f"{where}: params must be an object")
    missing = [name for name in spec.params if name not in params]
    if missing:
        raise RuleError(f"{where}: {when} needs params {', '.join(missing)}")
    unknown = sorted(set(params) - set(spec.params))
    if unknown:
        raise RuleError(f"{where}: {when} takes no params {', '.join(unknown)}")
    for name, validate in spec.params.items():
        problem = validate(params[name])
        if problem:
            raise RuleError(f"{where}: param {name} must be {problem}, not {params[name]!r}")
    reason = raw.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise RuleError(f"{where}: a rule needs a reason template")
    placeholders = sorted({field for _, field, _, _ in string.Formatter().parse(reason) if field is not None})
    unknown_fields = [f for f in placeholders if f not in spec.sample]
    if unknown_fields:
        offered = ", ".join("{" + name + "}" for name in spec.sample) or "none"
        raise RuleError(f"{where}: the reason uses {', '.join(unknown_fields)}, which {when} does not offer (offered: {offered})")
    try:
        reason.format(**spec.sample)
    except (ValueError, KeyError, IndexError, AttributeError) as exc:
        raise RuleError(f"{where}: the reason template does not format: {exc}") from None
    seen.add(rule_id)
    return Rule(rule_id, when, MappingProxyType(dict(params)), action, priority, reason)


def load_rules(text: str) -> list[Rule]:
    """The rules of a JSON document (a list of rules, or an object with "rules"); RuleError naming the rule."""
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise RuleError(f"not a rules document: {exc}") from None
    if isinstance(raw, dict):
        raw = raw.get("rules")
    if not isinstance(raw, list):
        raise RuleError('not a rules document: expected a list of rules, or an object with "rules"')
    seen: set[str] = set()
    return [_rule(entry, i, seen) for i, entry in enumerate(raw)]


@lru_cache(maxsize=1)
def _default_rules() -> tuple[Rule, ...]:
    text = resources.files("crm_opportunity").joinpath("data/nba_rules.json").read_text(encoding="utf-8")
    return tuple(load_rules(text))


def default_rules() -> list[Rule]:
    """The seeded rules of a Vietnamese retail bank (`crm_opportunity/data/nba_rules.json`)."""
    return list(_default_rules())


# --- suggesting -------------------------------------------------------------------------------

# One rule ready for one stage: priority, rule order, action, rule, check, its prepared argument.
_Step = tuple[int, int, ActionKind, Rule, _Check, Any]


def _plan(stage: _StageInfo | None, rules: list[Rule]) -> tuple[_Step, ...]:
    """The rules that can fire at `stage`, each with its argument worked out for the stage."""
    steps: list[_Step] = []
    for order, rule in enumerate(rules):
        spec = _SPECS[rule.when]
        argument = spec.prepare(stage, rule.params)
        if argument is not None:
            steps.append((rule.priority, order, rule.action, rule, spec.check, argument))
    return tuple(steps)


def _evaluate(opportunity: Opportunity, stage: _StageInfo | None, plan: tuple[_Step, ...], facts: OpportunityFacts) -> list[Suggestion]:
    """The suggestions for one open opportunity: one per action kind (its most urgent rule), by priority then rule order."""
    ctx = _Context(opportunity, stage, facts)
    best: dict[ActionKind, tuple[int, int, Rule, dict[str, Any]]] = {}
    for priority, order, action, rule, check, argument in plan:
        kept = best.get(action)
        if kept is not None and kept[0] <= priority:
            continue  # an earlier rule already suggests this action at least as urgently
        values = check(ctx, argument)
        if values is not None:
            best[action] = (priority, order, rule, values)
    if not best:
        return []
    oid = opportunity.opportunity_id
    # (priority, order) is unique: the sort never compares rules.
    return [Suggestion(oid, rule.action, priority, rule.reason.format_map(values), rule.id) for priority, _, rule, values in sorted(best.values())]


def suggest(opportunity: Opportunity, pipeline: Pipeline, facts: OpportunityFacts, rules: list[Rule]) -> list[Suggestion]:
    """The next best actions for one opportunity (none unless it is open), most urgent first."""
    if opportunity.status is not Status.OPEN:
        return []
    stage = _stage_infos(pipeline).get(opportunity.stage)
    return _evaluate(opportunity, stage, _plan(stage, rules), facts)


def suggest_for_book(
    items: Iterable[tuple[Opportunity, Pipeline, OpportunityFacts]],
    rules: list[Rule],
    *,
    amount_in_vnd: Callable[[Money], int] | None = None,
) -> list[Suggestion]:
    """An RM's whole book of suggestions: by priority, then bigger amounts, then sooner expected closes.

    Amounts compare in minor units as they are (a VND book) unless `amount_in_vnd` converts
    them. Opportunities without an expected close come after those with one; the opportunity
    id breaks the remaining ties, and one opportunity's suggestions keep their own order.
    Each pipeline's stages are prepared once per call.
    """
    # Per pipeline (by identity, kept alive here so ids stay unique): per stage, its info and plan.
    prepared: dict[int, tuple[Pipeline, dict[str, _StageInfo], dict[str, tuple[_Step, ...]]]] = {}
    found: list[tuple[int, int, float, str, int, list[Suggestion]]] = []
    for opportunity, pipeline, facts in items:
        if opportunity.status is not Status.OPEN:
            continue
        entry = prepared.get(id(pipeline))
        if entry is None:
            entry = prepared[id(pipeline)] = (pipeline, _stage_infos(pipeline), {})
        _, infos, plans = entry
        stage = infos.get(opportunity.stage)
        plan = plans.get(opportunity.stage)
        if plan is None:
            plan = plans[opportunity.stage] = _plan(stage, rules)
        suggestions = _evaluate(opportunity, stage, plan, facts)
        if not suggestions:
            continue
        amount = amount_in_vnd(opportunity.amount) if amount_in_vnd else opportunity.amount.amount_minor
        close = opportunity.expected_close_at
        no_close, close_at = (0, close.timestamp()) if close is not None else (1, 0.0)
        found.append((-amount, no_close, close_at, opportunity.opportunity_id, len(found), suggestions))
    # Opportunities in order (the position before the suggestions is unique: lists are never
    # compared), then their suggestions dealt into one bucket per priority: each bucket keeps
    # the opportunities' order, and one opportunity's suggestions their rule order.
    found.sort()
    buckets: dict[int, list[Suggestion]] = {}
    for *_, suggestions in found:
        for s in suggestions:
            bucket = buckets.get(s.priority)
            if bucket is None:
                bucket = buckets[s.priority] = []
            bucket.append(s)
    return [s for priority in sorted(buckets) for s in buckets[priority]]
