"""Quota plans: periods, seeding from last year, top-down allocation, maker-checker, versions.

All quantities are integers: đồng for money measures, a count for new cards, so sums are exact.

- Seeding: a scope's target is its actual in the same period last year × (10000 + growth_bp) /
  10000, rounded to the nearest integer with halves away from zero (`seed`). A negative actual
  (deposits that shrank) seeds 0: growth on a fall is meaningless, the planner sets it by hand.
- Allocation: a parent's target is split over its children in proportion to weights (by default
  their last-year actuals; equal shares when those are all zero) by the largest-remainder method:
  each child gets the floor of its exact share, and the units left over go one each to the
  largest remainders (ties to the first child id in order), so children always sum exactly to
  the parent (`allocate`).
- Manual adjustments may break that; the plan shows every parent whose children do not add up
  (`differences`), and a maker may only submit such a plan by accepting them explicitly.
- Maker-checker: DRAFT → SUBMITTED (maker) → APPROVED or REJECTED (a checker who is not the
  maker). An approved version is frozen; `revise` opens the next version as a draft, and
  approving it supersedes the previous one.
- Quotas follow territory moves by the plan's policy: PRO_RATE moves the moved accounts' share
  of quota from the old scope to the new one for the days from the move to the period's end
  (`prorate`), recorded on both lines; KEEP leaves quota where it was until the period ends.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from enum import StrEnum

from crm_common.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound, PermissionDenied


class PeriodKind(StrEnum):
    MONTH = "MONTH"
    QUARTER = "QUARTER"
    YEAR = "YEAR"


_PERIOD = re.compile(r"^(\d{4})(?:-(0[1-9]|1[0-2])|-Q([1-4]))?$")


@dataclass(frozen=True, order=True)
class Period:
    kind: PeriodKind
    year: int
    # MONTH 1..12, QUARTER 1..4, YEAR 1.
    index: int = 1

    def __post_init__(self) -> None:
        top = {PeriodKind.MONTH: 12, PeriodKind.QUARTER: 4, PeriodKind.YEAR: 1}[self.kind]
        if not 1 <= self.index <= top or not 1900 <= self.year <= 9999:
            raise InvalidArgument(FieldViolation("period", f"{self.kind} {self.year}/{self.index} does not exist"))

    @classmethod
    def parse(cls, text: str) -> Period:
        """ "2026", "2026-Q3" or "2026-07"."""
        found = _PERIOD.match(text.strip())
        if found is None:
            raise InvalidArgument(FieldViolation("period", f"{text!r} is not YYYY, YYYY-Qn or YYYY-MM"))
        year, month, quarter = found.groups()
        if month:
            return cls(PeriodKind.MONTH, int(year), int(month))
        if quarter:
            return cls(PeriodKind.QUARTER, int(year), int(quarter))
        return cls(PeriodKind.YEAR, int(year))

    def __str__(self) -> str:
        if self.kind is PeriodKind.MONTH:
            return f"{self.year}-{self.index:02d}"
        if self.kind is PeriodKind.QUARTER:
            return f"{self.year}-Q{self.index}"
        return str(self.year)

    @property
    def start(self) -> date:
        first_month = {PeriodKind.MONTH: self.index, PeriodKind.QUARTER: 3 * self.index - 2, PeriodKind.YEAR: 1}[self.kind]
        return date(self.year, first_month, 1)

    @property
    def end(self) -> date:
        """The last day, inclusive."""
        last_month = {PeriodKind.MONTH: self.index, PeriodKind.QUARTER: 3 * self.index, PeriodKind.YEAR: 12}[self.kind]
        return date(self.year, last_month, calendar.monthrange(self.year, last_month)[1])

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def last_year(self) -> Period:
        return replace(self, year=self.year - 1)


class Measure(StrEnum):
    NEW_CARDS = "NEW_CARDS"
    LOAN_DISBURSED = "LOAN_DISBURSED"
    DEPOSIT_GROWTH = "DEPOSIT_GROWTH"
    INSURANCE_PREMIUM = "INSURANCE_PREMIUM"

    @property
    def is_count(self) -> bool:
        return self is Measure.NEW_CARDS


class ScopeKind(StrEnum):
    TERRITORY = "TERRITORY"
    TEAM = "TEAM"
    RM = "RM"


@dataclass(frozen=True, order=True)
class Scope:
    kind: ScopeKind
    id: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"


class PlanStatus(StrEnum):
    DRAFT = "DRAFT"
    SUBMITTED = "SUBMITTED"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    SUPERSEDED = "SUPERSEDED"


class MovePolicy(StrEnum):
    PRO_RATE = "PRO_RATE"
    KEEP = "KEEP"


BASIS_POINTS = 10_000


def round_half_away(numerator: int, denominator: int) -> int:
    """numerator / denominator to the nearest integer, halves away from zero (denominator > 0)."""
    quotient, remainder = divmod(abs(numerator), denominator)
    if 2 * remainder >= denominator:
        quotient += 1
    return quotient if numerator >= 0 else -quotient


def seed(last_year_actual: int, growth_bp: int) -> int:
    """Last year's actual grown by growth_bp basis points, rounded half away from zero; a
    negative actual seeds 0."""
    if growth_bp < -BASIS_POINTS:
        raise InvalidArgument(FieldViolation("growth_bp", "cannot shrink below -10000 (-100 %)"))
    if last_year_actual <= 0:
        return 0
    return round_half_away(last_year_actual * (BASIS_POINTS + growth_bp), BASIS_POINTS)


def allocate(total: int, weights: Mapping[str, int]) -> dict[str, int]:
    """Splits total over the keys of weights, exactly, by the largest-remainder method."""
    if not weights:
        return {}
    negative = [key for key, weight in weights.items() if weight < 0]
    if negative:
        raise InvalidArgument([FieldViolation(f"weights[{key}]", "0 or more") for key in sorted(negative)])
    keys = sorted(weights)
    weight_sum = sum(weights.values())
    effective = {key: weights[key] for key in keys} if weight_sum else dict.fromkeys(keys, 1)
    weight_sum = weight_sum or len(keys)
    sign = -1 if total < 0 else 1
    magnitude = abs(total)
    shares = {key: magnitude * effective[key] // weight_sum for key in keys}
    left_over = magnitude - sum(shares.values())
    # Largest remainder first; Python's sort is stable, so ties keep key order.
    by_remainder = sorted(keys, key=lambda key: -(magnitude * effective[key] % weight_sum))
    for key in by_remainder[:left_over]:
        shares[key] += 1
    return {key: sign * share for key, share in shares.items()}


def prorate(amount: int, period: Period, effective: date) -> tuple[int, int]:
    """Splits amount into (before, after) the move by days: the move's own day counts as after.
    before is rounded down and after takes the rest, so they sum to amount exactly."""
    if not period.contains(effective):
        raise InvalidArgument(FieldViolation("effective_date", f"{effective} is outside {period}"))
    days_before = (effective - period.start).days
    before = amount * days_before // period.days
    return before, amount - before


@dataclass(frozen=True)
class QuotaTransfer:
    from_scope: Scope
    to_scope: Scope
    amount: int
    effective: date
    accounts: int


@dataclass
class QuotaLine:
    scope: Scope
    parent: Scope | None
    last_year_actual: int = 0
    seeded: int = 0
    allocated: int = 0
    target: int = 0
    adjustment_note: str = ""
    transfers: list[QuotaTransfer] = field(default_factory=list)


@dataclass(frozen=True)
class Difference:
    scope: Scope
    target: int
    children_total: int

    @property
    def difference(self) -> int:
        return self.target - self.children_total


@dataclass
class QuotaPlan:
    plan_id: str
    version: int
    period: Period
    measure: Measure
    root: Scope
    growth_bp: int
    move_policy: MovePolicy
    lines: dict[Scope, QuotaLine]
    status: PlanStatus = PlanStatus.DRAFT
    maker: str = ""
    checker: str = ""
    reject_reason: str = ""
    differences_accepted: bool = False

    def line(self, scope: Scope) -> QuotaLine:
        found = self.lines.get(scope)
        if found is None:
            raise NotFound("quota line", str(scope))
        return found

    def children(self, scope: Scope) -> list[QuotaLine]:
        return [line for line in self.lines.values() if line.parent == scope]

    def differences(self) -> list[Difference]:
        """Every parent whose children's targets do not add up to its own."""
        totals: dict[Scope, int] = {}
        for line in self.lines.values():
            if line.parent is not None:
                totals[line.parent] = totals.get(line.parent, 0) + line.target
        found = [Difference(scope, self.lines[scope].target, total) for scope, total in totals.items() if scope in self.lines]
        return [d for d in found if d.difference]

    def _editable(self) -> None:
        if self.status not in (PlanStatus.DRAFT, PlanStatus.REJECTED):
            raise FailedPrecondition(f"plan {self.plan_id} v{self.version} is {self.status}: revise it to change it")

    def allocate_down(self, parent: Scope, total: int | None = None, weights: Mapping[str, int] | None = None) -> None:
        """Splits the parent's target (set to total first, when given) over its direct children,
        by weights keyed by child scope id (default: their last-year actuals)."""
        self._editable()
        line = self.line(parent)
        children = self.children(parent)
        if not children:
            raise FailedPrecondition(f"{parent} has no children in plan {self.plan_id}")
        if total is not None:
            line.target = total
        by_id = {child.scope.id: child for child in children}
        if weights is None:
            weights = {scope_id: max(child.last_year_actual, 0) for scope_id, child in by_id.items()}
        unknown = sorted(set(weights) - set(by_id))
        missing = sorted(set(by_id) - set(weights))
        if unknown or missing:
            violations = [FieldViolation(f"weights[{key}]", f"not a child of {parent}") for key in unknown]
            violations += [FieldViolation(f"weights[{key}]", "missing") for key in missing]
            raise InvalidArgument(violations)
        for scope_id, amount in allocate(line.target, weights).items():
            by_id[scope_id].allocated = by_id[scope_id].target = amount

    def adjust(self, scope: Scope, target: int, note: str) -> None:
        self._editable()
        if not note.strip():
            raise InvalidArgument(FieldViolation("note", "say why the quota is adjusted by hand"))
        line = self.line(scope)
        line.target = target
        line.adjustment_note = note.strip()

    def submit(self, maker: str, accept_differences: bool = False) -> None:
        self._editable()
        differences = self.differences()
        if differences and not accept_differences:
            listed = "; ".join(f"{d.scope} is {d.target}, its children add up to {d.children_total} ({d.difference:+d})" for d in differences)
            raise FailedPrecondition(f"lines do not add up: {listed}")
        self.status = PlanStatus.SUBMITTED
        self.maker = maker
        self.checker = ""
        self.reject_reason = ""
        self.differences_accepted = bool(differences)

    def _check_checker(self, checker: str) -> None:
        if self.status is not PlanStatus.SUBMITTED:
            raise FailedPrecondition(f"plan {self.plan_id} v{self.version} is {self.status}, not SUBMITTED")
        if checker == self.maker:
            raise PermissionDenied("maker-checker: the maker of a plan cannot approve or reject it")

    def approve(self, checker: str, previous: QuotaPlan | None = None) -> None:
        """Puts this version in force; the previously approved one (if any) is superseded."""
        self._check_checker(checker)
        if previous is not None:
            if previous.plan_id != self.plan_id or previous.status is not PlanStatus.APPROVED:
                raise FailedPrecondition(f"v{previous.version} is not the approved version of plan {self.plan_id}")
            previous.status = PlanStatus.SUPERSEDED
        self.status = PlanStatus.APPROVED
        self.checker = checker

    def reject(self, checker: str, reason: str) -> None:
        self._check_checker(checker)
        if not reason.strip():
            raise InvalidArgument(FieldViolation("reason", "say why the plan is rejected"))
        self.status = PlanStatus.REJECTED
        self.checker = checker
        self.reject_reason = reason.strip()

    def revise(self) -> QuotaPlan:
        """The next version as a draft copy; this one stays in force until that is approved."""
        if self.status is not PlanStatus.APPROVED:
            raise FailedPrecondition(f"only an approved plan is revised; v{self.version} is {self.status}")
        lines = {scope: replace(line, transfers=list(line.transfers)) for scope, line in self.lines.items()}
        return replace(self, version=self.version + 1, lines=lines, status=PlanStatus.DRAFT, maker="", checker="", reject_reason="")

    def transfer_on_move(self, from_scope: Scope, to_scope: Scope, share: int, effective: date, accounts: int) -> QuotaTransfer | None:
        """Accounts carrying `share` of from_scope's quota moved to to_scope on `effective`.
        PRO_RATE moves the part of the share for the days from the move on (both lines show
        it); KEEP changes nothing this period. Allowed on an approved plan: it is the only
        change one takes, and it is recorded, not hidden."""
        if self.status is PlanStatus.SUPERSEDED:
            raise FailedPrecondition(f"plan {self.plan_id} v{self.version} is superseded")
        if self.move_policy is MovePolicy.KEEP:
            return None
        source, destination = self.line(from_scope), self.line(to_scope)
        _, moved = prorate(share, self.period, effective)
        transfer = QuotaTransfer(from_scope, to_scope, moved, effective, accounts)
        source.target -= moved
        destination.target += moved
        source.transfers.append(transfer)
        destination.transfers.append(transfer)
        return transfer


