"""Product holdings and the value tier: core-banking snapshots, the holding a won opportunity
opens, the totals and derived tier kept with them, and the tier's manual override.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from crm_account.domain.holdings import (
    MAX_ROWS,
    Holding,
    HoldingCloseReason,
    HoldingRecord,
    HoldingStatus,
    RowOutcome,
    TierThresholds,
    apply_record,
    clean_record,
    from_won_opportunity,
    new_from_record,
    won_again,
)
from crm_account.domain.model import Account, AccountChange, ChangeKind, ValueTier
from crm_account.service_layer import commands
from crm_account.service_layer.common import (
    AccountEvents,
    Clock,
    UowFactory,
    account_id_violations,
    raise_if,
    reason_violations,
    record_change,
    stored_account,
)
from crm_account.service_layer.unit_of_work import AccountUnitOfWork
from crm_common.auth import DataScope, current_data_scope, current_principal
from crm_common.db import new_id
from crm_common.errors import FailedPrecondition, FieldViolation
from crm_common.unit_of_work import request_id_violations, run_idempotent


@dataclass(frozen=True)
class RowResult:
    row: int
    outcome: RowOutcome
    holding_id: str = ""
    violations: tuple[FieldViolation, ...] = ()


@dataclass(frozen=True)
class ImportResult:
    results: list[RowResult]

    @property
    def rejected(self) -> int:
        return sum(r.outcome is RowOutcome.REJECTED for r in self.results)

    @property
    def applied(self) -> int:
        return len(self.results) - self.rejected


def resummarise(uow: AccountUnitOfWork, events: AccountEvents, tiers: TierThresholds, account_ids: list[str], actor: str, now: datetime) -> None:
    """Totals and derived tier of accounts whose holdings changed; an AccountUpdated for
    each account whose derived tier moved."""
    if not account_ids:
        return
    moved = uow.accounts.get_many(uow.holdings.resummarise(account_ids, tiers, actor, now), DataScope.bank_wide())
    uow.accounts.add_change(
        *(AccountChange(new_id(), a.account_id, ChangeKind.UPDATED, now, actor, ("derived_value_tier",), "holdings changed") for a in moved)
    )
    uow.publish(*(events.updated(account, ["derived_value_tier"], "") for account in moved))


class HoldingsUseCases:
    def __init__(self, uow: UowFactory, events: AccountEvents, clock: Clock, tiers: TierThresholds) -> None:
        self.uow = uow
        self.events = events
        self.clock = clock
        self.tiers = tiers

    def import_holdings(self, cmd: commands.ImportHoldings) -> ImportResult:
        """Applies a core-banking snapshot: each good row upserted by core_ref, each bad row
        reported; totals and derived tiers of the touched accounts kept in the same transaction.

        A repeated request_id reports the rows without applying them again: a retry of an old
        snapshot must not undo a newer one.
        """
        violations = request_id_violations(cmd.key.request_id)
        if not cmd.rows:
            violations.append(FieldViolation("rows", "required"))
        elif len(cmd.rows) > MAX_ROWS:
            violations.append(FieldViolation("rows", f"at most {MAX_ROWS} rows per call"))
        raise_if(violations)
        today = self.clock().date()
        cleaned = [clean_record(row, today) for row in cmd.rows]

        def first(uow: AccountUnitOfWork) -> tuple[ImportResult, str]:
            result = self._apply_snapshot(uow, cleaned, dry_run=False)
            return result, f"{result.applied}:{result.rejected}"

        return run_idempotent(self.uow, "ImportHoldings", cmd.key, first, lambda uow, _ref: self._apply_snapshot(uow, cleaned, dry_run=True))

    def _apply_snapshot(
        self, uow: AccountUnitOfWork, cleaned: list[tuple[HoldingRecord | None, list[FieldViolation]]], dry_run: bool
    ) -> ImportResult:
        now, actor = self.clock(), current_principal().subject
        results: dict[int, RowResult] = {}
        accepted: list[tuple[int, HoldingRecord]] = []
        first_row_of: dict[str, int] = {}
        for i, (record, violations) in enumerate(cleaned):
            if record is None:
                results[i] = RowResult(i, RowOutcome.REJECTED, violations=tuple(violations))
            elif record.core_ref in first_row_of:
                twice = FieldViolation("core_ref", f"also in row {first_row_of[record.core_ref]} of this import")
                results[i] = RowResult(i, RowOutcome.REJECTED, violations=(twice,))
            else:
                first_row_of[record.core_ref] = i
                accepted.append((i, record))
        known = uow.holdings.existing_accounts(sorted({r.account_id for _, r in accepted}))
        by_ref = uow.holdings.by_core_refs([r.core_ref for _, r in accepted])
        awaiting: dict[tuple[str, str], list[Holding]] = {}
        for pending in uow.holdings.awaiting_core_refs(sorted({r.account_id for _, r in accepted if r.core_ref not in by_ref})):
            awaiting.setdefault((pending.account_id, pending.product_type), []).append(pending)
        inserts: list[Holding] = []
        updates: list[Holding] = []
        for i, record in accepted:
            existing = by_ref.get(record.core_ref)
            if record.account_id not in known:
                results[i] = RowResult(i, RowOutcome.REJECTED, violations=(FieldViolation("account_id", "no such account"),))
                continue
            if existing is not None and existing.account_id != record.account_id:
                wrong = FieldViolation("account_id", "this core_ref belongs to another account")
                results[i] = RowResult(i, RowOutcome.REJECTED, violations=(wrong,))
                continue
            if existing is None and awaiting.get((record.account_id, record.product_type)):
                existing = awaiting[(record.account_id, record.product_type)].pop(0)  # the won opportunity's holding
            if existing is None:
                holding, outcome = new_from_record(new_id(), record, now)
                inserts.append(holding)
            else:
                holding, outcome = apply_record(existing, record, now)
                if outcome is not RowOutcome.UNCHANGED:
                    updates.append(holding)
            results[i] = RowResult(i, RowOutcome.UNCHANGED if dry_run else outcome, holding.holding_id)
        ordered = ImportResult([results[i] for i in range(len(cleaned))])
        if dry_run:
            return ordered
        uow.holdings.insert_many(inserts)
        uow.holdings.update_many(updates)
        touched = sorted({h.account_id for h in inserts + updates})
        # Before the totals: a snapshot into a fresh table must not run on a plan made for an empty one.
        uow.holdings.refresh_statistics({"holdings": len(inserts), "accounts": 0})
        announced = {r.holding_id: r.outcome for r in ordered.results}
        for holding in inserts + updates:
            if announced.get(holding.holding_id) is RowOutcome.CLOSED:
                uow.publish(self.events.holding_closed(holding, ""))  # reason CORE_BANKING (apply_record)
            elif announced.get(holding.holding_id) is RowOutcome.OPENED:
                uow.publish(self.events.holding_opened(holding, ""))
        resummarise(uow, self.events, self.tiers, touched, actor, now)
        return ordered

    def open_won_holding(self, cmd: commands.OpenWonHolding) -> str:
        """The holding a won opportunity opens, once per event and per opportunity.

        An unknown account raises, so the event is retried and then dead-lettered, not lost.
        """
        raise_if(account_id_violations(cmd.account_id, "opportunity.account_id"))
        with self.uow() as uow:
            if not uow.claim_event(cmd.consumer, cmd.event_id):
                return "duplicate"
            if cmd.product is None:
                uow.commit()
                return "not a held product"
            account = uow.accounts.get(cmd.account_id, current_data_scope(), for_update=True)
            existing = uow.holdings.by_opportunity(cmd.opportunity_id, for_update=True)
            if existing is not None and existing.close_reason is not HoldingCloseReason.OPPORTUNITY_REVERSED:
                uow.commit()
                return "already open"
            now = self.clock()
            if existing is None:
                holding = from_won_opportunity(new_id(), account.account_id, cmd.opportunity_id, cmd.product, cmd.amount, cmd.won_on, now)
                uow.holdings.insert_many([holding])
            else:  # reopened, then won again: the reversed holding opens again
                holding = won_again(existing, cmd.amount, cmd.won_on, now)
                uow.holdings.update_many([holding])
            uow.publish(self.events.holding_opened(holding, cmd.correlation_id))
            resummarise(uow, self.events, self.tiers, [account.account_id], current_principal().subject, now)
            uow.commit()
        return "ok"

    def reverse_won_holding(self, cmd: commands.ReverseWonHolding) -> str:
        """A won opportunity reopened: the holding its win opened closes, with the reason
        OPPORTUNITY_REVERSED in HoldingClosed (what incentive clawback keys on), once per event.

        No holding yet for a won, held product means OpportunityWon is still on its way (or
        dead-lettered): this raises, so the event is retried and then dead-lettered, not lost.
        A later core-banking snapshot that reports the arrangement open opens it again: core
        banking is the record of truth.
        """
        with self.uow() as uow:
            if not uow.claim_event(cmd.consumer, cmd.event_id):
                return "duplicate"
            if not cmd.was_won or cmd.product is None:
                uow.commit()
                return "no holding to reverse"
            holding = uow.holdings.by_opportunity(cmd.opportunity_id, for_update=True)
            if holding is None:
                raise FailedPrecondition(f"opportunity {cmd.opportunity_id} was reopened before its win opened a holding here; retried")
            if holding.status is HoldingStatus.CLOSED:
                uow.commit()
                return "already closed"
            now = self.clock()
            closed = holding.reversed_by_reopening(cmd.reopened_on, now)
            uow.holdings.update_many([closed])
            uow.publish(self.events.holding_closed(closed, cmd.correlation_id, cmd.reason))
            resummarise(uow, self.events, self.tiers, [closed.account_id], current_principal().subject, now)
            uow.commit()
        return "reversed"

    def list_holdings(self, account_id: str) -> tuple[list[Holding], Account]:
        raise_if(account_id_violations(account_id))
        with self.uow() as uow:
            account = uow.accounts.get(account_id, current_data_scope())
            return uow.holdings.for_account(account.account_id), account

    def override_value_tier(self, cmd: commands.OverrideValueTier) -> Account:
        violations = request_id_violations(cmd.key.request_id) + account_id_violations(cmd.account_id) + reason_violations(cmd.reason, required=True)
        tier = ValueTier.__members__.get(cmd.value_tier)
        if tier is None:
            violations.append(FieldViolation("value_tier", "required" if not cmd.value_tier else "unknown value"))
        raise_if(violations)
        assert tier is not None
        reason = cmd.reason.strip()

        def first(uow: AccountUnitOfWork) -> tuple[Account, str]:
            account = uow.accounts.get(cmd.account_id, current_data_scope(), for_update=True)
            read_version = account.version
            account.override_tier(tier, reason, current_principal().subject, self.clock())
            uow.accounts.save(account, read_version)
            record_change(uow, account, ChangeKind.VALUE_TIER_OVERRIDDEN, ["value_tier"], reason)
            uow.publish(self.events.updated(account, ["value_tier"], cmd.key.request_id))
            return account, account.account_id

        return run_idempotent(self.uow, "OverrideValueTier", cmd.key, first, stored_account)

    def clear_value_tier_override(self, cmd: commands.ClearValueTierOverride) -> Account:
        raise_if(request_id_violations(cmd.key.request_id) + account_id_violations(cmd.account_id) + reason_violations(cmd.reason, required=False))
        reason = cmd.reason.strip()

        def first(uow: AccountUnitOfWork) -> tuple[Account, str]:
            account = uow.accounts.get(cmd.account_id, current_data_scope(), for_update=True)
            read_version = account.version
            account.clear_tier_override(current_principal().subject, self.clock())
            uow.accounts.save(account, read_version)
            record_change(uow, account, ChangeKind.VALUE_TIER_OVERRIDE_CLEARED, ["value_tier"], reason)
            uow.publish(self.events.updated(account, ["value_tier"], cmd.key.request_id))
            return account, account.account_id

        return run_idempotent(self.uow, "ClearValueTierOverride", cmd.key, first, stored_account)
