"""The territory half's contract ↔ domain mapping, and the events it publishes
(crm.territory.v1): used by the servicer, the worker and the use cases' event builder."""

from __future__ import annotations

from datetime import date
from typing import Any

from crm.common.v1 import common_pb2
from crm.territory.v1 import events_pb2, territory_pb2
from crm_common.errors import FieldViolation, InvalidArgument, ValidationCollector
from crm_common.events.envelope import new_event
from crm_common.grpc.enums import UNKNOWN, enum_name, enum_number
from crm_common.products import ProductType
from crm_territory.adapters.events import PRODUCER
from crm_territory.adapters.territory_repository import AssignmentEntry, ModelVersionRow
from crm_territory.domain.hierarchy import Dimensions, Level, NodeSpec, ProductLine, Segment, Territory, WealthTier
from crm_territory.domain.members import AccessScope, Member, Role, Team
from crm_territory.domain.realignment import MoveCounts, Realignment
from crm_territory.domain.rules import Conditions, OwnerStrategy, Rule, RuleEvaluation, Subject, SubjectKind

VND = "VND"


def _enum(enum: Any, number: int, field: str, errors: ValidationCollector, required: bool = False) -> str:
    name = enum_name(enum, number)
    if name == UNKNOWN:
        errors.add(field, f"unknown value {number}")
        return ""
    if required and not name:
        errors.add(field, "required")
    return name


def date_from_proto(value: common_pb2.Date, field: str) -> date | None:
    if not (value.year or value.month or value.day):
        return None
    try:
        return date(value.year, value.month, value.day)
    except ValueError:
        raise InvalidArgument(FieldViolation(field, "not a calendar date")) from None


def date_to_proto(value: date) -> common_pb2.Date:
    return common_pb2.Date(year=value.year, month=value.month, day=value.day)


def _money(message: Any, field: str, errors: ValidationCollector) -> int | None:
    if message is None:
        return None
    if message.currency_code and message.currency_code != VND:
        errors.add(f"{field}.currency_code", "VND only")
    return int(message.amount_minor)


def nodes_from_proto(nodes: Any) -> list[NodeSpec]:
    errors = ValidationCollector()
    specs = []
    for i, n in enumerate(nodes):
        where = f"nodes[{i}]"
        level = _enum(territory_pb2.TerritoryLevel, n.level, f"{where}.level", errors, required=True)
        product = _enum(territory_pb2.ProductLine, n.product_line, f"{where}.product_line", errors)
        tier = _enum(territory_pb2.WealthTier, n.wealth_tier, f"{where}.wealth_tier", errors)
        segment = _enum(territory_pb2.Segment, n.segment, f"{where}.segment", errors)
        specs.append(
            NodeSpec(
                n.code.strip(),
                n.parent_code.strip(),
                n.name,
                Level(level) if level else Level.BRANCH,
                n.province_code.strip(),
                n.branch_id.strip(),
                Dimensions(ProductLine(product) if product else None, WealthTier(tier) if tier else None, Segment(segment) if segment else None),
            )
        )
    errors.raise_if_any()
    return specs


def rules_from_proto(rules: Any, field: str = "rules") -> list[Rule]:
    errors = ValidationCollector()
    out = []
    for i, r in enumerate(rules):
        where = f"{field}[{i}]"
        strategy = _enum(territory_pb2.OwnerStrategy, r.strategy, f"{where}.strategy", errors, required=True)
        c = r.conditions
        cw = f"{where}.conditions"
        products = [_enum(common_pb2.ProductType, p, f"{cw}.products", errors) for p in c.products]
        tiers = [_enum(territory_pb2.WealthTier, t, f"{cw}.tiers", errors) for t in c.tiers]
        segments = [_enum(territory_pb2.Segment, s, f"{cw}.segments", errors) for s in c.segments]
        for name in ("products", "tiers", "segments"):
            if 0 in getattr(c, name):
                errors.add(f"{cw}.{name}", "UNSPECIFIED is not a value to match")
        conditions = Conditions(
            province_codes=frozenset(p.strip() for p in c.province_codes),
            branch_ids=frozenset(b.strip() for b in c.branch_ids),
            products=frozenset(ProductType(p) for p in products if p),
            tiers=frozenset(WealthTier(t) for t in tiers if t),
            segments=frozenset(Segment(s) for s in segments if s),
            languages=frozenset(lang.strip() for lang in c.languages),
            aum_min=_money(c.aum_min if c.HasField("aum_min") else None, f"{cw}.aum_min", errors),
            aum_max=_money(c.aum_max if c.HasField("aum_max") else None, f"{cw}.aum_max", errors),
            lead_score_min=c.lead_score_min if c.HasField("lead_score_min") else None,
            lead_score_max=c.lead_score_max if c.HasField("lead_score_max") else None,
        )
        out.append(
            Rule(
                rule_id=r.rule_id.strip(),
                priority=r.priority,
                territory_id=r.territory_id.strip(),
                strategy=OwnerStrategy(strategy) if strategy else OwnerStrategy.NAMED_RM,
                conditions=conditions,
                owner_id=r.owner_id.strip(),
                team_id=r.team_id.strip(),
                name=r.name,
            )
        )
    errors.raise_if_any()
    return out


