"""Reading and writing product holdings, and keeping each account's totals, in bulk where a
core-banking snapshot needs it (10,000 rows a call: a few statements, not one per row).

The bulk statements are plan-stable on PostgreSQL without fresh statistics (a bulk load leaves
none, and autovacuum may be off or behind): keys come as one array parameter joined from
`unnest(...)` on the primary or unique key, never as a long `IN` list the planner may pair with
another index; and a call that leaves a touched table's statistics stale analyses it (see
`ANALYZE_MIN_ROWS`). SQLite has no arrays: there the keys stay `IN` lists of `CHUNK`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, FromClause, Select, String, and_, bindparam, case, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY

from crm_account.adapters.orm import accounts, holdings
from crm_account.domain.holdings import AUM, DEPOSITS, LENDING, Holding, HoldingCloseReason, HoldingSource, HoldingStatus, ProductType, TierThresholds
from crm_account.domain.model import ValueTier
from crm_common.db import bulk_insert

# Bound parameters per IN list (SQLite): well under its limit.
CHUNK = 1000
# A touched table is analysed in the import's transaction when it has never been analysed, or
# when this call inserts more than ANALYZE_MIN_ROWS + ANALYZE_FRACTION of the rows its last
# ANALYZE saw (autovacuum's rule, with a floor of a tenth of a full call). Between analyses the
# planner scales the last row count by the table's current size in pages, so steady growth
# needs no ANALYZE; what it cannot guess is a table it has no statistics for, or a batch large
# against what it knows. A snapshot of 100,000 rows into an empty table analyses holdings in its
# first 5 calls of 10,000 (~0.1 s each); a nightly snapshot of a steady book, not at all.
ANALYZE_MIN_ROWS = 1000
ANALYZE_FRACTION = 0.2
ANALYSED = {t.name: t for t in (holdings, accounts)}
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


def _unnest(values: Sequence[str]) -> FromClause:
    """`unnest(:keys) AS keys(key)`: one array parameter, whatever its length (each key once, so
    joins never count a row twice)."""
    return func.unnest(bindparam("keys", list(dict.fromkeys(values)), type_=ARRAY(String))).table_valued("key").render_derived(name="keys")


class HoldingRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.arrays = conn.dialect.name == "postgresql"

    def _parts(self, values: Sequence[str]) -> Iterator[Sequence[str]]:
        """All the keys at once where they go in one array, else IN lists of CHUNK."""
        if self.arrays:
            if values:
                yield values
        else:
            yield from chunks(values)

    def _keyed(self, query: Select[Any], column: Any, part: Sequence[str]) -> Select[Any]:
        """`query` restricted to rows whose `column` is in `part`: joined from the keys' array
        on PostgreSQL (the key's own index, whatever the statistics say), an IN list elsewhere."""
        if not self.arrays:
            return query.where(column.in_(part))
        keys = _unnest(part)
        return query.join_from(keys, column.table, column == keys.c.key)

    def existing_accounts(self, account_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for part in self._parts(account_ids):
            found.update(self.conn.scalars(self._keyed(select(accounts.c.account_id), accounts.c.account_id, part)))
        return found

    def by_core_refs(self, core_refs: Sequence[str]) -> dict[str, Holding]:
        found: dict[str, Holding] = {}
        for part in self._parts(core_refs):
            # The `<> ''` lets PostgreSQL use the partial unique index.
            for row in self.conn.execute(self._keyed(select(holdings), holdings.c.core_ref, part).where(holdings.c.core_ref != "")):
                found[row.core_ref] = _holding(row)
        return found

    def awaiting_core_refs(self, account_ids: Sequence[str]) -> list[Holding]:
        """Open holdings won opportunities opened that core banking has not reported yet."""
        found: list[Holding] = []
        for part in self._parts(account_ids):  # an account's holdings stay in one part, in updated_at order
            query = (
                self._keyed(select(holdings), holdings.c.account_id, part)
                .where(holdings.c.core_ref == "", holdings.c.status == str(HoldingStatus.OPEN))
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
        for part in self._parts(holding_ids):
            mine = holdings.c.holding_id.in_(part) if not self.arrays else holdings.c.holding_id == _unnest(part).c.key
            self.conn.execute(update(holdings).where(mine, holdings.c.account_id == survivor_id).values(account_id=merged_id))

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
        for part in self._parts(account_ids):
            tier_before = self._tiers(part)
            open_ = and_(holdings.c.account_id == accounts.c.account_id, holdings.c.status == str(HoldingStatus.OPEN))

            def total(products: Iterable[ProductType]) -> Any:
                chosen = [str(p) for p in products]
                return func.coalesce(func.sum(case((holdings.c.product_type.in_(chosen), holdings.c.balance), else_=0)), 0)

            totals = select(
                accounts.c.account_id.label("account_id"),
                total(DEPOSITS).label("deposits"),
                total(LENDING).label("loans"),
                total(AUM).label("aum"),
                func.count(holdings.c.holding_id).label("open_holdings"),
            )
            if self.arrays:
                keys = _unnest(part)
                totals = totals.select_from(keys.join(accounts, accounts.c.account_id == keys.c.key).outerjoin(holdings, open_))
            else:
                totals = totals.select_from(accounts.outerjoin(holdings, open_)).where(accounts.c.account_id.in_(part))
            fresh = totals.group_by(accounts.c.account_id).subquery("fresh")
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
        rows = self.conn.execute(self._keyed(select(accounts.c.account_id, accounts.c.derived_tier), accounts.c.account_id, account_ids))
        return {account_id: tier for account_id, tier in rows}

    def refresh_statistics(self, inserted: dict[str, int]) -> list[str]:
        """Analyses the tables (name: rows this transaction inserted) that have no statistics or
        that these rows outgrow (ANALYZE_MIN_ROWS); returns the tables analysed. ANALYZE runs in the
        transaction and counts its own uncommitted rows, so the statements after it plan with
        them. Its lock is held to the commit, so a concurrent import that finds it taken skips
        the ANALYZE rather than queue behind (or deadlock with) the first."""
        if not self.arrays:
            return []
        analysed: list[str] = []
        for name, rows in inserted.items():
            if self._stale(name, rows) and self._first_to_analyse(name):
                self.conn.execute(text(f"ANALYZE {ANALYSED[name].name}"))
                analysed.append(name)
        return analysed

    def _first_to_analyse(self, name: str) -> bool:
        return bool(self.conn.scalar(text("SELECT pg_try_advisory_xact_lock(hashtext(:key))"), {"key": f"analyze {name}"}))

    def _stale(self, name: str, inserted: int) -> bool:
        # reltuples is -1 until the first ANALYZE (PostgreSQL 14+; 0 before, caught by the size rule).
        seen = float(self.conn.scalar(text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:name)"), {"name": ANALYSED[name].name}))
        return seen < 0 or inserted > ANALYZE_MIN_ROWS + ANALYZE_FRACTION * seen
