"""Live attainment, pipeline coverage, pacing and leaderboards, kept from other services' events.

Every change is one unit of work in which the inbox mark, the ledger row, the rollups it moves
and the QuotaAttainmentChanged events commit together: a source event counts exactly once in
effect (the inbox, the ledger keyed by the source event, and one open credit per opportunity or
holding), and reversals subtract exactly what was credited. Reads sum a few rollup rows (one
per month of the period), never the ledger.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from crm_common.errors import FieldViolation, InvalidArgument
from crm_common.products import ProductType
from crm_territory.adapters.quota_repository import AccountPlace, LedgerEntry, PipelineEntry
from crm_territory.domain.attainment import (
    MEASURE_OF_PRODUCT,
    Coverage,
    LeaderboardEntry,
    Pacing,
    Source,
    Standing,
    attribution,
    coverage,
    leaderboard,
    month_key,
    months_of,
    pacing,
)
from crm_territory.domain.quotas import Measure, MovePolicy, Period, PeriodKind, PlanStatus, Scope, ScopeKind
from crm_territory.service_layer.quotas import MAX_ID, ancestors
from crm_territory.service_layer.unit_of_work import TerritoryUnitOfWork

UowFactory = Callable[[], TerritoryUnitOfWork]
Clock = Callable[[], datetime]
MAX_LEADERBOARD = 1000


class AttainmentEvents(Protocol):
    def attainment_changed(self, change: AttainmentChange) -> Any: ...
    def quota_transferred(self, plan_id: str, plan_version: int, measure: Measure, period: Period, transfer: Any) -> Any: ...


@dataclass(frozen=True)
class AttainmentChange:
    scope: Scope
    measure: Measure
    period: Period
    delta: int
    actual: int
    target: int | None
    source: Source
    source_event_id: str
    object_id: str
    account_id: str


@dataclass(frozen=True)
class OpportunityFacts:
    """What the quota half reads of an opportunity event's snapshot."""

    opportunity_id: str
    account_id: str
    product: str
    amount: int
    owner_id: str
    team_id: str
    territory_id: str
    # OPEN, WON or LOST
    status: str
    probability_percent: int
    expected_close: date | None
    occurred_at: datetime


@dataclass(frozen=True)
class HoldingFacts:
    holding_id: str
    account_id: str
    product: str
    # The amount credited: a deposit's balance, a loan's amount granted, a policy's premium.
    amount: int
    opened_on: date
    from_opportunity: bool


@dataclass(frozen=True)
class Assignment:
    account_id: str
    territory_id: str
    owner_id: str
    team_id: str
    effective_date: date
    occurred_at: datetime


@dataclass(frozen=True)
class AttainmentFigures:
    scope: Scope
    measure: Measure
    period: Period
    target: int | None
    actual: int
    pacing: Pacing | None
    plan_version: int

    @property
    def attainment_bp(self) -> int | None:
        return Standing(self.scope, self.target or 0, self.actual).attainment_bp


@dataclass(frozen=True)
class CoverageFigures:
    scope: Scope
    measure: Measure
    period: Period
    coverage: Coverage


def scopes_for(owner_id: str, team_id: str, territory_id: str) -> tuple[Scope, ...]:
    """The scopes a credit goes to: the RM, the team, the territory and each of its ancestors."""
    found: list[Scope] = []
    if owner_id:
        found.append(Scope(ScopeKind.RM, owner_id))
    if team_id:
        found.append(Scope(ScopeKind.TEAM, team_id))
    if territory_id:
        found.extend(Scope(ScopeKind.TERRITORY, t) for t in ancestors(territory_id))
    return tuple(found)


def territory_in(scopes: tuple[Scope, ...]) -> str:
    return next((s.id for s in scopes if s.kind is ScopeKind.TERRITORY), "")