def subject_from_proto(s: territory_pb2.SubjectAttributes, field: str, kind: SubjectKind) -> Subject:
    errors = ValidationCollector()
    given = _enum(territory_pb2.SubjectKind, s.kind, f"{field}.kind", errors)
    if given and given != kind:
        errors.add(f"{field}.kind", f"must be {kind} (or unset) here")
    products = [_enum(common_pb2.ProductType, p, f"{field}.products", errors) for p in s.products]
    tier = _enum(territory_pb2.WealthTier, s.tier, f"{field}.tier", errors)
    segment = _enum(territory_pb2.Segment, s.segment, f"{field}.segment", errors)
    aum = _money(s.aum if s.HasField("aum") else None, f"{field}.aum", errors)
    errors.raise_if_any()
    return Subject(
        kind,
        s.subject_id.strip(),
        province_code=s.province_code.strip(),
        branch_id=s.branch_id.strip(),
        products=frozenset(ProductType(p) for p in products if p),
        tier=WealthTier(tier) if tier else None,
        segment=Segment(segment) if segment else None,
        aum=aum,
        lead_score=s.lead_score if s.HasField("lead_score") else None,
        language=_primary_language(s.language),
    )


def _primary_language(tag: str) -> str:
    return tag.strip().split("-")[0].lower()


def team_from_proto(team: territory_pb2.Team) -> Team:
    return Team(team.team_id.strip(), team.territory_id.strip(), team.name)


def members_from_proto(members: Any) -> list[Member]:
    errors = ValidationCollector()
    out = []
    for i, m in enumerate(members):
        where = f"members[{i}]"
        role = _enum(territory_pb2.MemberRole, m.role, f"{where}.role", errors, required=True)
        skills = [_enum(common_pb2.ProductType, p, f"{where}.skills", errors) for p in m.skills]
        out.append(
            Member(
                subject_id=m.subject_id.strip(),
                territory_id=m.territory_id.strip(),
                role=Role(role) if role else Role.RM,
                team_id=m.team_id.strip(),
                languages=frozenset(_primary_language(lang) for lang in m.languages),
                skills=frozenset(ProductType(s) for s in skills if s),
                capacity=m.capacity,
                active=m.active,
                display_name=m.display_name,
            )
        )
    errors.raise_if_any()
    return out


# Domain → contract -----------------------------------------------------------------------------


def territory_to_proto(t: Territory, version: int) -> territory_pb2.Territory:
    from crm_common import vietnam

    province = vietnam.province(t.province_code) if t.province_code else None
    return territory_pb2.Territory(
        territory_id=t.territory_id,
        code=t.code,
        parent_id=t.parent_id,
        name=t.name,
        level=enum_number(territory_pb2.TerritoryLevel, t.level),
        province_code=t.province_code,
        province_name=province.name if province else "",
        branch_id=t.branch_id,
        product_line=enum_number(territory_pb2.ProductLine, t.dimensions.product_line),
        wealth_tier=enum_number(territory_pb2.WealthTier, t.dimensions.wealth_tier),
        segment=enum_number(territory_pb2.Segment, t.dimensions.segment),
        model_version=version,
    )


def version_to_proto(row: ModelVersionRow) -> territory_pb2.ModelVersion:
    message = territory_pb2.ModelVersion(
        version=row.version,
        effective_date=date_to_proto(row.effective_date),
        status=enum_number(territory_pb2.ModelVersionStatus, row.status),
        note=row.note,
        territory_count=row.territory_count,
        rule_count=row.rule_count,
        applied_by=row.applied_by,
    )
    message.audit.create_time.FromDatetime(row.created_at)
    message.audit.created_by = row.created_by
    message.audit.update_time.FromDatetime(row.updated_at)
    message.audit.updated_by = row.updated_by
    if row.applied_at is not None:
        message.apply_time.FromDatetime(row.applied_at)
    return message


