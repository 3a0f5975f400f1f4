"""Reading and writing opportunities with SQLAlchemy Core: one statement per operation."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, bindparam, case, delete, func, insert, literal, or_, select, update

from crm_common.auth.scopes import DataScope
from crm_common.db import bulk_insert, upsert_insert
from crm_common.errors import NotFound
from crm_common.pagination import Page, newest_first
from crm_opportunity.adapters.orm import forecast_rollup, lead_first_contacts, next_actions, opportunities, stage_history
from crm_opportunity.domain.forecast import SCOPES, Contribution, RollupRow, contribution
from crm_opportunity.domain.model import Money, Opportunity, ProductType, StageVisit, Status
from crm_opportunity.domain.next_best_action import ActionKind, Suggestion


@dataclass(frozen=True)
class OpportunityFilter:
    """All given must match; '' matches anything."""

    account_id: str = ""
    owner_id: str = ""
    source_lead_id: str = ""


def _to_row(opportunity: Opportunity) -> dict[str, Any]:
    return {
        "opportunity_id": opportunity.opportunity_id,
        "account_id": opportunity.account_id,
        "product": str(opportunity.product),
        "amount_minor": opportunity.amount.amount_minor,
        "currency": opportunity.amount.currency,
        "expected_close_at": opportunity.expected_close_at,
        "owner_id": opportunity.owner_id,
        "team_id": opportunity.team_id,
        "source_lead_id": opportunity.source_lead_id,
        "campaign_id": opportunity.campaign_id,
        "status": str(opportunity.status),
        "stage": opportunity.stage,
        "probability_percent": opportunity.probability_percent,
        "created_at": opportunity.created_at,
        "created_by": opportunity.created_by,
        "updated_at": opportunity.updated_at,
        "updated_by": opportunity.updated_by,
        "closed_at": opportunity.closed_at,
        "lost_reason": opportunity.lost_reason,
        "competitor": opportunity.competitor,
        "pipeline_version": opportunity.pipeline_version,
        "checklist": json.dumps(list(opportunity.checklist)),
        "stage_entered_at": opportunity.stage_entered_at,
        "application_id": opportunity.application_id,
        "decision_note": opportunity.decision_note,
        "territory_id": opportunity.territory_id,
        "forecast_category": opportunity.forecast_category,
        "next_step": opportunity.next_step,
        "probability_overridden": opportunity.probability_overridden,
    }


_COLUMNS = tuple(c.name for c in opportunities.columns)


def _to_opportunity(row: Any) -> Opportunity:
    # zip over the plain tuple: a book of 2,000 rows is read per call, and RowMapping costs.
    data = dict(zip(_COLUMNS, tuple(row), strict=True))
    amount = Money(data.pop("amount_minor"), data.pop("currency"))
    checklist_text = data.pop("checklist")
    checklist = tuple(json.loads(checklist_text)) if checklist_text != "[]" else ()
    product, status = ProductType(data.pop("product")), Status(data.pop("status"))
    return Opportunity(**data, amount=amount, product=product, status=status, checklist=checklist)


def _days_between(conn: Connection, start: Any, end: Any) -> Any:
    if conn.dialect.name == "postgresql":
        return func.extract("epoch", end - start) / 86400.0
    return func.julianday(end) - func.julianday(start)


def in_scope(scope: DataScope) -> ColumnElement[bool]:
    """The opportunities `scope` reaches, by owner, team and territory (they carry no branch)."""
    o = opportunities.c
    return scope.condition(owner=o.owner_id, team=o.team_id, territory=o.territory_id)


def _period_month(conn: Connection) -> Any:
    """The month an opportunity counts in (domain.forecast.contribution), as SQL."""
    o = opportunities.c
    moment = case((o.status == str(Status.OPEN), o.expected_close_at), else_=o.closed_at)
    if conn.dialect.name == "postgresql":
        return func.coalesce(func.to_char(func.timezone("UTC", moment), "YYYY-MM"), "")
    return func.coalesce(func.strftime("%Y-%m", moment), "")


_BANK_WIDE = DataScope.bank_wide()


class OpportunityRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def open_ids_of_account(self, account_id: str) -> list[str]:
        query = select(opportunities.c.opportunity_id).where(opportunities.c.account_id == account_id, opportunities.c.status == "OPEN")
        return sorted(self.conn.execute(query).scalars())

    def of_person(self, account_ids: tuple[str, ...], lead_ids: tuple[str, ...]) -> list[Opportunity]:
        """A person's opportunities: on their accounts (merged-away ones included) or from their leads."""
        o = opportunities.c
        clauses = [column.in_(ids) for column, ids in ((o.account_id, account_ids), (o.source_lead_id, lead_ids)) if ids]
        if not clauses:
            return []
        query = select(opportunities).where(or_(*clauses)).order_by(o.created_at, o.opportunity_id)
        return [_to_opportunity(r) for r in self.conn.execute(query)]

    def blank_notes(self, opportunity_ids: list[str]) -> int:
        """Blanks what people wrote about the customer on these opportunities (next step, the
        lender's decision note); amounts, stages and owners are the bank's and stay."""
        if not opportunity_ids:
            return 0
        result = self.conn.execute(
            update(opportunities).where(opportunities.c.opportunity_id.in_(opportunity_ids)).values(next_step="", decision_note="")
        )
        return int(result.rowcount or 0)

    def count_for_account(self, account_id: str) -> int:
        return int(self.conn.scalar(select(func.count()).select_from(opportunities).where(opportunities.c.account_id == account_id)) or 0)

    def add(self, opportunity: Opportunity) -> None:
        """Raises IntegrityError when its lead already has an open opportunity."""
        self.conn.execute(opportunities.insert().values(_to_row(opportunity)))
        self._roll(contribution(opportunity))

    def _roll(self, *changes: Contribution) -> None:
        """Adds contributions (negative ones to take an old state out) to the rollup."""
        for change in changes:
            what = {k: v for k, v in vars(change.key).items() if k != "scopes"}
            sums = {"opportunity_count": change.count, "amount_sum": change.amount, "weighted_sum": change.weighted}
            for kind, scope_id in change.key.scopes:
                upsert = upsert_insert(self.conn)(forecast_rollup).values(scope_kind=kind, scope_id=scope_id, **what, **sums)
                upsert = upsert.on_conflict_do_update(
                    index_elements=["scope_kind", "scope_id", *what],
                    set_={
                        "opportunity_count": forecast_rollup.c.opportunity_count + change.count,
                        "amount_sum": forecast_rollup.c.amount_sum + change.amount,
                        "weighted_sum": forecast_rollup.c.weighted_sum + change.weighted,
                    },
                )
                self.conn.execute(upsert)

    def rollup(self, scope: tuple[str, str], months: tuple[str, str], currency: str) -> list[RollupRow]:
        """The rollup of one owner, team or territory ((column, value)) over inclusive months."""
        r = forecast_rollup.c
        kind, scope_id = scope
        query = (
            select(r.product, r.stage, r.forecast_category, r.status, func.sum(r.opportunity_count), func.sum(r.amount_sum), func.sum(r.weighted_sum))
            .where(r.scope_kind == kind, r.scope_id == scope_id, r.period_month >= months[0], r.period_month <= months[1], r.currency == currency)
            .group_by(r.product, r.stage, r.forecast_category, r.status)
        )
        return [RollupRow(str(p), str(st), str(fc), str(status), int(n), int(a), int(w)) for p, st, fc, status, n, a, w in self.conn.execute(query)]

    def scoped_rollup(self, scope: tuple[str, str], months: tuple[str, str], currency: str, data_scope: DataScope) -> list[RollupRow]:
        """What `rollup` sums, worked out from the opportunities themselves and only those
        `data_scope` reaches: for a caller asking about an owner, team or territory it reaches
        only in part (the rollup keeps whole scopes)."""
        o = opportunities.c
        month = _period_month(self.conn)
        weighted = func.sum(o.amount_minor * o.probability_percent // 100)
        query = (
            select(o.product, o.stage, o.forecast_category, o.status, func.count(), func.sum(o.amount_minor), weighted)
            .where(o[scope[0]] == scope[1], in_scope(data_scope), month >= months[0], month <= months[1], o.currency == currency)
            .group_by(o.product, o.stage, o.forecast_category, o.status)
        )
        return [RollupRow(str(p), str(st), str(fc), str(status), int(n), int(a), int(w)) for p, st, fc, status, n, a, w in self.conn.execute(query)]

    def rebuild_rollup(self) -> int:
        """Recomputes the whole rollup from the opportunities in one set-based statement (after
        a bulk load or a repair): the same sums `contribution` makes one by one."""
        o = opportunities.c
        month = _period_month(self.conn)
        what = (o.product, o.stage, o.forecast_category, o.status, month, o.currency)
        sums = (func.count(), func.sum(o.amount_minor), func.sum(o.amount_minor * o.probability_percent // 100))
        self.conn.execute(delete(forecast_rollup))
        columns = [c.name for c in forecast_rollup.columns]
        for kind in SCOPES:
            scoped = select(literal(kind), o[kind], *what, *sums).where(o[kind] != "").group_by(o[kind], *what)
            self.conn.execute(insert(forecast_rollup).from_select(columns, scoped))
        return int(self.conn.scalar(select(func.count()).select_from(opportunities)) or 0)

    def stage_metrics(self, product: str, scope: tuple[str, str] | None, data_scope: DataScope) -> list[tuple[str, int, int, float]]:
        """Per stage, over the opportunities `data_scope` reaches: stays entered, stays that moved
        on (to any later stay), average days of the stays that ended."""
        h, o = stage_history.c, opportunities.c
        ended_days = func.avg(_days_between(self.conn, h.entered_at, h.left_at))
        query = (
            select(h.stage, func.count(), func.count(h.left_at), ended_days)
            .select_from(stage_history.join(opportunities, h.opportunity_id == o.opportunity_id))
            .where(o.product == product, in_scope(data_scope))
            .group_by(h.stage)
        )
        if scope is not None:
            query = query.where(o[scope[0]] == scope[1])
        return [(stage, int(entered), int(left), float(days or 0.0)) for stage, entered, left, days in self.conn.execute(query)]

    def enter_stage(self, opportunity: Opportunity, actor: str) -> None:
        """Closes the stage the opportunity was in and opens the one it is in now."""
        h = stage_history.c
        still_open = (h.opportunity_id == opportunity.opportunity_id, h.left_at.is_(None))
        self.conn.execute(update(stage_history).where(*still_open).values(left_at=opportunity.stage_entered_at))
        self.conn.execute(
            insert(stage_history).values(
                opportunity_id=opportunity.opportunity_id, stage=opportunity.stage, entered_at=opportunity.stage_entered_at, moved_by=actor
            )
        )

    @staticmethod
    def _open_of(owner_id: str) -> tuple[Any, ...]:
        return (opportunities.c.owner_id == owner_id, opportunities.c.status == str(Status.OPEN))

    def replace_actions(self, computed: list[tuple[Opportunity, list[Suggestion]]], now: datetime) -> None:
        """Stores each opportunity's suggestions in place of the ones it had."""
        # One equality delete per opportunity (a primary-key lookup whatever the statistics say):
        # an IN list prepared while the table was small kept a sequential-scan plan as it grew.
        self.conn.execute(
            delete(next_actions).where(next_actions.c.opportunity_id == bindparam("b_id")), [{"b_id": o.opportunity_id} for o, _ in computed]
        )
        rows = [
            {
                "opportunity_id": o.opportunity_id,
                "position": position,
                "owner_id": o.owner_id,
                "action": str(s.action),
                "priority": s.priority,
                "reason": s.reason[:500],
                "rule": s.rule,
                "amount_minor": o.amount.amount_minor,
                "close_at": o.expected_close_at,
                "computed_at": now,
            }
            for o, suggestions in computed
            for position, s in enumerate(suggestions)
        ]
        bulk_insert(self.conn, next_actions, rows)

    def refresh_statistics(self) -> None:
        """Fresh planner statistics for next_actions (PostgreSQL). Statements prepared while the
        table was small keep a sequential-scan plan as it grows; new statistics re-plan them."""
        if self.conn.dialect.name == "postgresql":
            self.conn.exec_driver_sql("ANALYZE next_actions")

    def book(self, owner_id: str, limit: int, data_scope: DataScope) -> list[Suggestion]:
        """The owner's kept suggestions on the opportunities `data_scope` reaches: by priority,
        then bigger amounts, then sooner closes."""
        n = next_actions.c
        no_close_last = case((n.close_at.is_(None), 1), else_=0)
        where = [n.owner_id == owner_id]
        if not (data_scope.everything or owner_id == data_scope.subject):  # else every row is in scope already
            where.append(n.opportunity_id.in_(select(opportunities.c.opportunity_id).where(in_scope(data_scope))))
        query = (
            select(n.opportunity_id, n.action, n.priority, n.reason, n.rule)
            .where(*where)
            .order_by(n.priority, n.amount_minor.desc(), no_close_last, n.close_at, n.opportunity_id, n.position)
            .limit(limit)
        )
        return [Suggestion(oid, ActionKind(action), priority, reason, rule) for oid, action, priority, reason, rule in self.conn.execute(query)]

    def count_open_of_owner(self, owner_id: str, data_scope: DataScope) -> int:
        query = select(func.count()).select_from(opportunities).where(*self._open_of(owner_id), in_scope(data_scope))
        return int(self.conn.scalar(query) or 0)

    def open_batch(self, after: str, size: int) -> list[Opportunity]:
        """Open opportunities by id, after `after` (the sweep's keyset)."""
        o = opportunities.c
        query = select(opportunities).where(o.status == str(Status.OPEN), o.opportunity_id > after).order_by(o.opportunity_id).limit(size)
        return [_to_opportunity(r) for r in self.conn.execute(query)]

    def with_lead(self, lead_id: str) -> list[Opportunity]:
        return [_to_opportunity(r) for r in self.conn.execute(select(opportunities).where(opportunities.c.source_lead_id == lead_id))]

    def record_first_contact(self, lead_id: str, sla_breached: bool, contacted_at: datetime) -> None:
        """Keeps the first report per lead (a later attempt is not a first contact)."""
        upsert = upsert_insert(self.conn)(lead_first_contacts).values(lead_id=lead_id, sla_breached=sla_breached, contacted_at=contacted_at)
        self.conn.execute(upsert.on_conflict_do_nothing())

    def breached_leads(self, lead_ids: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(lead_ids), 1000):
            part = lead_ids[start : start + 1000]
            query = select(lead_first_contacts.c.lead_id).where(lead_first_contacts.c.lead_id.in_(part), lead_first_contacts.c.sla_breached.is_(True))
            found.update(self.conn.scalars(query))
        return found

    def by_application(self, application_id: str, for_update: bool = False) -> Opportunity:
        query = select(opportunities).where(opportunities.c.application_id == application_id, opportunities.c.application_id != "")
        row = self.conn.execute(query.with_for_update() if for_update else query).first()
        if row is None:
            raise NotFound("application", application_id)
        return _to_opportunity(row)

    def stage_history(self, opportunity_id: str) -> list[StageVisit]:
        query = select(stage_history).where(stage_history.c.opportunity_id == opportunity_id).order_by(stage_history.c.entered_at)
        return [StageVisit(r.stage, r.entered_at, r.left_at, r.moved_by) for r in self.conn.execute(query)]

    def save(self, opportunity: Opportunity) -> None:
        """Writes the opportunity and moves its forecast contribution from its stored state."""
        before = self.get(opportunity.opportunity_id, _BANK_WIDE)  # loaded in scope by the caller already
        row = _to_row(opportunity)
        self.conn.execute(update(opportunities).where(opportunities.c.opportunity_id == row.pop("opportunity_id")).values(row))
        old, new = contribution(before), contribution(opportunity)
        if old != new:
            self._roll(old.negated(), new)

    def get(self, opportunity_id: str, scope: DataScope, for_update: bool = False) -> Opportunity:
        """The opportunity, if `scope` reaches it; NOT_FOUND otherwise, as if it did not exist."""
        query = select(opportunities).where(opportunities.c.opportunity_id == opportunity_id, in_scope(scope))
        row = self.conn.execute(query.with_for_update() if for_update else query).first()
        if row is None:
            raise NotFound("opportunity", opportunity_id)
        return _to_opportunity(row)

    def open_from_lead(self, lead_id: str) -> Opportunity | None:
        row = self.conn.execute(
            select(opportunities).where(opportunities.c.source_lead_id == lead_id, opportunities.c.status == str(Status.OPEN))
        ).first()
        return None if row is None else _to_opportunity(row)

    def list(self, where: OpportunityFilter, page: Page, scope: DataScope) -> tuple[list[Opportunity], dict[str, Any] | None]:
        """Newest first, within `scope`; also the key to continue after (None on the last page)."""
        clauses = [opportunities.c[name] == value for name, value in vars(where).items() if value] + [in_scope(scope)]
        query = select(opportunities).where(*clauses)
        rows, after = newest_first(self.conn, query, opportunities.c.created_at, opportunities.c.opportunity_id, page)
        return [_to_opportunity(r) for r in rows], after
