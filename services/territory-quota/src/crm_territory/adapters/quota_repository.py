"""The quota half's repositories over one connection (the unit of work's): quota plans and the
targets in force (`QuotaRepository`), and the attainment ledger, pipeline and their rollups
(`AttainmentRepository`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update

from crm_common.db import new_id, upsert_insert
from crm_common.errors import NotFound
from crm_common.pagination import Page, newest_first
from crm_territory.adapters.quota_tables import (
    attainment_ledger,
    attainment_open_credits,
    attainment_rollup,
    pipeline_opportunities,
    pipeline_rollup,
    quota_accounts,
    quota_lines,
    quota_plans,
    quota_targets,
    quota_transfers,
)
from crm_territory.domain.quotas import (
    Measure,
    MovePolicy,
    Period,
    PlanStatus,
    QuotaLine,
    QuotaPlan,
    QuotaTransfer,
    Scope,
    ScopeKind,
)


def scopes_text(scopes: Iterable[Scope]) -> str:
    return "|".join(f"{scope.kind}:{scope.id}" for scope in scopes)


def scopes_of(text: str) -> tuple[Scope, ...]:
    found = []
    for part in text.split("|") if text else []:
        kind, _, scope_id = part.partition(":")
        found.append(Scope(ScopeKind(kind), scope_id))
    return tuple(found)


def under(column: Any, territory_id: str) -> Any:
    """The territory itself or any of its descendants (materialized paths)."""
    escaped = territory_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return or_(column == territory_id, column.like(f"{escaped}.%", escape="\\"))


@dataclass
class StoredPlan:
    """A plan version with what the table keeps beside the domain's plan."""

    plan: QuotaPlan
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    submit_time: datetime | None = None
    decide_time: datetime | None = None
    # Line scopes in the order they were seeded (parents before children).
    order: list[Scope] = field(default_factory=list)


class QuotaRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def find(self, period: Period, measure: Measure, root: Scope) -> str | None:
        """The plan of this period, measure and root, if one was seeded."""
        return self.conn.scalar(
            select(quota_plans.c.plan_id)
            .where(
                quota_plans.c.period == str(period),
                quota_plans.c.measure == str(measure),
                quota_plans.c.root_kind == str(root.kind),
                quota_plans.c.root_id == root.id,
            )
            .limit(1)
        )

    def add(self, stored: StoredPlan) -> None:
        self.conn.execute(
            insert(quota_plans).values(**self._plan_row(stored), row_id=new_id(), created_at=stored.created_at, created_by=stored.created_by)
        )
        rows: list[dict[str, Any]] = [self._line_row(stored.plan, line, position) for position, line in enumerate(self._ordered(stored))]
        if rows:
            self.conn.execute(insert(quota_lines), rows)

    def update(self, stored: StoredPlan, lines: Iterable[QuotaLine] = ()) -> None:
        """Saves the plan's row and the lines given (those that changed)."""
        plan = stored.plan
        self.conn.execute(
            update(quota_plans).where(quota_plans.c.plan_id == plan.plan_id, quota_plans.c.version == plan.version).values(**self._plan_row(stored))
        )
        for line in lines:
            self.conn.execute(
                update(quota_lines)
                .where(
                    quota_lines.c.plan_id == plan.plan_id,
                    quota_lines.c.version == plan.version,
                    quota_lines.c.scope_kind == str(line.scope.kind),
                    quota_lines.c.scope_id == line.scope.id,
                )
                .values(allocated=line.allocated, target=line.target, adjustment_note=line.adjustment_note)
            )

    def add_transfer(self, plan: QuotaPlan, transfer: QuotaTransfer, now: datetime) -> None:
        self.conn.execute(
            insert(quota_transfers).values(
                transfer_id=new_id(),
                plan_id=plan.plan_id,
                version=plan.version,
                from_kind=str(transfer.from_scope.kind),
                from_id=transfer.from_scope.id,
                to_kind=str(transfer.to_scope.kind),
                to_id=transfer.to_scope.id,
                amount=transfer.amount,
                effective_date=transfer.effective,
                accounts=transfer.accounts,
                created_at=now,
            )
        )

    def latest_version(self, plan_id: str) -> int:
        return int(self.conn.scalar(select(func.max(quota_plans.c.version)).where(quota_plans.c.plan_id == plan_id)) or 0)

    def get(self, plan_id: str, version: int = 0, for_update: bool = False) -> StoredPlan:
        """A version of a plan (0: the latest); NotFound when there is none."""
        query = select(quota_plans).where(quota_plans.c.plan_id == plan_id)
        query = query.where(quota_plans.c.version == version) if version else query.order_by(quota_plans.c.version.desc()).limit(1)
        if for_update:
            query = query.with_for_update()
        row = self.conn.execute(query).first()
        if row is None:
            raise NotFound("quota plan", f"{plan_id} v{version}" if version else plan_id)
        return self._load(row)

    def approved(self, plan_id: str) -> StoredPlan | None:
        row = self.conn.execute(select(quota_plans).where(quota_plans.c.plan_id == plan_id, quota_plans.c.status == str(PlanStatus.APPROVED))).first()
        return self._load(row) if row is not None else None

    def approved_holding(self, period: Period, scopes: Sequence[Scope]) -> list[StoredPlan]:
        """The approved plans of a period with a line for any of these scopes."""
        if not scopes:
            return []
        held = (
            select(quota_lines.c.plan_id, quota_lines.c.version)
            .join(quota_plans, and_(quota_plans.c.plan_id == quota_lines.c.plan_id, quota_plans.c.version == quota_lines.c.version))
            .where(
                quota_plans.c.period == str(period),
                quota_plans.c.status == str(PlanStatus.APPROVED),
                or_(*(and_(quota_lines.c.scope_kind == str(s.kind), quota_lines.c.scope_id == s.id) for s in scopes)),
            )
            .distinct()
        )
        return [self.get(row.plan_id, row.version) for row in self.conn.execute(held)]

    def list_plans(
        self, page: Page, period: Period | None, measure: Measure | None, status: PlanStatus | None
    ) -> tuple[list[StoredPlan], dict[str, Any] | None]:
        query = select(quota_plans)
        if period is not None:
            query = query.where(quota_plans.c.period == str(period))
        if measure is not None:
            query = query.where(quota_plans.c.measure == str(measure))
        if status is not None:
            query = query.where(quota_plans.c.status == str(status))
        rows, after = newest_first(self.conn, query, quota_plans.c.created_at, quota_plans.c.row_id, page)
        return [self._load(row) for row in rows], after

    def held_by_others(self, plan: QuotaPlan) -> list[tuple[Scope, str]]:
        """Scopes of this plan that another plan's approved targets already cover (same period and measure)."""
        held = self.conn.execute(
            select(quota_targets.c.scope_kind, quota_targets.c.scope_id, quota_targets.c.plan_id).where(
                quota_targets.c.period == str(plan.period),
                quota_targets.c.measure == str(plan.measure),
                quota_targets.c.plan_id != plan.plan_id,
            )
        )
        mine = set(plan.lines)
        return [(Scope(ScopeKind(r.scope_kind), r.scope_id), r.plan_id) for r in held if Scope(ScopeKind(r.scope_kind), r.scope_id) in mine]

    def put_targets(self, plan: QuotaPlan) -> None:
        """The approved version's lines become the targets in force (replacing its previous version's)."""
        self.conn.execute(delete(quota_targets).where(quota_targets.c.plan_id == plan.plan_id))
        rows = [
            {
                "period": str(plan.period),
                "measure": str(plan.measure),
                "scope_kind": str(line.scope.kind),
                "scope_id": line.scope.id,
                "target": line.target,
                "plan_id": plan.plan_id,
                "plan_version": plan.version,
                "territory_id": _territory_of(plan, line.scope),
            }
            for line in plan.lines.values()
        ]
        if rows:
            self.conn.execute(insert(quota_targets), rows)

    def set_target(self, plan: QuotaPlan, scope: Scope, target: int) -> None:
        self.conn.execute(
            update(quota_targets)
            .where(
                quota_targets.c.period == str(plan.period),
                quota_targets.c.measure == str(plan.measure),
                quota_targets.c.scope_kind == str(scope.kind),
                quota_targets.c.scope_id == scope.id,
            )
            .values(target=target)
        )

    def target(self, period: Period, measure: Measure, scope: Scope) -> tuple[int, int] | None:
        """(target, plan version) in force for a scope, or None."""
        row = self.conn.execute(
            select(quota_targets.c.target, quota_targets.c.plan_version).where(
                quota_targets.c.period == str(period),
                quota_targets.c.measure == str(measure),
                quota_targets.c.scope_kind == str(scope.kind),
                quota_targets.c.scope_id == scope.id,
            )
        ).first()
        return (int(row.target), int(row.plan_version)) if row is not None else None

    def targets_under(self, period: Period, measure: Measure, kind: ScopeKind, territory_id: str) -> dict[str, int]:
        rows = self.conn.execute(
            select(quota_targets.c.scope_id, quota_targets.c.target).where(
                quota_targets.c.period == str(period),
                quota_targets.c.measure == str(measure),
                quota_targets.c.scope_kind == str(kind),
                under(quota_targets.c.territory_id, territory_id),
            )
        )
        return {row.scope_id: int(row.target) for row in rows}

    def _ordered(self, stored: StoredPlan) -> list[QuotaLine]:
        order = stored.order or list(stored.plan.lines)
        return [stored.plan.lines[scope] for scope in order]

    @staticmethod
    def _plan_row(stored: StoredPlan) -> dict[str, Any]:
        plan = stored.plan
        return {
            "plan_id": plan.plan_id,
            "version": plan.version,
            "period": str(plan.period),
            "measure": str(plan.measure),
            "root_kind": str(plan.root.kind),
            "root_id": plan.root.id,
            "status": str(plan.status),
            "move_policy": str(plan.move_policy),
            "growth_bp": plan.growth_bp,
            "maker": plan.maker,
            "checker": plan.checker,
            "submit_time": stored.submit_time,
            "decide_time": stored.decide_time,
            "reject_reason": plan.reject_reason,
            "differences_accepted": plan.differences_accepted,
            "updated_at": stored.updated_at,
            "updated_by": stored.updated_by,
        }

    @staticmethod
    def _line_row(plan: QuotaPlan, line: QuotaLine, position: int) -> dict[str, Any]:
        return {
            "plan_id": plan.plan_id,
            "version": plan.version,
            "scope_kind": str(line.scope.kind),
            "scope_id": line.scope.id,
            "parent_kind": str(line.parent.kind) if line.parent else "",
            "parent_id": line.parent.id if line.parent else "",
            "position": position,
            "last_year_actual": line.last_year_actual,
            "seeded": line.seeded,
            "allocated": line.allocated,
            "target": line.target,
            "adjustment_note": line.adjustment_note,
        }

    def _load(self, row: Any) -> StoredPlan:
        lines: dict[Scope, QuotaLine] = {}
        order: list[Scope] = []
        line_rows = self.conn.execute(
            select(quota_lines).where(quota_lines.c.plan_id == row.plan_id, quota_lines.c.version == row.version).order_by(quota_lines.c.position)
        )
        for r in line_rows:
            scope = Scope(ScopeKind(r.scope_kind), r.scope_id)
            parent = Scope(ScopeKind(r.parent_kind), r.parent_id) if r.parent_kind else None
            lines[scope] = QuotaLine(scope, parent, int(r.last_year_actual), int(r.seeded), int(r.allocated), int(r.target), r.adjustment_note)
            order.append(scope)
        transfers = self.conn.execute(
            select(quota_transfers)
            .where(quota_transfers.c.plan_id == row.plan_id, quota_transfers.c.version == row.version)
            .order_by(quota_transfers.c.created_at, quota_transfers.c.transfer_id)
        )
        for t in transfers:
            transfer = QuotaTransfer(
                Scope(ScopeKind(t.from_kind), t.from_id), Scope(ScopeKind(t.to_kind), t.to_id), int(t.amount), t.effective_date, int(t.accounts)
            )
            for scope in (transfer.from_scope, transfer.to_scope):
                if scope in lines:
                    lines[scope].transfers.append(transfer)
        plan = QuotaPlan(
            plan_id=row.plan_id,
            version=row.version,
            period=Period.parse(row.period),
            measure=Measure(row.measure),
            root=Scope(ScopeKind(row.root_kind), row.root_id),
            growth_bp=row.growth_bp,
            move_policy=MovePolicy(row.move_policy),
            lines=lines,
            status=PlanStatus(row.status),
            maker=row.maker,
            checker=row.checker,
            reject_reason=row.reject_reason,
            differences_accepted=row.differences_accepted,
        )
        return StoredPlan(plan, row.created_at, row.created_by, row.updated_at, row.updated_by, row.submit_time, row.decide_time, order)