def changes_to_proto(changes: Any) -> territory_pb2.HierarchyChanges:
    return territory_pb2.HierarchyChanges(
        added_territory_ids=changes.added,
        removed_territory_ids=changes.removed,
        moved=[territory_pb2.TerritoryMove(code=c, from_territory_id=a, to_territory_id=b) for c, a, b in changes.moved],
        changed_territory_ids=changes.changed,
    )


def _counts(counts: dict[str, MoveCounts]) -> list[territory_pb2.MoveCounts]:
    return [
        territory_pb2.MoveCounts(
            key=key,
            accounts_in=c.accounts_in,
            accounts_out=c.accounts_out,
            opportunities_in=c.opportunities_in,
            opportunities_out=c.opportunities_out,
        )
        for key, c in sorted(counts.items())
    ]


def realignment_to_proto(r: Realignment) -> territory_pb2.RealignmentSummary:
    return territory_pb2.RealignmentSummary(
        accounts_evaluated=r.accounts_evaluated,
        accounts_moved=r.accounts_moved,
        opportunities_moved=r.opportunities_moved,
        accounts_unassigned=r.accounts_unassigned,
        overrides_kept=r.overrides_kept,
        by_territory=_counts(r.by_territory),
        by_owner=_counts(r.by_owner),
    )


def rule_to_proto(r: Rule) -> territory_pb2.AssignmentRule:
    c = r.conditions
    conditions = territory_pb2.RuleConditions(
        province_codes=sorted(c.province_codes),
        branch_ids=sorted(c.branch_ids),
        products=[enum_number(common_pb2.ProductType, p) for p in sorted(c.products)],
        tiers=[enum_number(territory_pb2.WealthTier, t) for t in sorted(c.tiers)],
        segments=[enum_number(territory_pb2.Segment, s) for s in sorted(c.segments)],
        languages=sorted(c.languages),
    )
    if c.aum_min is not None:
        conditions.aum_min.CopyFrom(common_pb2.Money(currency_code=VND, amount_minor=c.aum_min))
    if c.aum_max is not None:
        conditions.aum_max.CopyFrom(common_pb2.Money(currency_code=VND, amount_minor=c.aum_max))
    if c.lead_score_min is not None:
        conditions.lead_score_min = c.lead_score_min
    if c.lead_score_max is not None:
        conditions.lead_score_max = c.lead_score_max
    return territory_pb2.AssignmentRule(
        rule_id=r.rule_id,
        name=r.name,
        priority=r.priority,
        conditions=conditions,
        territory_id=r.territory_id,
        strategy=enum_number(territory_pb2.OwnerStrategy, r.strategy),
        owner_id=r.owner_id,
        team_id=r.team_id,
    )


def team_to_proto(t: Team) -> territory_pb2.Team:
    return territory_pb2.Team(team_id=t.team_id, territory_id=t.territory_id, name=t.name)


def member_to_proto(m: Member) -> territory_pb2.Member:
    return territory_pb2.Member(
        subject_id=m.subject_id,
        display_name=m.display_name,
        territory_id=m.territory_id,
        team_id=m.team_id,
        role=enum_number(territory_pb2.MemberRole, m.role),
        languages=sorted(m.languages),
        skills=[enum_number(common_pb2.ProductType, s) for s in sorted(m.skills)],
        capacity=m.capacity,
        active=m.active,
    )


def _evaluation(e: RuleEvaluation) -> territory_pb2.RuleEvaluation:
    return territory_pb2.RuleEvaluation(
        rule_id=e.rule_id,
        priority=e.priority,
        matched=e.matched,
        failures=[territory_pb2.ConditionFailure(attribute=f.attribute, expected=f.expected, actual=f.actual) for f in e.failures],
    )


def decision_to_proto(d: Any) -> territory_pb2.AssignmentDecision:
    return territory_pb2.AssignmentDecision(
        territory_id=d.territory_id,
        owner_id=d.owner_id,
        team_id=d.team_id,
        rule_id=d.rule_id,
        strategy=enum_number(territory_pb2.OwnerStrategy, d.strategy),
        owner_reason=d.owner_reason,
        model_version=d.model_version,
        evaluations=[_evaluation(e) for e in d.evaluations],
        summary=d.summary,
    )


