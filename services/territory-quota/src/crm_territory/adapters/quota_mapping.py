"""The quota half's contract ↔ domain mapping: periods, measures, scopes, measure values, plans,
attainment, coverage and leaderboard entries. Bad input raises InvalidArgument naming the field."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from crm.common.v1 import common_pb2
from crm.territory.v1 import territory_pb2
from crm_common.errors import FieldViolation, InvalidArgument
from crm_common.grpc.enums import enum_name, enum_number
from crm_territory.adapters.quota_repository import StoredPlan
from crm_territory.domain.attainment import LeaderboardEntry, Pacing
from crm_territory.domain.quotas import Measure, MovePolicy, Period, PeriodKind, PlanStatus, QuotaLine, QuotaTransfer, Scope, ScopeKind
from crm_territory.service_layer.attainment import Assignment, AttainmentFigures, CoverageFigures, HoldingFacts, OpportunityFacts

VND = "VND"


def period_from_proto(message: territory_pb2.Period, field: str = "period") -> Period:
    kind = enum_name(territory_pb2.PeriodKind, message.kind, field=f"{field}.kind")
    violations = []
    if not kind:
        violations.append(FieldViolation(f"{field}.kind", "required: MONTH, QUARTER or YEAR"))
    if not 1900 <= message.year <= 9999:
        violations.append(FieldViolation(f"{field}.year", "1900..9999"))
    top = {"MONTH": 12, "QUARTER": 4, "YEAR": 1}.get(kind, 0)
    index = message.index or (1 if kind == "YEAR" else 0)
    if kind and not 1 <= index <= top:
        violations.append(FieldViolation(f"{field}.index", f"1..{top} for a {kind.lower()}"))
    if violations:
        raise InvalidArgument(violations)
    return Period(PeriodKind(kind), message.year, index)


def optional_period(message: territory_pb2.Period, field: str = "period") -> Period | None:
    return None if message.kind == 0 and not message.year and not message.index else period_from_proto(message, field)


def period_to_proto(period: Period) -> territory_pb2.Period:
    return territory_pb2.Period(kind=enum_number(territory_pb2.PeriodKind, period.kind), year=period.year, index=period.index)


def measure_from_proto(number: int, field: str = "measure") -> Measure | None:
    name = enum_name(territory_pb2.QuotaMeasure, number, field=field)
    return Measure(name) if name else None


def scope_from_proto(message: territory_pb2.QuotaScope, field: str) -> Scope | None:
    kind = enum_name(territory_pb2.QuotaScopeKind, message.kind, field=f"{field}.kind")
    return Scope(ScopeKind(kind), message.id.strip()) if kind else None


def scope_kind_from_proto(number: int, field: str) -> ScopeKind | None:
    name = enum_name(territory_pb2.QuotaScopeKind, number, field=field)
    return ScopeKind(name) if name else None


def scope_to_proto(scope: Scope) -> territory_pb2.QuotaScope:
    return territory_pb2.QuotaScope(kind=enum_number(territory_pb2.QuotaScopeKind, scope.kind), id=scope.id)


def value_from_proto(message: territory_pb2.MeasureValue, measure: Measure | None, field: str) -> int:
    """A count for NEW_CARDS, integer đồng for the others."""
    which = message.WhichOneof("value")
    if which is None:
        raise InvalidArgument(FieldViolation(field, "required"))
    if measure is not None and measure.is_count and which != "count":
        raise InvalidArgument(FieldViolation(f"{field}.count", f"{measure} is a count"))
    if measure is not None and not measure.is_count and which != "money":
        raise InvalidArgument(FieldViolation(f"{field}.money", f"{measure} is an amount of money (VND)"))
    if which == "money" and message.money.currency_code not in ("", VND):
        raise InvalidArgument(FieldViolation(f"{field}.money.currency_code", "quotas are in VND"))
    amount = message.count if which == "count" else message.money.amount_minor
    if amount < 0:
        raise InvalidArgument(FieldViolation(f"{field}.{which}", "0 or more"))
    return int(amount)


def value_to_proto(amount: int, measure: Measure) -> territory_pb2.MeasureValue:
    if measure.is_count:
        return territory_pb2.MeasureValue(count=amount)
    return territory_pb2.MeasureValue(money=common_pb2.Money(currency_code=VND, amount_minor=amount))


def date_from_proto(message: common_pb2.Date, field: str) -> date:
    try:
        return date(message.year, message.month, message.day)
    except ValueError:
        raise InvalidArgument(FieldViolation(field, "not a calendar date")) from None


def date_to_proto(day: date) -> common_pb2.Date:
    return common_pb2.Date(year=day.year, month=day.month, day=day.day)


def _timestamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value.astimezone(UTC))
    return stamp


def transfer_to_proto(transfer: QuotaTransfer, measure: Measure) -> territory_pb2.QuotaTransfer:
    return territory_pb2.QuotaTransfer(
        from_scope=scope_to_proto(transfer.from_scope),
        to_scope=scope_to_proto(transfer.to_scope),
        value=value_to_proto(transfer.amount, measure),
        effective_date=date_to_proto(transfer.effective),
        accounts=transfer.accounts,
    )


def plan_to_proto(stored: StoredPlan) -> territory_pb2.QuotaPlan:
    plan = stored.plan
    totals: dict[Scope, int] = {}
    for line in plan.lines.values():
        if line.parent is not None:
            totals[line.parent] = totals.get(line.parent, 0) + line.target
    order = stored.order or list(plan.lines)

    def line_to_proto(line: QuotaLine) -> territory_pb2.QuotaLine:
        message = territory_pb2.QuotaLine(
            scope=scope_to_proto(line.scope),
            last_year_actual=value_to_proto(line.last_year_actual, plan.measure),
            seeded=value_to_proto(line.seeded, plan.measure),
            allocated=value_to_proto(line.allocated, plan.measure),
            target=value_to_proto(line.target, plan.measure),
            adjustment_note=line.adjustment_note,
            transfers=[transfer_to_proto(t, plan.measure) for t in line.transfers],
        )
        if line.parent is not None:
            message.parent.CopyFrom(scope_to_proto(line.parent))
        if line.scope in totals:
            message.children_total.CopyFrom(value_to_proto(totals[line.scope], plan.measure))
            message.difference.CopyFrom(value_to_proto(line.target - totals[line.scope], plan.measure))
        return message

    message = territory_pb2.QuotaPlan(
        plan_id=plan.plan_id,
        version=plan.version,
        period=period_to_proto(plan.period),
        measure=enum_number(territory_pb2.QuotaMeasure, plan.measure),
        root=scope_to_proto(plan.root),
        status=enum_number(territory_pb2.QuotaPlanStatus, plan.status),
        move_policy=enum_number(territory_pb2.MovePolicy, plan.move_policy),
        growth_bp=plan.growth_bp,
        lines=[line_to_proto(plan.lines[scope]) for scope in order],
        maker=plan.maker,
        checker=plan.checker,
        reject_reason=plan.reject_reason,
        differences_accepted=plan.differences_accepted,
        audit=common_pb2.AuditStamps(
            create_time=_timestamp(stored.created_at),
            created_by=stored.created_by,
            update_time=_timestamp(stored.updated_at),
            updated_by=stored.updated_by,
        ),
    )
    if stored.submit_time is not None:
        message.submit_time.CopyFrom(_timestamp(stored.submit_time))
    if stored.decide_time is not None:
        message.decide_time.CopyFrom(_timestamp(stored.decide_time))
    return message


def move_policy_from_proto(number: int) -> MovePolicy | None:
    name = enum_name(territory_pb2.MovePolicy, number, field="move_policy")
    return MovePolicy(name) if name else None


def status_from_proto(number: int) -> PlanStatus | None:
    name = enum_name(territory_pb2.QuotaPlanStatus, number, field="status")
    return PlanStatus(name) if name else None


def pacing_to_proto(pacing: Pacing, measure: Measure) -> territory_pb2.Pacing:
    message = territory_pb2.Pacing(
        expected=value_to_proto(pacing.expected, measure),
        # Signed: behind pace is negative.
        gap=value_to_proto(pacing.gap, measure),
        projected=value_to_proto(pacing.projected, measure),
        days_elapsed=pacing.days_elapsed,
        days_in_period=pacing.days_in_period,
    )
    if pacing.pace_bp is not None:
        message.pace_bp = pacing.pace_bp
    return message


def attainment_to_proto(figures: AttainmentFigures) -> territory_pb2.Attainment:
    message = territory_pb2.Attainment(
        scope=scope_to_proto(figures.scope),
        measure=enum_number(territory_pb2.QuotaMeasure, figures.measure),
        period=period_to_proto(figures.period),
        actual=value_to_proto(figures.actual, figures.measure),
        plan_version=figures.plan_version,
    )
    if figures.target is not None:
        message.target.CopyFrom(value_to_proto(figures.target, figures.measure))
        if figures.attainment_bp is not None:
            message.attainment_bp = figures.attainment_bp
    if figures.pacing is not None:
        message.pacing.CopyFrom(pacing_to_proto(figures.pacing, figures.measure))
    return message


def coverage_to_proto(figures: CoverageFigures) -> territory_pb2.Coverage:
    message = territory_pb2.Coverage(
        scope=scope_to_proto(figures.scope),
        measure=enum_number(territory_pb2.QuotaMeasure, figures.measure),
        period=period_to_proto(figures.period),
        weighted_pipeline=value_to_proto(figures.coverage.weighted_pipeline, figures.measure),
        remaining=value_to_proto(figures.coverage.remaining, figures.measure),
    )
    if figures.coverage.coverage_bp is not None:
        message.coverage_bp = figures.coverage.coverage_bp
    return message


def leaderboard_entry_to_proto(entry: LeaderboardEntry, measure: Measure) -> territory_pb2.LeaderboardEntry:
    standing = entry.standing
    message = territory_pb2.LeaderboardEntry(
        rank=entry.rank,
        scope=scope_to_proto(standing.scope),
        target=value_to_proto(standing.target, measure),
        actual=value_to_proto(standing.actual, measure),
    )
    if standing.attainment_bp is not None:
        message.attainment_bp = standing.attainment_bp
    return message


def _occurred(metadata: common_pb2.EventMetadata) -> datetime:
    return metadata.occur_time.ToDatetime(tzinfo=UTC) if metadata.HasField("occur_time") else datetime.now(UTC)


def opportunity_facts(event: Any) -> OpportunityFacts:
    """What an opportunity event's snapshot says (OpportunityCreated/Updated/StageChanged/Won/Lost/Reopened)."""
    from crm.opportunity.v1 import opportunity_pb2

    o = event.opportunity
    expected = o.expected_close_time.ToDatetime(tzinfo=UTC).date() if o.HasField("expected_close_time") else None
    return OpportunityFacts(
        opportunity_id=o.opportunity_id,
        account_id=o.account_id,
        product=enum_name(common_pb2.ProductType, o.product),
        amount=o.amount.amount_minor,
        owner_id=o.owner_id,
        team_id=o.team_id,
        territory_id=o.territory_id,
        status=enum_name(opportunity_pb2.OpportunityStatus, o.status),
        probability_percent=o.probability_percent,
        expected_close=expected,
        occurred_at=_occurred(event.metadata),
    )