def _territory_of(plan: QuotaPlan, scope: Scope) -> str:
    """The nearest territory at or above a line in its plan."""
    current: Scope | None = scope
    while current is not None:
        if current.kind is ScopeKind.TERRITORY:
            return current.id
        current = plan.lines[current].parent if current in plan.lines else None
    return plan.root.id


@dataclass(frozen=True)
class LedgerEntry:
    source_event_id: str
    source: str
    object_kind: str
    object_id: str
    account_id: str
    measure: Measure
    amount: int
    month: str
    scopes: tuple[Scope, ...]


@dataclass(frozen=True)
class AccountPlace:
    """An account's territory, RM and team, and those it had before its latest move."""

    account_id: str
    territory_id: str
    owner_id: str
    team_id: str
    effective_date: date
    previous_territory_id: str = ""
    previous_owner_id: str = ""
    previous_team_id: str = ""
    event_time: datetime | None = None


@dataclass(frozen=True)
class PipelineEntry:
    opportunity_id: str
    measure: Measure
    month: str
    weighted: int
    is_open: bool
    scopes: tuple[Scope, ...]
    event_time: datetime


class AttainmentRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # The ledger and its rollup.
    def record(self, entry: LedgerEntry, territory_id: str, now: datetime) -> None:
        """Appends a ledger row and adds its amount to every scope's rollup, in this transaction."""
        self.conn.execute(
            insert(attainment_ledger).values(
                source_event_id=entry.source_event_id,
                source=entry.source,
                object_kind=entry.object_kind,
                object_id=entry.object_id,
                account_id=entry.account_id,
                measure=str(entry.measure),
                amount=entry.amount,
                month=entry.month,
                scopes=scopes_text(entry.scopes),
                recorded_at=now,
            )
        )
        for scope in entry.scopes:
            home = scope.id if scope.kind is ScopeKind.TERRITORY else territory_id
            stmt = upsert_insert(self.conn)(attainment_rollup).values(
                scope_kind=str(scope.kind), scope_id=scope.id, measure=str(entry.measure), month=entry.month, actual=entry.amount, territory_id=home
            )
            self.conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["scope_kind", "scope_id", "measure", "month"],
                    set_={"actual": attainment_rollup.c.actual + stmt.excluded.actual, "territory_id": stmt.excluded.territory_id},
                )
            )

    def open_credit(self, object_kind: str, object_id: str) -> LedgerEntry | None:
        row = self.conn.execute(
            select(attainment_ledger)
            .join(attainment_open_credits, attainment_open_credits.c.source_event_id == attainment_ledger.c.source_event_id)
            .where(attainment_open_credits.c.object_kind == object_kind, attainment_open_credits.c.object_id == object_id)
        ).first()
        if row is None:
            return None
        return LedgerEntry(
            row.source_event_id,
            row.source,
            row.object_kind,
            row.object_id,
            row.account_id,
            Measure(row.measure),
            int(row.amount),
            row.month,
            scopes_of(row.scopes),
        )

    def open(self, entry: LedgerEntry) -> None:
        self.conn.execute(
            insert(attainment_open_credits).values(object_kind=entry.object_kind, object_id=entry.object_id, source_event_id=entry.source_event_id)
        )

    def close(self, object_kind: str, object_id: str) -> None:
        self.conn.execute(
            delete(attainment_open_credits).where(
                attainment_open_credits.c.object_kind == object_kind, attainment_open_credits.c.object_id == object_id
            )
        )

    def actual(self, scope: Scope, measure: Measure, months: Sequence[str]) -> int:
        return int(
            self.conn.scalar(
                select(func.coalesce(func.sum(attainment_rollup.c.actual), 0)).where(
                    attainment_rollup.c.scope_kind == str(scope.kind),
                    attainment_rollup.c.scope_id == scope.id,
                    attainment_rollup.c.measure == str(measure),
                    attainment_rollup.c.month.in_(list(months)),
                )
            )
            or 0
        )

    def actuals_under(self, kind: ScopeKind, measure: Measure, months: Sequence[str], territory_id: str) -> dict[str, int]:
        """Each scope of a kind credited under a territory (or its descendants): its actual."""
        rows = self.conn.execute(
            select(attainment_rollup.c.scope_id, func.sum(attainment_rollup.c.actual).label("actual"))
            .where(
                attainment_rollup.c.scope_kind == str(kind),
                attainment_rollup.c.measure == str(measure),
                attainment_rollup.c.month.in_(list(months)),
                under(attainment_rollup.c.territory_id, territory_id),
            )
            .group_by(attainment_rollup.c.scope_id)
        )
        return {row.scope_id: int(row.actual) for row in rows}

    def credited_under(self, territory_id: str, months: Sequence[str], measure: Measure) -> list[tuple[Scope, str]]:
        """Every scope credited under a territory in these months, with the territory it sits under."""
        rows = self.conn.execute(
            select(attainment_rollup.c.scope_kind, attainment_rollup.c.scope_id, attainment_rollup.c.territory_id)
            .where(
                attainment_rollup.c.measure == str(measure),
                attainment_rollup.c.month.in_(list(months)),
                under(attainment_rollup.c.territory_id, territory_id),
            )
            .distinct()
        )
        return [(Scope(ScopeKind(r.scope_kind), r.scope_id), r.territory_id) for r in rows]

    def account_actual(self, account_id: str, measure: Measure, months: Sequence[str]) -> int:
        return int(
            self.conn.scalar(
                select(func.coalesce(func.sum(attainment_ledger.c.amount), 0)).where(
                    attainment_ledger.c.account_id == account_id,
                    attainment_ledger.c.measure == str(measure),
                    attainment_ledger.c.month.in_(list(months)),
                )
            )
            or 0
        )

    # The open pipeline and its rollup.
    def pipeline_entry(self, opportunity_id: str) -> PipelineEntry | None:
        row = self.conn.execute(select(pipeline_opportunities).where(pipeline_opportunities.c.opportunity_id == opportunity_id)).first()
        if row is None:
            return None
        return PipelineEntry(
            row.opportunity_id, Measure(row.measure), row.month, int(row.weighted), row.is_open, scopes_of(row.scopes), row.event_time
        )

    def put_pipeline(self, before: PipelineEntry | None, after: PipelineEntry) -> None:
        """Replaces an opportunity's contribution: the old one leaves the rollup, the new one enters."""
        values = {
            "measure": str(after.measure),
            "month": after.month,
            "weighted": after.weighted,
            "is_open": after.is_open,
            "scopes": scopes_text(after.scopes),
            "event_time": after.event_time,
        }
        if before is None:
            self.conn.execute(insert(pipeline_opportunities).values(opportunity_id=after.opportunity_id, **values))
        else:
            self.conn.execute(update(pipeline_opportunities).where(pipeline_opportunities.c.opportunity_id == after.opportunity_id).values(**values))
        if before is not None and before.is_open and before.month:
            self._add_pipeline(before.scopes, before.measure, before.month, -before.weighted)
        if after.is_open and after.month:
            self._add_pipeline(after.scopes, after.measure, after.month, after.weighted)

    def _add_pipeline(self, scopes: Iterable[Scope], measure: Measure, month: str, amount: int) -> None:
        for scope in scopes:
            stmt = upsert_insert(self.conn)(pipeline_rollup).values(
                scope_kind=str(scope.kind), scope_id=scope.id, measure=str(measure), month=month, weighted=amount
            )
            self.conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["scope_kind", "scope_id", "measure", "month"],
                    set_={"weighted": pipeline_rollup.c.weighted + stmt.excluded.weighted},
                )
            )

    def pipeline(self, scope: Scope, measure: Measure, months: Sequence[str]) -> int:
        return int(
            self.conn.scalar(
                select(func.coalesce(func.sum(pipeline_rollup.c.weighted), 0)).where(
                    pipeline_rollup.c.scope_kind == str(scope.kind),
                    pipeline_rollup.c.scope_id == scope.id,
                    pipeline_rollup.c.measure == str(measure),
                    pipeline_rollup.c.month.in_(list(months)),
                )
            )
            or 0
        )

    # Accounts' places.
    def account(self, account_id: str) -> AccountPlace | None:
        row = self.conn.execute(select(quota_accounts).where(quota_accounts.c.account_id == account_id)).first()
        if row is None:
            return None
        return AccountPlace(
            row.account_id,
            row.territory_id,
            row.owner_id,
            row.team_id,
            row.effective_date,
            row.previous_territory_id,
            row.previous_owner_id,
            row.previous_team_id,
            row.event_time,
        )

    def put_account(self, place: AccountPlace, exists: bool) -> None:
        values = {
            "territory_id": place.territory_id,
            "owner_id": place.owner_id,
            "team_id": place.team_id,
            "effective_date": place.effective_date,
            "previous_territory_id": place.previous_territory_id,
            "previous_owner_id": place.previous_owner_id,
            "previous_team_id": place.previous_team_id,
            "event_time": place.event_time,
        }
        if exists:
            self.conn.execute(update(quota_accounts).where(quota_accounts.c.account_id == place.account_id).values(**values))
        else:
            self.conn.execute(insert(quota_accounts).values(account_id=place.account_id, **values))

    def book_size(self, owner_id: str) -> int:
        return int(self.conn.scalar(select(func.count()).select_from(quota_accounts).where(quota_accounts.c.owner_id == owner_id)) or 0)

    def roster_under(self, territory_id: str) -> list[tuple[str, str, str]]:
        """(territory_id, team_id, owner_id) of the accounts' current owners under a territory."""
        rows = self.conn.execute(
            select(quota_accounts.c.territory_id, quota_accounts.c.team_id, quota_accounts.c.owner_id)
            .where(under(quota_accounts.c.territory_id, territory_id))
            .distinct()
        )
        return [(r.territory_id, r.team_id, r.owner_id) for r in rows]

    def knows_territory(self, territory_id: str) -> bool:
        for table in (quota_accounts, attainment_rollup):
            if self.conn.scalar(select(table.c.territory_id).where(under(table.c.territory_id, territory_id)).limit(1)) is not None:
                return True
        return False