def assignment_to_proto(e: AssignmentEntry) -> territory_pb2.AccountAssignment:
    message = territory_pb2.AccountAssignment(
        account_id=e.account_id,
        territory_id=e.territory_id,
        owner_id=e.owner_id,
        team_id=e.team_id,
        rule_id=e.rule_id,
        model_version=e.model_version,
        source=enum_number(territory_pb2.AssignmentSource, e.source),
        reason=e.reason,
        assigned_by=e.assigned_by,
    )
    message.effective_time.FromDatetime(e.effective_at)
    if e.ended_at is not None:
        message.end_time.FromDatetime(e.ended_at)
    return message


def scope_to_proto(scope: AccessScope, version: int) -> territory_pb2.AccessScope:
    return territory_pb2.AccessScope(
        subject_id=scope.subject_id,
        territories=[territory_pb2.TerritoryGrant(territory_id=t, role=enum_number(territory_pb2.MemberRole, r)) for t, r in scope.territories],
        team_ids=scope.team_ids,
        branch_ids=scope.branch_ids,
        model_version=version,
    )


class ProtoAssignmentEvents:
    """The territory half's events (service_layer.assignment_support.AssignmentEvents)."""

    def account_assigned(self, entry: AssignmentEntry, previous: AssignmentEntry | None, correlation_id: str) -> Any:
        return new_event(
            events_pb2.AccountTerritoryAssigned,
            PRODUCER,
            correlation_id,
            assignment=assignment_to_proto(entry),
            previous_territory_id=previous.territory_id if previous else "",
            previous_owner_id=previous.owner_id if previous else "",
        )

    def lead_routed(self, lead_id: str, decision: Any, trigger: str, correlation_id: str) -> Any:
        return new_event(
            events_pb2.LeadRouted,
            PRODUCER,
            correlation_id,
            lead_id=lead_id,
            decision=decision_to_proto(decision),
            trigger=enum_number(events_pb2.RoutingTrigger, trigger),
        )

    def model_applied(self, row: ModelVersionRow, previous_version: int, realignment: Realignment, correlation_id: str) -> Any:
        return new_event(
            events_pb2.TerritoryModelApplied,
            PRODUCER,
            correlation_id,
            version=version_to_proto(row),
            previous_version=previous_version,
            realignment=realignment_to_proto(realignment),
        )

    def access_scope_changed(self, scope: AccessScope, model_version: int, correlation_id: str) -> Any:
        return new_event(events_pb2.AccessScopeChanged, PRODUCER, correlation_id, scope=scope_to_proto(scope, model_version))


# Other services' events → the attributes the rules read ------------------------------------------

_SALES_SEGMENT = {"PERSON": Segment.RETAIL, "BUSINESS": Segment.SME}


def account_subject_from_event(account: Any) -> Subject:
    """An account (crm.account.v1.Account) as the rules see it: province of its address, branch,
    value tier, segment by type (person: retail, business: SME), AUM, preferred language."""
    from crm.account.v1 import account_pb2

    tier = enum_name(account_pb2.ValueTier, account.value_tier)
    kind = enum_name(account_pb2.AccountType, account.type)
    aum = account.totals.aum.amount_minor if account.HasField("totals") and account.totals.HasField("aum") else None
    return Subject(
        SubjectKind.ACCOUNT,
        account.account_id,
        province_code=account.address.province_code,
        branch_id=account.branch_id,
        tier=WealthTier(tier) if tier in WealthTier.__members__ else None,
        segment=_SALES_SEGMENT.get(kind),
        aum=aum,
        language=_primary_language(account.preferred_language),
    )


def lead_subject_from_event(lead: Any) -> tuple[Subject, str]:
    """A captured lead (crm.lead.v1.Lead) as the rules see it, and its status."""
    from crm.lead.v1 import lead_pb2

    product = enum_name(common_pb2.ProductType, lead.product_interest)
    subject = Subject(
        SubjectKind.LEAD,
        lead.lead_id,
        province_code=lead.contact.province_code,
        products=frozenset({ProductType(product)}) if product in ProductType.__members__ else frozenset(),
        lead_score=lead.score,
    )
    return subject, enum_name(lead_pb2.LeadStatus, lead.status)