def closed_on(event: Any) -> date:
    """The day a won opportunity closed (the event's close_time, else the snapshot's, else when it was published)."""
    for stamp in (event.close_time, event.opportunity.close_time):
        if stamp.seconds:
            return stamp.ToDatetime(tzinfo=UTC).date()
    return _occurred(event.metadata).date()


def holding_facts(event: Any) -> HoldingFacts:
    """A HoldingOpened's holding: deposits and insurance count their balance, loans and cards their limit."""
    h = event.holding
    product = enum_name(common_pb2.ProductType, h.product_type)
    amount = h.limit.amount_minor if product in ("UNSECURED_LOAN", "MORTGAGE", "AUTO_LOAN", "CREDIT_CARD") else h.balance.amount_minor
    opened = date(h.open_date.year, h.open_date.month, h.open_date.day) if h.open_date.year else _occurred(event.metadata).date()
    from crm.account.v1 import account_pb2

    from_opportunity = bool(h.opportunity_id) or h.source == account_pb2.HOLDING_SOURCE_OPPORTUNITY
    return HoldingFacts(h.holding_id, h.account_id, product, max(amount, 0), opened, from_opportunity)


def assignment_facts(event: Any) -> Assignment:
    a = event.assignment
    occurred = _occurred(event.metadata)
    effective = a.effective_time.ToDatetime(tzinfo=UTC).date() if a.HasField("effective_time") else occurred.date()
    return Assignment(a.account_id, a.territory_id, a.owner_id, a.team_id, effective, occurred)