def seed_plan(
    plan_id: str,
    period: Period,
    measure: Measure,
    growth_bp: int,
    move_policy: MovePolicy,
    tree: Iterable[tuple[Scope, Scope | None]],
    last_year: Mapping[Scope, int],
) -> QuotaPlan:
    """A draft plan over the scopes of `tree` ((scope, parent) with one root, parents before
    children): every line's own seed is shown, and targets are allocated top-down from the
    root's seed by last-year actuals, so every level adds up exactly."""
    lines: dict[Scope, QuotaLine] = {}
    roots: list[Scope] = []
    for scope, parent in tree:
        if scope in lines:
            raise InvalidArgument(FieldViolation("scopes", f"{scope} appears twice"))
        if parent is None:
            roots.append(scope)
        elif parent not in lines:
            raise InvalidArgument(FieldViolation("scopes", f"the parent {parent} of {scope} must come before it"))
        actual = last_year.get(scope, 0)
        lines[scope] = QuotaLine(scope, parent, last_year_actual=actual, seeded=seed(actual, growth_bp))
    if len(roots) != 1:
        raise InvalidArgument(FieldViolation("scopes", f"one root is needed, found {len(roots)}"))
    root = lines[roots[0]]
    root.allocated = root.target = root.seeded
    plan = QuotaPlan(plan_id, 1, period, measure, root.scope, growth_bp, move_policy, lines)
    pending = [root.scope]
    while pending:
        parent = pending.pop()
        if plan.children(parent):
            plan.allocate_down(parent)
            pending.extend(child.scope for child in plan.children(parent))
    return plan


def elapsed_days(period: Period, as_of: date) -> int:
    """Days of the period up to and including as_of (0 before it starts, all once it ended)."""
    if as_of < period.start:
        return 0
    if as_of > period.end:
        return period.days
    return (as_of - period.start + timedelta(days=1)).days
