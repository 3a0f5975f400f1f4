"""Reading and writing product holdings, and keeping each account's totals, in bulk where a
core-banking snapshot needs it (10,000 rows a call: a few statements, not one per row)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, and_, bindparam, case, func, or_, select, update

from crm_account.adapters.orm import accounts, holdings
from crm_account.domain.holdings import AUM, DEPOSITS, LENDING, Holding, HoldingCloseReason, HoldingSource, HoldingStatus, ProductType, TierThresholds
from crm_account.domain.model import ValueTier
from crm_common.db import bulk_insert

# Bound parameters per IN list: well under SQLite's and PostgreSQL's limits.
CHUNK = 1000
T = TypeVar("T")


def chunks(values: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _row(holding: Holding) -> dict[str, Any]:
    return {
        "holding_id": holding.holding_id,
        "account_id": holding.account_id,
        "product_type": str(holding.product_type),
        "core_ref": holding.core_ref,
        "status": str(holding.status),
        "balance": holding.balance,
        "credit_limit": holding.limit,
        "opened_on": holding.opened_on,
        "closed_on": holding.closed_on,
        "source": str(holding.source),
        "opportunity_id": holding.opportunity_id,
        "updated_at": holding.updated_at,
        "close_reason": str(holding.close_reason),
    }


def _holding(row: Any) -> Holding:
    return Holding(
        holding_id=row.holding_id,
        account_id=row.account_id,
        product_type=ProductType(row.product_type),
        core_ref=row.core_ref,
        status=HoldingStatus(row.status),
        balance=row.balance,
        limit=row.credit_limit,
        opened_on=row.opened_on,
        closed_on=row.closed_on,
        source=HoldingSource(row.source),
        opportunity_id=row.opportunity_id,
        updated_at=row.updated_at,
        close_reason=HoldingCloseReason(row.close_reason),
    )


class HoldingRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def existing_accounts(self, account_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for part in chunks(account_ids):
            found.update(self.conn.scalars(select(accounts.c.account_id).where(accounts.c.account_id.in_(part))))
        return found

    def by_core_refs(self, core_refs: Sequence[str]) -> dict[str, Holding]:
        found: dict[str, Holding] = {}
        for part in chunks(core_refs):
            # The `<> ''` lets PostgreSQL use the partial unique index with a long IN list.
            for row in self.conn.execute(select(holdings).where(holdings.c.core_ref.in_(part), holdings.c.core_ref != "")):
                found[row.core_ref] = _holding(row)
        return found

    def awaiting_core_refs(self, account_ids: Sequence[str]) -> list[Holding]:
        """Open holdings won opportunities opened that core banking has not reported yet."""
        found: list[Holding] = []
        for part in chunks(account_ids):
            query = (
                select(holdings)
                .where(holdings.c.account_id.in_(part), holdings.c.core_ref == "", holdings.c.status == str(HoldingStatus.OPEN))
                .order_by(holdings.c.updated_at)
            )
            found.extend(_holding(r) for r in self.conn.execute(query))
        return found

    def by_opportunity(self, opportunity_id: str, for_update: bool = False) -> Holding | None:
        query = select(holdings).where(holdings.c.opportunity_id == opportunity_id)
        row = self.conn.execute(query.with_for_update() if for_update else query).first()
        return _holding(row) if row is not None else None

    def for_account(self, account_id: str) -> list[Holding]:
        open_first = case((holdings.c.status == str(HoldingStatus.OPEN), 0), else_=1)
        query = select(holdings).where(holdings.c.account_id == account_id).order_by(open_first, holdings.c.opened_on.desc(), holdings.c.holding_id)
        return [_holding(r) for r in self.conn.execute(query)]

    def move(self, merged_id: str, survivor_id: str) -> list[str]:
        """The merged account's holdings become the survivor's; returns their ids."""
        return list(
            self.conn.scalars(
                update(holdings).where(holdings.c.account_id == merged_id).values(account_id=survivor_id).returning(holdings.c.holding_id)
            )
        )

    def move_back(self, holding_ids: list[str], survivor_id: str, merged_id: str) -> None:
        """Undoes `move` for the holdings the survivor still has."""
        for part in chunks(holding_ids):
            self.conn.execute(
                update(holdings).where(holdings.c.holding_id.in_(part), holdings.c.account_id == survivor_id).values(account_id=merged_id)
            )

    def insert_many(self, new: list[Holding]) -> None:
        """Raises IntegrityError when a core_ref or an opportunity already has a holding."""
        bulk_insert(self.conn, holdings, [_row(h) for h in new])

    def update_many(self, changed: list[Holding]) -> None:
        if not changed:
            return
        rows = [{**_row(h), "b_holding_id": h.holding_id} for h in changed]
        values: dict[str, Any] = {k: bindparam(k) for k in _row(changed[0]) if k != "holding_id"}
        self.conn.execute(update(holdings).where(holdings.c.holding_id == bindparam("b_holding_id")).values(values), rows)

    def resummarise(self, account_ids: Sequence[str], tiers: TierThresholds, actor: str, now: datetime) -> list[str]:
        """Recomputes the totals and derived tier of these accounts in the database (set-based:
        one aggregate and one UPDATE ... FROM per 1,000 accounts, not a statement per account),
        bumping the version of those that changed; returns the accounts whose tier moved."""
        moved: list[str] = []
        for part in chunks(account_ids):
            tier_before = self._tiers(part)
            open_ = and_(holdings.c.account_id == accounts.c.account_id, holdings.c.status == str(HoldingStatus.OPEN))

            def total(products: Iterable[ProductType]) -> Any:
                chosen = [str(p) for p in products]
                return func.coalesce(func.sum(case((holdings.c.product_type.in_(chosen), holdings.c.balance), else_=0)), 0)

            fresh = (
                select(
                    accounts.c.account_id.label("account_id"),
                    total(DEPOSITS).label("deposits"),
                    total(LENDING).label("loans"),
                    total(AUM).label("aum"),
                    func.count(holdings.c.holding_id).label("open_holdings"),
                )
                .select_from(accounts.outerjoin(holdings, open_))
                .where(accounts.c.account_id.in_(part))
                .group_by(accounts.c.account_id)
                .subquery("fresh")
            )
            # TierThresholds.tier, in SQL.
            tier = case(
                (fresh.c.aum >= tiers.private_aum, str(ValueTier.PRIVATE)),
                (fresh.c.aum >= tiers.affluent_aum, str(ValueTier.AFFLUENT)),
                else_=str(ValueTier.MASS),
            )
            changed = or_(
                accounts.c.total_deposits != fresh.c.deposits,
                accounts.c.total_loans != fresh.c.loans,
                accounts.c.total_aum != fresh.c.aum,
                accounts.c.open_holdings != fresh.c.open_holdings,
                accounts.c.derived_tier != tier,
            )
            self.conn.execute(
                update(accounts)
                .where(accounts.c.account_id == fresh.c.account_id, changed)
                .values(
                    total_deposits=fresh.c.deposits,
                    total_loans=fresh.c.loans,
                    total_aum=fresh.c.aum,
                    open_holdings=fresh.c.open_holdings,
                    derived_tier=tier,
                    version=accounts.c.version + 1,
                    updated_at=now,
                    updated_by=actor,
                )
            )
            moved.extend(account_id for account_id, new_tier in self._tiers(part).items() if new_tier != tier_before[account_id])
        return moved

    def _tiers(self, account_ids: Sequence[str]) -> dict[str, str]:
        rows = self.conn.execute(select(accounts.c.account_id, accounts.c.derived_tier).where(accounts.c.account_id.in_(account_ids)))
        return {account_id: tier for account_id, tier in rows}
