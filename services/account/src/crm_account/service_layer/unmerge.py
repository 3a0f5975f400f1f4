"""Undoing a merge (UnmergeAccounts) within ACCOUNT_UNMERGE_WINDOW_DAYS.

The merged account comes back with its own values (its snapshot from just before the merge);
the survivor gives back what it took from it (domain.merges.unmerged_survivor); what moved in
this store (match keys, timeline, holdings, screening hits, consent decisions, relationships,
household place) moves back by the ids the merge recorded, so what the survivor gained since
stays with it. AccountsUnmerged tells the other services to move back what they relinked.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from crm_account.adapters.duplicate_repository import DISMISSED, StoredMerge
from crm_account.domain.duplicates import plan_merge
from crm_account.domain.holdings import TierThresholds
from crm_account.domain.households import HouseholdRole, Member, Relationship, RelationshipKind
from crm_account.domain.merges import MergeMoves, unmerged_survivor
from crm_account.domain.model import Account, ChangeKind
from crm_account.service_layer import commands
from crm_account.service_layer.common import AccountEvents, Clock, UowFactory, account_id_violations, raise_if, reason_violations, record_change
from crm_account.service_layer.holdings import resummarise
from crm_account.service_layer.unit_of_work import AccountUnitOfWork
from crm_common.auth import current_data_scope, current_principal
from crm_common.auth.scopes import DataScope
from crm_common.errors import FailedPrecondition, NotFound
from crm_common.unit_of_work import request_id_violations, run_idempotent


class UnmergeUseCases:
    def __init__(self, uow: UowFactory, events: AccountEvents, clock: Clock, tiers: TierThresholds, window: timedelta) -> None:
        self.uow = uow
        self.events = events
        self.clock = clock
        self.tiers = tiers
        # How long after a merge it can be undone.
        self.window = window

    def unmerge_accounts(self, cmd: commands.UnmergeAccounts) -> tuple[Account, Account]:
        """(the restored account, the survivor). FAILED_PRECONDITION naming why when the account
        is not merged, the merge is older than the window or was made before merges kept
        snapshots, or the survivor was merged again or erased since."""
        violations = request_id_violations(cmd.key.request_id) + account_id_violations(cmd.merged_id, "merged_id")
        raise_if(violations + reason_violations(cmd.reason, required=True))

        def first(uow: AccountUnitOfWork) -> tuple[tuple[Account, Account], str]:
            merged_now = uow.accounts.get(cmd.merged_id, current_data_scope(), for_update=True, follow_merges=False)
            stored = uow.duplicates.merge_of(cmd.merged_id, for_update=True)
            if stored is None:
                raise FailedPrecondition(f"account {cmd.merged_id} is not merged into another account")
            now = self.clock()
            survivor_now = self._check_undoable(uow, stored, merged_now, now)
            actor, reason = current_principal().subject, cmd.reason.strip()
            restored, survivor = self._restore(uow, stored, merged_now, survivor_now, actor, now, reason)
            uow.publish(self.events.accounts_unmerged(restored, survivor, stored.merge_id, cmd.key.request_id))
            return (restored, survivor), f"{restored.account_id}:{survivor.account_id}"

        def repeat(uow: AccountUnitOfWork, ref: str) -> tuple[Account, Account]:
            restored_id, survivor_id = ref.split(":")
            return uow.accounts.get(restored_id, current_data_scope()), uow.accounts.get(survivor_id, current_data_scope())

        return run_idempotent(self.uow, "UnmergeAccounts", cmd.key, first, repeat)

    def _check_undoable(self, uow: AccountUnitOfWork, stored: StoredMerge, merged_now: Account, now: datetime) -> Account:
        """The survivor, locked; FailedPrecondition naming why the merge cannot be undone."""
        if now - stored.merged_at > self.window:
            raise FailedPrecondition(
                f"the merge of {stored.merged_id} into {stored.survivor_id} was on {stored.merged_at:%Y-%m-%d}, "
                f"outside the {self.window.days}-day unmerge window"
            )
        if not (stored.undo.survivor_snapshot and stored.undo.merged_snapshot):
            raise FailedPrecondition(f"the merge of {stored.merged_id} kept no snapshot (made before merges could be undone, or erased since)")
        survivor = uow.accounts.get(stored.survivor_id, current_data_scope(), for_update=True, follow_merges=False)
        if survivor.merged_into:
            raise FailedPrecondition(f"the survivor {survivor.account_id} was merged into {survivor.merged_into} since; undo that merge first")
        for account in (survivor, merged_now):
            if account.erased_at is not None:
                raise FailedPrecondition(f"account {account.account_id} was erased since the merge")
        return survivor

    def _restore(
        self, uow: AccountUnitOfWork, stored: StoredMerge, merged_now: Account, survivor_now: Account, actor: str, now: datetime, reason: str
    ) -> tuple[Account, Account]:
        survivor_before = uow.accounts.from_snapshot(stored.undo.survivor_snapshot)
        merged_before = uow.accounts.from_snapshot(stored.undo.merged_snapshot)
        survivor, given_back = unmerged_survivor(survivor_now, survivor_before, merged_before, plan_merge(survivor_before, merged_before))
        survivor.updated_at, survivor.updated_by, survivor.version = now, actor, survivor_now.version + 1
        uow.accounts.save(survivor, survivor_now.version)
        national_id = merged_before.profile.national_id
        holder = uow.accounts.find_by_national_id(national_id) if national_id else None
        if holder is not None and holder.account_id != merged_before.account_id:
            raise FailedPrecondition(f"account {holder.account_id} holds the merged account's national id now; correct it before unmerging")
        restored = replace(merged_before, merged_into="", updated_at=now, updated_by=actor, version=merged_now.version + 1)
        uow.accounts.save(restored, merged_now.version)

        moves = stored.undo.moves
        survivor_id, merged_id = survivor.account_id, restored.account_id
        uow.accounts.give_back(survivor_id, merged_id, moves.match_keys, moves.changes)
        uow.accounts.claim_match_keys(restored, strict=False)
        uow.holdings.move_back(moves.holdings, survivor_id, merged_id)
        uow.screening.move_back(moves.screening_hits, survivor_id, merged_id)
        for consent in uow.consents.take_back(moves.consent_decisions, survivor_id, merged_id):
            uow.publish(self.events.consent_changed(consent, ""))
        _move_relationships_back(uow, moves, survivor_id, merged_id)
        _move_membership_back(uow, moves, survivor_id, merged_id, now)

        record_change(uow, survivor, ChangeKind.UNMERGED, sorted(given_back), f"gave back {merged_id}: {reason}")
        record_change(uow, restored, ChangeKind.UNMERGED, [], f"restored from {survivor_id}: {reason}")
        uow.duplicates.mark_unmerged(stored.merge_id, actor, reason, now)
        # The steward decided these are two customers: the pair is not queued again.
        uow.duplicates.review(survivor_id, merged_id, DISMISSED, actor, f"unmerged: {reason}")
        resummarise(uow, self.events, self.tiers, [survivor_id, merged_id], actor, now)
        return uow.accounts.get(merged_id, current_data_scope()), uow.accounts.get(survivor_id, current_data_scope())


def _move_relationships_back(uow: AccountUnitOfWork, moves: MergeMoves, survivor_id: str, merged_id: str) -> None:
    """The merged account's relationships as they were; the survivor loses those it only got
    by the merge (unless they were removed since)."""
    for moved in moves.relationships:
        kind = RelationshipKind(moved.kind)
        original = Relationship(merged_id, moved.related_id, kind, moved.note, datetime.fromisoformat(moved.created_at), moved.created_by)
        if moved.added:
            given = replace(original, account_id=survivor_id)
            if uow.households.has(given):
                uow.households.remove_relationship(given)
        try:
            uow.accounts.get(moved.related_id, DataScope.bank_wide(), follow_merges=False)
        except NotFound:
            continue  # the related account is gone (erased and deleted): nothing to point at
        if not uow.households.has(original):
            uow.households.add_relationship(original)


def _move_membership_back(uow: AccountUnitOfWork, moves: MergeMoves, survivor_id: str, merged_id: str, now: datetime) -> None:
    """The merged account back in its household; the survivor leaves it if it joined by the merge."""
    if not moves.household_id:
        return
    homes = uow.households.household_of([survivor_id, merged_id])
    if moves.survivor_joined_household and homes.get(survivor_id) == moves.household_id:
        uow.households.remove_member(survivor_id)
    try:
        uow.households.get_household(moves.household_id)
    except NotFound:
        return  # dissolved since
    if merged_id not in homes:
        uow.households.add_member(moves.household_id, Member(merged_id, HouseholdRole(moves.household_role)), now)
