"""Duplicates and merge: live scoring, the review queue, dismissal, and merging one account into
another (survivorship: domain.duplicates.plan_merge), or only planning it (a dry run). A merge
keeps what undoing it needs (service_layer.unmerge).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from crm_account.adapters.duplicate_repository import DISMISSED, MERGED, OPEN, MergeUndo, StoredCandidate
from crm_account.domain.duplicates import DuplicateCandidate, MergePlan, candidate_keys, plan_merge, score_pair
from crm_account.domain.holdings import TierThresholds
from crm_account.domain.households import Member
from crm_account.domain.kyc import KycStatus
from crm_account.domain.merges import FieldDecision, MergeMoves, Move, MovedRelationship, field_decisions
from crm_account.domain.model import Account, ChangeKind, LifecycleStage
from crm_account.service_layer import commands
from crm_account.service_layer.common import (
    AccountEvents,
    Clock,
    UowFactory,
    account_id_violations,
    clean_or_raise,
    raise_if,
    reason_violations,
    record_change,
)
from crm_account.service_layer.holdings import resummarise
from crm_account.service_layer.unit_of_work import AccountUnitOfWork
from crm_common.auth import DataScope, current_data_scope, current_principal
from crm_common.errors import FailedPrecondition, FieldViolation, InvalidArgument
from crm_common.pagination import Page
from crm_common.unit_of_work import request_id_violations, run_idempotent


def score_candidates(uow: AccountUnitOfWork, account: Account, scope: DataScope | None = None) -> list[DuplicateCandidate]:
    """The accounts sharing a blocking key with `account` (among those `scope` reaches; detection
    itself compares against every account), scored, best first."""
    keys = candidate_keys(account.profile)
    others = uow.accounts.candidates_for(keys, account.account_id, scope=scope) if scope else uow.accounts.candidates_for(keys, account.account_id)
    scored = [c for c in (score_pair(account, other) for other in others) if c is not None]
    return sorted(scored, key=lambda c: (-c.score, c.other_id))


def detect_duplicates(uow: AccountUnitOfWork, account: Account, now: datetime) -> list[DuplicateCandidate]:
    """Scores the accounts sharing a blocking key with `account` and queues the pairs."""
    found = score_candidates(uow, account)
    uow.duplicates.record(found, now)
    return found


@dataclass(frozen=True)
class MergePreview:
    """A dry run's answer: the survivor as the merge would make it, each field's winner and
    why, and what would move where."""

    survivor: Account
    plan: MergePlan
    fields: list[FieldDecision]
    moves: list[Move]


class DuplicatesUseCases:
    def __init__(self, uow: UowFactory, events: AccountEvents, clock: Clock, tiers: TierThresholds, relink_services: tuple[str, ...] = ()) -> None:
        self.uow = uow
        self.events = events
        self.clock = clock
        # A merge recomputes the survivor's totals and derived tier.
        self.tiers = tiers
        # The services that relink their records on AccountsMerged (named in a dry run's plan).
        self.relink_services = relink_services

    def find_duplicates(self, cmd: commands.FindDuplicates) -> list[DuplicateCandidate]:
        """Live scores against every account sharing a blocking key; nothing is stored."""
        if bool(cmd.account_id) == (cmd.account is not None):
            raise InvalidArgument([FieldViolation(f, "exactly one of account_id and account") for f in ("account_id", "account")])
        if cmd.account is not None:
            probe = Account(
                account_id="",
                profile=clean_or_raise(cmd.account, self.clock, []),
                source_lead_id="",
                acquisition=None,
                created_at=self.clock(),
                created_by="",
                updated_at=self.clock(),
                updated_by="",
            )
            with self.uow() as uow:
                return score_candidates(uow, probe, current_data_scope())
        raise_if(account_id_violations(cmd.account_id))
        with self.uow() as uow:
            return score_candidates(uow, uow.accounts.get(cmd.account_id, current_data_scope()), current_data_scope())

    def duplicate_queue(self, min_score: int, page: Page) -> tuple[list[StoredCandidate], dict[str, Any] | None]:
        if not 0 <= min_score <= 100:
            raise InvalidArgument(FieldViolation("min_score", "between 0 and 100"))
        with self.uow() as uow:
            return uow.duplicates.queue(min_score or 60, page)

    def dismiss_duplicate(self, cmd: commands.DismissDuplicate) -> StoredCandidate:
        violations = (
            request_id_violations(cmd.key.request_id) + account_id_violations(cmd.account_id) + account_id_violations(cmd.other_id, "other_id")
        )
        raise_if(violations + reason_violations(cmd.reason, required=True))

        def first(uow: AccountUnitOfWork) -> tuple[StoredCandidate, str]:
            stored = uow.duplicates.get(cmd.account_id, cmd.other_id)
            if stored.status != OPEN:
                raise FailedPrecondition(f"the pair was already {stored.status}")
            uow.duplicates.review(cmd.account_id, cmd.other_id, DISMISSED, current_principal().subject, cmd.reason.strip())
            return uow.duplicates.get(cmd.account_id, cmd.other_id), "dismissed"

        return run_idempotent(self.uow, "DismissDuplicateCandidate", cmd.key, first, lambda uow, _r: uow.duplicates.get(cmd.account_id, cmd.other_id))

    def plan_merge(self, cmd: commands.PlanMerge) -> MergePreview:
        """What merging `merged_id` into `survivor_id` would do; reads only, writes nothing.

        The account store's moves are counted; the services holding account references relink
        theirs when AccountsMerged reaches them (event-driven, so they are named, not counted).
        """
        raise_if(account_id_violations(cmd.survivor_id, "survivor_id") + account_id_violations(cmd.merged_id, "merged_id"))
        with self.uow() as uow:
            survivor = uow.accounts.get(cmd.survivor_id, current_data_scope(), follow_merges=False)
            merged = uow.accounts.get(cmd.merged_id, current_data_scope(), follow_merges=False)
            _check_not_merged(survivor, merged)
            plan = plan_merge(survivor, merged)
            merged_id = merged.account_id
            moves = [
                Move("account", "holdings", len(uow.holdings.for_account(merged_id))),
                Move("account", "relationships", sum(1 for r in uow.households.relationships_of(merged_id) if r.related_id != survivor.account_id)),
                Move("account", "household membership", 1 if merged.household_id else 0),
                Move("account", "consent decisions", len(uow.consents.history_ids(merged_id))),
                Move("account", "screening hits", len(uow.screening.queue_of(merged_id))),
                Move("account", "timeline entries", uow.accounts.count_changes(merged_id)),
            ]
            moves += [Move(service, f"records of account {merged_id}", relinked_on_event=True) for service in self.relink_services]
            preview = replace(
                survivor,
                profile=plan.profile,
                tier_override=plan.tier_override,
                tier_override_reason=plan.tier_override_reason,
                customer_since=plan.customer_since,
                acquisition=plan.acquisition,
            )
            if survivor.kyc.status is KycStatus.NOT_STARTED:
                preview.kyc = merged.kyc
            return MergePreview(preview, plan, field_decisions(plan, survivor, merged), moves)

    def merge_accounts(self, cmd: commands.MergeAccounts) -> tuple[Account, dict[str, str]]:
        """Merges `merged_id` into `survivor_id` (survivorship: domain.duplicates.plan_merge).

        The merged account becomes a tombstone: its PII cleared, CLOSED, `merged_into` set, so
        its id keeps resolving; its contact points, holdings, consents, timeline and match keys
        go to the survivor. AccountsMerged tells the other services to relink.
        """
        violations = (
            request_id_violations(cmd.key.request_id)
            + account_id_violations(cmd.survivor_id, "survivor_id")
            + account_id_violations(cmd.merged_id, "merged_id")
        )
        raise_if(violations + reason_violations(cmd.reason, required=True))

        def first(uow: AccountUnitOfWork) -> tuple[tuple[Account, dict[str, str]], str]:
            survivor = uow.accounts.get(cmd.survivor_id, current_data_scope(), for_update=True, follow_merges=False)
            merged = uow.accounts.get(cmd.merged_id, current_data_scope(), for_update=True, follow_merges=False)
            _check_not_merged(survivor, merged)
            plan = plan_merge(survivor, merged)
            actor, now = current_principal().subject, self.clock()
            snapshots = uow.accounts.snapshot(survivor.account_id), uow.accounts.snapshot(merged.account_id)
            _bury(uow, merged, survivor.account_id, actor, now)
            merged_survivor = self._absorb(uow, survivor, merged, plan, actor, now, cmd, snapshots)
            return (merged_survivor, plan.field_sources), survivor.account_id

        def repeat(uow: AccountUnitOfWork, ref: str) -> tuple[Account, dict[str, str]]:
            return uow.accounts.get(ref, current_data_scope()), {}

        return run_idempotent(self.uow, "MergeAccounts", cmd.key, first, repeat)

    def _absorb(
        self,
        uow: AccountUnitOfWork,
        survivor: Account,
        merged: Account,
        plan: MergePlan,
        actor: str,
        now: datetime,
        cmd: commands.MergeAccounts,
        snapshots: tuple[str, str],
    ) -> Account:
        """The survivor after taking in everything of `merged` (reloaded: totals were recomputed);
        what moved is recorded with the merge, by id, for an unmerge."""
        read_version = survivor.version
        survivor.profile = plan.profile
        survivor.tier_override, survivor.tier_override_reason = plan.tier_override, plan.tier_override_reason
        survivor.customer_since, survivor.acquisition = plan.customer_since, plan.acquisition
        if survivor.kyc.status is KycStatus.NOT_STARTED:
            survivor.kyc = merged.kyc  # the one verification there is
        survivor.updated_at, survivor.updated_by, survivor.version = now, actor, survivor.version + 1
        uow.accounts.save(survivor, read_version)
        moves = MergeMoves(consent_decisions=uow.consents.history_ids(merged.account_id))
        moves.match_keys, moves.changes = uow.accounts.absorb(merged.account_id, survivor.account_id)
        uow.accounts.claim_match_keys(survivor, strict=False)
        moves.holdings = uow.holdings.move(merged.account_id, survivor.account_id)
        moves.screening_hits = uow.screening.move(merged.account_id, survivor.account_id)
        moves.relationships = [
            MovedRelationship(r.related_id, str(r.kind), r.note, r.created_at.isoformat(), r.created_by, added)
            for r, added in uow.households.move_relationships(merged.account_id, survivor.account_id)
        ]
        _move_membership(uow, merged, survivor, now, moves)
        for consent in uow.consents.merge_into(merged.account_id, survivor.account_id):
            uow.publish(self.events.consent_changed(consent, cmd.key.request_id))
        from_merged = sorted(name for name, source in plan.field_sources.items() if merged.account_id in source)
        record_change(uow, survivor, ChangeKind.MERGED, from_merged, f"absorbed {merged.account_id}: {cmd.reason.strip()}")
        uow.duplicates.review(survivor.account_id, merged.account_id, MERGED, actor, cmd.reason.strip())
        uow.duplicates.forget_open(merged.account_id)
        merge_id = uow.duplicates.record_merge(plan, actor, cmd.reason.strip(), now, MergeUndo(*snapshots, moves))
        resummarise(uow, self.events, self.tiers, [survivor.account_id], actor, now)
        merged_survivor = uow.accounts.get(survivor.account_id, current_data_scope())
        uow.publish(self.events.accounts_merged(merged_survivor, merged.account_id, merge_id, cmd.key.request_id))
        detect_duplicates(uow, merged_survivor, self.clock())
        return merged_survivor


def _bury(uow: AccountUnitOfWork, merged: Account, survivor_id: str, actor: str, now: datetime) -> None:
    """The merged account as a tombstone; saved first so its national id is free for the survivor."""
    read_version = merged.version
    merged.profile = replace(merged.profile, national_id="", national_id_legacy=False, phones=(), emails=(), lifecycle_stage=LifecycleStage.CLOSED)
    merged.merged_into = survivor_id
    merged.updated_at, merged.updated_by, merged.version = now, actor, merged.version + 1
    uow.accounts.save(merged, read_version)


def _check_not_merged(survivor: Account, merged: Account) -> None:
    for account in (survivor, merged):
        if account.merged_into:
            raise FailedPrecondition(f"account {account.account_id} was already merged into {account.merged_into}")


def _move_membership(uow: AccountUnitOfWork, merged: Account, survivor: Account, now: datetime, moves: MergeMoves) -> None:
    """The survivor takes the merged account's place in its household unless it has one."""
    if not merged.household_id:
        return
    role = next(m.role for m in uow.households.members(merged.household_id) if m.account_id == merged.account_id)
    uow.households.remove_member(merged.account_id)
    moves.household_id, moves.household_role = merged.household_id, str(role)
    if not survivor.household_id:
        uow.households.add_member(merged.household_id, Member(survivor.account_id, role), now)
        moves.survivor_joined_household = True