def periods_of(day: date) -> list[Period]:
    """The month, quarter and year a day falls in (shortest first)."""
    return [
        Period(PeriodKind.MONTH, day.year, day.month),
        Period(PeriodKind.QUARTER, day.year, (day.month - 1) // 3 + 1),
        Period(PeriodKind.YEAR, day.year),
    ]


def _measure(product: str) -> Measure | None:
    known = ProductType.__members__.get(product)
    return MEASURE_OF_PRODUCT.get(known) if known else None


class AttainmentUseCases:
    def __init__(self, uow: UowFactory, events: AttainmentEvents, clock: Clock) -> None:
        self.uow = uow
        self.events = events
        self.clock = clock

    # Credits and reversals.
    def opportunity_won(self, consumer: str, event_id: str, facts: OpportunityFacts, won_amount: int, closed_on: date) -> str:
        measure = _measure(facts.product)
        with self.uow() as uow:
            if not uow.claim_event(consumer, event_id):
                return "duplicate"
            self._track_pipeline(uow, facts, measure)
            if measure is None:
                uow.commit()
                return f"{facts.product or 'no product'}: counts in no quota"
            if uow.attainment.open_credit("opportunity", facts.opportunity_id) is not None:
                uow.commit()
                return "already counted"
            scopes = self._credit_scopes(uow, facts.account_id, facts.owner_id, facts.team_id, facts.territory_id, measure, closed_on)
            amount = 1 if measure.is_count else won_amount
            entry = LedgerEntry(
                event_id, Source.OPPORTUNITY_WON, "opportunity", facts.opportunity_id, facts.account_id, measure, amount, month_key(closed_on), scopes
            )
            self._apply(uow, entry, open_credit=True)
            uow.commit()
        return f"{amount} credited to {len(scopes)} scope(s)"

    def opportunity_reopened(self, consumer: str, event_id: str, facts: OpportunityFacts) -> str:
        with self.uow() as uow:
            if not uow.claim_event(consumer, event_id):
                return "duplicate"
            self._track_pipeline(uow, facts, _measure(facts.product))
            result = self._reverse(uow, "opportunity", facts.opportunity_id, event_id, Source.OPPORTUNITY_REOPENED)
            uow.commit()
        return result

    def holding_opened(self, consumer: str, event_id: str, holding: HoldingFacts) -> str:
        measure = _measure(holding.product)
        with self.uow() as uow:
            if not uow.claim_event(consumer, event_id):
                return "duplicate"
            if holding.from_opportunity:
                uow.commit()
                return "opened by a won opportunity: counted by the win"
            if measure is None:
                uow.commit()
                return f"{holding.product or 'no product'}: counts in no quota"
            place = uow.attainment.account(holding.account_id)
            if place is None:
                uow.commit()
                return "the account has no territory yet: not counted"
            if uow.attainment.open_credit("holding", holding.holding_id) is not None:
                uow.commit()
                return "already counted"
            scopes = self._credit_scopes(uow, holding.account_id, place.owner_id, place.team_id, place.territory_id, measure, holding.opened_on)
            amount = 1 if measure.is_count else holding.amount
            entry = LedgerEntry(
                event_id,
                Source.HOLDING_OPENED,
                "holding",
                holding.holding_id,
                holding.account_id,
                measure,
                amount,
                month_key(holding.opened_on),
                scopes,
            )
            self._apply(uow, entry, open_credit=True)
            uow.commit()
        return f"{amount} credited to {len(scopes)} scope(s)"

    def holding_closed(self, consumer: str, event_id: str, holding_id: str) -> str:
        with self.uow() as uow:
            if not uow.claim_event(consumer, event_id):
                return "duplicate"
            result = self._reverse(uow, "holding", holding_id, event_id, Source.HOLDING_CLOSED)
            uow.commit()
        return result

    def _reverse(self, uow: TerritoryUnitOfWork, kind: str, object_id: str, event_id: str, source: Source) -> str:
        credit = uow.attainment.open_credit(kind, object_id)
        if credit is None:
            return "nothing counted to reverse"
        reversal = LedgerEntry(event_id, source, kind, object_id, credit.account_id, credit.measure, -credit.amount, credit.month, credit.scopes)
        uow.attainment.close(kind, object_id)
        self._apply(uow, reversal, open_credit=False)
        return f"{credit.amount} subtracted from {len(credit.scopes)} scope(s)"

    def _apply(self, uow: TerritoryUnitOfWork, entry: LedgerEntry, open_credit: bool) -> None:
        """The ledger row, its rollups and one QuotaAttainmentChanged per scope."""
        uow.attainment.record(entry, territory_in(entry.scopes), self.clock())
        if open_credit:
            uow.attainment.open(entry)
        year, month = (int(part) for part in entry.month.split("-"))
        day = date(year, month, 1)
        for scope in entry.scopes:
            period, target = self._quota_period(uow, scope, entry.measure, day)
            actual = uow.attainment.actual(scope, entry.measure, months_of(period))
            change = AttainmentChange(
                scope,
                entry.measure,
                period,
                entry.amount,
                actual,
                target,
                Source(entry.source),
                entry.source_event_id,
                entry.object_id,
                entry.account_id,
            )
            uow.publish(self.events.attainment_changed(change))

    @staticmethod
    def _quota_period(uow: TerritoryUnitOfWork, scope: Scope, measure: Measure, day: date) -> tuple[Period, int | None]:
        """The shortest period containing the day with a quota in force for the scope, else its month."""
        periods = periods_of(day)
        for period in periods:
            found = uow.quotas.target(period, measure, scope)
            if found is not None:
                return period, found[0]
        return periods[0], None

    def _credit_scopes(
        self, uow: TerritoryUnitOfWork, account_id: str, owner_id: str, team_id: str, territory_id: str, measure: Measure, booked_on: date
    ) -> tuple[Scope, ...]:
        """Whose figures a deal counts in: its owner's (the account's place fills what the event
        leaves empty), or, on an account moved this period under a KEEP plan, the previous owner's."""
        place = uow.attainment.account(account_id) if account_id else None
        if place is not None:
            owner_id = owner_id or place.owner_id
            if owner_id == place.owner_id:
                team_id = team_id or place.team_id
                territory_id = territory_id or place.territory_id
        after = scopes_for(owner_id, team_id, territory_id)
        if place is None or not place.previous_owner_id or owner_id != place.owner_id:
            return after
        before = scopes_for(place.previous_owner_id, place.previous_team_id, place.previous_territory_id)
        for period in periods_of(booked_on):
            for stored in uow.quotas.approved_holding(period, [Scope(ScopeKind.RM, place.previous_owner_id)]):
                plan = stored.plan
                if plan.measure is measure and plan.move_policy is MovePolicy.KEEP:
                    return attribution(MovePolicy.KEEP, period, place.effective_date, booked_on, before, after)
        return after

    # The open pipeline.
    def opportunity_changed(self, consumer: str, event_id: str, facts: OpportunityFacts) -> str:
        """OpportunityCreated/Updated/StageChanged/Lost: its weighted amount in the open pipeline."""
        with self.uow() as uow:
            if not uow.claim_event(consumer, event_id):
                return "duplicate"
            result = self._track_pipeline(uow, facts, _measure(facts.product))
            uow.commit()
        return result

    def _track_pipeline(self, uow: TerritoryUnitOfWork, facts: OpportunityFacts, measure: Measure | None) -> str:
        if measure is None:
            return "counts in no quota"
        before = uow.attainment.pipeline_entry(facts.opportunity_id)
        if before is not None and before.event_time > facts.occurred_at:
            return "an older event than the one applied: ignored"
        weighted = facts.probability_percent if measure.is_count else facts.amount * facts.probability_percent // 100
        scopes = self._pipeline_scopes(uow, facts)
        month = month_key(facts.expected_close) if facts.expected_close else ""
        after = PipelineEntry(facts.opportunity_id, measure, month, weighted, facts.status == "OPEN", scopes, facts.occurred_at)
        uow.attainment.put_pipeline(before, after)
        return f"pipeline {'open' if after.is_open else 'closed'}: {weighted}"

    @staticmethod
    def _pipeline_scopes(uow: TerritoryUnitOfWork, facts: OpportunityFacts) -> tuple[Scope, ...]:
        owner, team, territory = facts.owner_id, facts.team_id, facts.territory_id
        if facts.account_id and not (owner and team and territory):
            place = uow.attainment.account(facts.account_id)
            if place is not None:
                owner = owner or place.owner_id
                if owner == place.owner_id:
                    team, territory = team or place.team_id, territory or place.territory_id
        return scopes_for(owner, team, territory)

    # Accounts moving between territories and RMs.
    def account_assigned(self, consumer: str, event_id: str, assignment: Assignment) -> str:
        """Records the account's place; a move mid-period under PRO_RATE plans moves the account's
        share of quota, for the days from the move on, to the new scopes (QuotaTransferred)."""
        with self.uow() as uow:
            if not uow.claim_event(consumer, event_id):
                return "duplicate"
            before = uow.attainment.account(assignment.account_id)
            if before is not None and before.event_time is not None and before.event_time > assignment.occurred_at:
                uow.commit()
                return "an older assignment than the one applied: ignored"
            moved = before is not None and (before.owner_id, before.team_id, before.territory_id) != (
                assignment.owner_id,
                assignment.team_id,
                assignment.territory_id,
            )
            place = AccountPlace(
                assignment.account_id,
                assignment.territory_id,
                assignment.owner_id,
                assignment.team_id,
                assignment.effective_date,
                before.territory_id if moved and before else "",
                before.owner_id if moved and before else "",
                before.team_id if moved and before else "",
                assignment.occurred_at,
            )
            transfers = self._transfer_quota(uow, before, place) if moved and before is not None else 0
            uow.attainment.put_account(place, exists=before is not None)
            uow.commit()
        return f"moved: {transfers} quota transfer(s)" if moved else "recorded"

    def _transfer_quota(self, uow: TerritoryUnitOfWork, before: AccountPlace, after: AccountPlace) -> int:
        pairs = [
            (Scope(ScopeKind.RM, before.owner_id), Scope(ScopeKind.RM, after.owner_id)),
            (Scope(ScopeKind.TEAM, before.team_id), Scope(ScopeKind.TEAM, after.team_id)),
            (Scope(ScopeKind.TERRITORY, before.territory_id), Scope(ScopeKind.TERRITORY, after.territory_id)),
        ]
        pairs = [(a, b) for a, b in pairs if a.id and b.id and a != b]
        count = 0
        for period in periods_of(after.effective_date):
            for stored in uow.quotas.approved_holding(period, [a for a, _ in pairs]):
                plan = stored.plan
                if plan.move_policy is not MovePolicy.PRO_RATE or plan.status is not PlanStatus.APPROVED:
                    continue
                last_year = months_of(period.last_year())
                account_actual = uow.attainment.account_actual(after.account_id, plan.measure, last_year)
                for from_scope, to_scope in pairs:
                    if from_scope not in plan.lines or to_scope not in plan.lines:
                        continue
                    source = plan.line(from_scope)
                    if source.last_year_actual > 0:
                        share = source.target * max(account_actual, 0) // source.last_year_actual
                    else:
                        share = source.target // (uow.attainment.book_size(before.owner_id) or 1)
                    share = min(share, source.target)
                    transfer = plan.transfer_on_move(from_scope, to_scope, share, after.effective_date, 1)
                    if transfer is None or not transfer.amount:
                        continue
                    stored.updated_at = self.clock()
                    uow.quotas.update(stored, [plan.line(from_scope), plan.line(to_scope)])
                    uow.quotas.add_transfer(plan, transfer, self.clock())
                    uow.quotas.set_target(plan, from_scope, plan.line(from_scope).target)
                    uow.quotas.set_target(plan, to_scope, plan.line(to_scope).target)
                    uow.publish(self.events.quota_transferred(plan.plan_id, plan.version, plan.measure, period, transfer))
                    count += 1
        return count

    # Reads: from the rollups only.
    def attainment(self, scope: Scope | None, measure: Measure | None, period: Period, as_of: date | None) -> AttainmentFigures:
        scope, measure = _check_read(scope, measure)
        today = self.clock().date()
        day = as_of or (period.end if today > period.end else today)
        with self.uow() as uow:
            found = uow.quotas.target(period, measure, scope)
            actual = uow.attainment.actual(scope, measure, months_of(period))
        target, version = found if found else (None, 0)
        return AttainmentFigures(
            scope, measure, period, target, actual, pacing(target or 0, actual, period, day) if target is not None else None, version
        )

    def coverage(self, scope: Scope | None, measure: Measure | None, period: Period) -> CoverageFigures:
        scope, measure = _check_read(scope, measure)
        months = months_of(period)
        with self.uow() as uow:
            found = uow.quotas.target(period, measure, scope)
            actual = uow.attainment.actual(scope, measure, months)
            weighted = uow.attainment.pipeline(scope, measure, months)
        if measure.is_count:
            weighted //= 100
        return CoverageFigures(scope, measure, period, coverage(weighted, found[0] if found else 0, actual))

    def leaderboard(self, territory_id: str, measure: Measure | None, period: Period, ranked: ScopeKind | None, limit: int) -> list[LeaderboardEntry]:
        violations = []
        territory_id = territory_id.strip()
        if not territory_id:
            violations.append(FieldViolation("territory_id", "required"))
        elif len(territory_id) > MAX_ID:
            violations.append(FieldViolation("territory_id", f"at most {MAX_ID} characters"))
        if measure is None:
            violations.append(FieldViolation("measure", "required"))
        if not 0 <= limit <= MAX_LEADERBOARD:
            violations.append(FieldViolation("limit", f"1..{MAX_LEADERBOARD}, or 0 for 50"))
        if violations:
            raise InvalidArgument(violations)
        assert measure is not None
        kind = ranked or ScopeKind.RM
        with self.uow() as uow:
            targets = uow.quotas.targets_under(period, measure, kind, territory_id)
            actuals = uow.attainment.actuals_under(kind, measure, months_of(period), territory_id)
        ids = set(targets) | set(actuals)
        if kind is ScopeKind.TERRITORY:
            depth = territory_id.count(".") + 1
            ids = {i for i in ids if i.startswith(territory_id + ".") and i.count(".") == depth}
        standings = [Standing(Scope(kind, i), targets.get(i, 0), actuals.get(i, 0)) for i in ids]
        return leaderboard(standings, limit or 50)


def _check_read(scope: Scope | None, measure: Measure | None) -> tuple[Scope, Measure]:
    violations = []
    if scope is None:
        violations.append(FieldViolation("scope.kind", "required: TERRITORY, TEAM or RM"))
    elif not scope.id.strip():
        violations.append(FieldViolation("scope.id", "required"))
    elif len(scope.id) > MAX_ID:
        violations.append(FieldViolation("scope.id", f"at most {MAX_ID} characters"))
    if measure is None:
        violations.append(FieldViolation("measure", "required"))
    if violations:
        raise InvalidArgument(violations)
    assert scope is not None and measure is not None
    return scope, measure
