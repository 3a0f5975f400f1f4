"""In-memory fakes of the account service's unit of work and repositories, for use-case tests.

Each fake repository keeps plain domain objects in AccountState (no encryption, no SQL) with
the contract of its SQL twin as far as the use cases under test rely on it: a loaded account
is a copy (a change lands only through save, which checks the version), merged ids resolve to
the survivor, and relationships are kept both ways. The platform half (outbox, inbox,
idempotency, commit and rollback) is crm_common.testing_fakes.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from crm_account.adapters.duplicate_repository import MergeUndo, ordered
from crm_account.adapters.screening_repository import StoredHit
from crm_account.domain.consent import Consent, ConsentPurpose
from crm_account.domain.duplicates import DuplicateCandidate, MergePlan, candidate_keys
from crm_account.domain.holdings import AUM, DEPOSITS, LENDING, Holding, HoldingStatus, TierThresholds
from crm_account.domain.households import Household, Member, Relationship
from crm_account.domain.kyc import KycStatus
from crm_account.domain.model import Account, AccountChange, ContactChannel, ContactKeys, Totals
from crm_account.domain.privacy import ErasureRequest
from crm_account.service_layer.use_cases import AccountUseCases
from crm_common.auth import DataScope
from crm_common.errors import Aborted, NotFound
from crm_common.pagination import Page
from crm_common.privacy import PersonIdentifiers
from crm_common.testing_fakes import FakeClock, FakeStore, FakeUnitOfWork, RecordingEvents

BANK_WIDE = DataScope.bank_wide()


def _reached(scope: DataScope, account: Account) -> bool:
    return scope.covers(account.profile.owner_id, "", account.profile.branch_id, account.profile.territory_id)


@dataclass
class StoredPair:
    """A queued duplicate pair (the SQL repository's StoredCandidate)."""

    candidate: DuplicateCandidate
    status: str
    detected_at: datetime
    reviewed_by: str = ""
    review_reason: str = ""


@dataclass
class AccountState:
    accounts: dict[str, Account] = field(default_factory=dict)
    changes: list[AccountChange] = field(default_factory=list)
    # A contact key ("phone:+8491...") → the first account that held it.
    match_keys: dict[str, str] = field(default_factory=dict)
    consents_in_force: dict[tuple[str, ConsentPurpose, ContactChannel | None], Consent] = field(default_factory=dict)
    consent_history: list[Consent] = field(default_factory=list)
    holdings: dict[str, Holding] = field(default_factory=dict)
    pairs: dict[tuple[str, str], StoredPair] = field(default_factory=dict)
    merges: list[tuple[MergePlan, str, str]] = field(default_factory=list)
    relationships: dict[tuple[str, str, str], Relationship] = field(default_factory=dict)
    households: dict[str, Household] = field(default_factory=dict)
    # account id → (household id, membership)
    members: dict[str, tuple[str, Member]] = field(default_factory=dict)
    erasures: dict[str, ErasureRequest] = field(default_factory=dict)
    hits: dict[str, StoredHit] = field(default_factory=dict)
    snapshots: dict[str, Account] = field(default_factory=dict)
    # Accounts whose merges' snapshots were dropped (erased persons).
    snapshots_forgotten: list[str] = field(default_factory=list)


def _key_strings(keys: ContactKeys) -> list[str]:
    return [f"{name}:{value}" for name, value in (("national_id", keys.national_id), ("phone", keys.phone_e164), ("email", keys.email)) if value]


class FakeAccounts:
    def __init__(self, state: AccountState) -> None:
        self.state = state

    def _loaded(self, account: Account) -> Account:
        loaded = copy.deepcopy(account)
        loaded.household_id = self.state.members[account.account_id][0] if account.account_id in self.state.members else ""
        return loaded

    def add(self, account: Account) -> None:
        self.state.accounts[account.account_id] = copy.deepcopy(account)

    def save(self, account: Account, read_version: int) -> None:
        if self.state.accounts[account.account_id].version != read_version:
            raise Aborted("the account was changed by another request; read it again and retry")
        self.state.accounts[account.account_id] = copy.deepcopy(account)

    def claim_match_keys(self, account: Account, strict: bool) -> None:
        for key in _key_strings(account.keys):
            if strict and key in self.state.match_keys:
                raise IntegrityError("INSERT INTO account_match_keys", {}, Exception(key))  # a lost resolve race, retried
            self.state.match_keys.setdefault(key, account.account_id)

    def add_change(self, *changes: AccountChange) -> None:
        self.state.changes.extend(changes)

    def get(self, account_id: str, scope: DataScope, for_update: bool = False, follow_merges: bool = True) -> Account:
        account = self.state.accounts.get(account_id)
        while account is not None and follow_merges and account.merged_into:
            account = self.state.accounts.get(account.merged_into)
        if account is None or not _reached(scope, account):
            raise NotFound("account", account_id)
        return self._loaded(account)

    def resolve_id(self, account_id: str, scope: DataScope) -> str:
        return self.get(account_id, scope).account_id

    def get_many(self, account_ids: list[str], scope: DataScope) -> list[Account]:
        return [self._loaded(self.state.accounts[i]) for i in account_ids if i in self.state.accounts and _reached(scope, self.state.accounts[i])]

    def candidates_for(self, keys: dict[str, str], exclude_id: str, limit: int = 50, scope: DataScope = BANK_WIDE) -> list[Account]:
        wanted = set(keys.items())
        found = [
            a
            for a in self.state.accounts.values()
            if a.account_id != exclude_id and not a.merged_into and wanted & set(candidate_keys(a.profile).items()) and _reached(scope, a)
        ]
        return [self._loaded(a) for a in found[:limit]]

    def find_by_national_id(self, national_id: str) -> Account | None:
        found = [a for a in self.state.accounts.values() if a.profile.national_id == national_id]
        return self._loaded(found[0]) if found else None

    def sharing_keys(self, keys: ContactKeys) -> list[Account]:
        holders = {self.state.match_keys[k] for k in _key_strings(keys) if k in self.state.match_keys}
        return [self._loaded(a) for a in self.state.accounts.values() if a.account_id in holders and not a.merged_into]

    def kyc_reviews_due(self, now: datetime, limit: int) -> list[Account]:
        due = [a for a in self.state.accounts.values() if a.kyc.status is KycStatus.VERIFIED and a.kyc.expires_at and a.kyc.expires_at <= now]
        return [self._loaded(a) for a in sorted(due, key=lambda a: a.kyc.expires_at or now)[:limit]]

    def forget(self, account_id: str) -> None:
        self.state.match_keys = {k: v for k, v in self.state.match_keys.items() if v != account_id}

    def merged_away(self, account_id: str) -> list[Account]:
        found: list[Account] = []
        frontier = {account_id}
        while frontier:
            batch = [a for a in self.state.accounts.values() if a.merged_into in frontier]
            found.extend(self._loaded(a) for a in batch)
            frontier = {a.account_id for a in batch}
        return found

    def person(self, account: Account, merged: list[Account]) -> PersonIdentifiers:
        """The fake's "blind index" is the match-key string ("phone:+8491...")."""
        every = [account, *merged]
        return PersonIdentifiers(
            tuple(a.account_id for a in every),
            tuple(lead for a in every for lead in (a.source_lead_id, a.acquisition.lead_id if a.acquisition else "")),
            tuple(f"national_id:{a.profile.national_id}" for a in every if a.profile.national_id),
            tuple(f"phone:{p}" for a in every for p in a.profile.phones),
            tuple(f"email:{e}" for a in every for e in a.profile.emails),
        )

    def absorb(self, merged_id: str, survivor_id: str) -> tuple[list[str], list[str]]:
        keys = [k for k, v in self.state.match_keys.items() if v == merged_id]
        changes = [c.change_id for c in self.state.changes if c.account_id == merged_id]
        self.state.match_keys = {k: survivor_id if v == merged_id else v for k, v in self.state.match_keys.items()}
        self.state.changes = [replace(c, account_id=survivor_id) if c.account_id == merged_id else c for c in self.state.changes]
        return keys, changes

    def snapshot(self, account_id: str) -> str:
        """A key to a copy of the account as it is now (the SQL twin returns its stored row)."""
        token = f"snapshot-{len(self.state.snapshots)}"
        self.state.snapshots[token] = copy.deepcopy(self.state.accounts[account_id])
        return token

    def from_snapshot(self, text: str) -> Account:
        return copy.deepcopy(self.state.snapshots[text])

    def count_changes(self, account_id: str) -> int:
        return sum(1 for c in self.state.changes if c.account_id == account_id)

    def changes(self, account_id: str, page: Page) -> tuple[list[AccountChange], dict[str, Any] | None]:
        return sorted((c for c in self.state.changes if c.account_id == account_id), key=lambda c: c.changed_at, reverse=True), None


class FakeConsents:
    def __init__(self, state: AccountState) -> None:
        self.state = state

    def in_force(self, account_id: str, purpose: ConsentPurpose, channel: ContactChannel | None) -> Consent | None:
        return self.state.consents_in_force.get((account_id, purpose, channel))

    def all_in_force(self, account_id: str) -> list[Consent]:
        return [c for (owner, _, _), c in self.state.consents_in_force.items() if owner == account_id]

    def record(self, consent: Consent, in_force: bool) -> None:
        self.state.consent_history.append(consent)
        if in_force:
            self.state.consents_in_force[(consent.account_id, consent.purpose, consent.channel)] = consent

    def get(self, consent_id: str) -> Consent:
        return next(c for c in self.state.consent_history if c.consent_id == consent_id)

    def history(self, account_id: str, page: Page) -> tuple[list[Consent], dict[str, Any] | None]:
        return [c for c in reversed(self.state.consent_history) if c.account_id == account_id], None

    def history_ids(self, account_id: str) -> list[str]:
        return [c.consent_id for c in self.state.consent_history if c.account_id == account_id]

    def merge_into(self, merged_id: str, survivor_id: str) -> list[Consent]:
        self.state.consent_history = [replace(c, account_id=survivor_id) if c.account_id == merged_id else c for c in self.state.consent_history]
        now_in_force = []
        for theirs in self.all_in_force(merged_id):
            moved = replace(theirs, account_id=survivor_id)
            del self.state.consents_in_force[(merged_id, theirs.purpose, theirs.channel)]
            if moved.supersedes(self.in_force(survivor_id, moved.purpose, moved.channel)):
                self.state.consents_in_force[(survivor_id, moved.purpose, moved.channel)] = moved
                now_in_force.append(moved)
        return now_in_force


class FakeHoldings:
    def __init__(self, state: AccountState) -> None:
        self.state = state

    def for_account(self, account_id: str) -> list[Holding]:
        return [h for h in self.state.holdings.values() if h.account_id == account_id]

    def by_opportunity(self, opportunity_id: str, for_update: bool = False) -> Holding | None:
        return next((h for h in self.state.holdings.values() if h.opportunity_id == opportunity_id), None)

    def insert_many(self, new: list[Holding]) -> None:
        self.state.holdings.update((h.holding_id, h) for h in new)

    def update_many(self, changed: list[Holding]) -> None:
        self.state.holdings.update((h.holding_id, h) for h in changed)

    def move(self, merged_id: str, survivor_id: str) -> list[str]:
        moved = self.for_account(merged_id)
        for h in moved:
            self.state.holdings[h.holding_id] = replace(h, account_id=survivor_id)
        return [h.holding_id for h in moved]

    def resummarise(self, account_ids: Sequence[str], tiers: TierThresholds, actor: str, now: datetime) -> list[str]:
        moved = []
        for account_id in account_ids:
            held = [h for h in self.for_account(account_id) if h.status is HoldingStatus.OPEN]

            def total(products: frozenset[Any], held: list[Holding] = held) -> int:
                return sum(h.balance for h in held if h.product_type in products)

            account = self.state.accounts[account_id]
            before = account.derived_tier
            changed = account.set_holdings(Totals(total(DEPOSITS), total(LENDING), total(AUM), len(held)), tiers.tier(total(AUM)), actor, now)
            if "derived_value_tier" in changed and account.derived_tier != before:
                moved.append(account_id)
        return moved


class FakeDuplicates:
    def __init__(self, state: AccountState) -> None:
        self.state = state

    def record(self, found: list[DuplicateCandidate], now: datetime) -> None:
        for candidate in found:
            pair = ordered(candidate.account_id, candidate.other_id)
            stored = self.state.pairs.get(pair)
            if stored is None:
                self.state.pairs[pair] = StoredPair(candidate, "OPEN", now)
            elif stored.status == "OPEN":
                stored.candidate = candidate

    def get(self, a: str, b: str) -> StoredPair:
        if ordered(a, b) not in self.state.pairs:
            raise NotFound("duplicate_candidate", "/".join(ordered(a, b)))
        return self.state.pairs[ordered(a, b)]

    def review(self, a: str, b: str, status: str, actor: str, reason: str) -> None:
        if ordered(a, b) in self.state.pairs:
            stored = self.state.pairs[ordered(a, b)]
            stored.status, stored.reviewed_by, stored.review_reason = status, actor, reason

    def forget_open(self, account_id: str) -> None:
        self.state.pairs = {k: p for k, p in self.state.pairs.items() if not (account_id in k and p.status == "OPEN")}

    def forget_snapshots(self, account_id: str) -> None:
        self.state.snapshots_forgotten.append(account_id)

    def record_merge(self, plan: MergePlan, actor: str, reason: str, now: datetime, undo: MergeUndo) -> str:
        self.state.merges.append((plan, actor, reason))
        return f"merge-{len(self.state.merges)}"


class FakeScreening:
    def __init__(self, state: AccountState) -> None:
        self.state = state

    def move(self, merged_id: str, survivor_id: str) -> list[str]:
        """A merged account's hits follow it, unless the survivor has a hit on the same entry."""
        taken = {h.entry_id for h in self.state.hits.values() if h.account_id == survivor_id}
        moved = [h for h in self.state.hits.values() if h.account_id == merged_id and h.entry_id not in taken]
        for hit in moved:
            self.state.hits[hit.hit_id] = replace(hit, account_id=survivor_id)
        return [h.hit_id for h in moved]


class FakeHouseholds:
    def __init__(self, state: AccountState) -> None:
        self.state = state

    def relationships_of(self, account_id: str) -> list[Relationship]:
        return [r for r in self.state.relationships.values() if r.account_id == account_id]

    def add_relationship(self, relationship: Relationship) -> None:
        for side in (relationship, relationship.inverse()):
            self.state.relationships[(side.account_id, str(side.kind), side.related_id)] = side

    def remove_relationship(self, relationship: Relationship) -> None:
        for side in (relationship, relationship.inverse()):
            self.state.relationships.pop((side.account_id, str(side.kind), side.related_id), None)

    def move_relationships(self, merged_id: str, survivor_id: str) -> list[tuple[Relationship, bool]]:
        moved = []
        for relationship in self.relationships_of(merged_id):
            self.remove_relationship(relationship)
            added = relationship.related_id != survivor_id
            if added:
                self.add_relationship(replace(relationship, account_id=survivor_id))
            moved.append((relationship, added))
        return moved

    def members(self, household_id: str) -> list[Member]:
        return [member for home, member in self.state.members.values() if home == household_id]

    def add_member(self, household_id: str, member: Member, now: datetime) -> None:
        self.state.members[member.account_id] = (household_id, member)

    def remove_member(self, account_id: str) -> None:
        del self.state.members[account_id]


class FakePrivacy:
    def __init__(self, state: AccountState) -> None:
        self.state = state

    def add(self, request: ErasureRequest) -> None:
        self.state.erasures[request.erasure_id] = copy.deepcopy(request)

    def get(self, erasure_id: str, for_update: bool = False) -> ErasureRequest:
        if erasure_id not in self.state.erasures:
            raise NotFound("erasure_request", erasure_id)
        return copy.deepcopy(self.state.erasures[erasure_id])

    save = add

    def forget_consents_and_hits(self, account_id: str) -> None:
        self.state.consents_in_force = {k: c for k, c in self.state.consents_in_force.items() if k[0] != account_id}
        self.state.consent_history = [c for c in self.state.consent_history if c.account_id != account_id]
        self.state.hits = {i: h for i, h in self.state.hits.items() if h.account_id != account_id}


class FakeAccountUnitOfWork(FakeUnitOfWork[AccountState]):
    def open_repositories(self) -> None:
        self.accounts = FakeAccounts(self.state)
        self.consents = FakeConsents(self.state)
        self.holdings = FakeHoldings(self.state)
        self.duplicates = FakeDuplicates(self.state)
        self.screening = FakeScreening(self.state)
        self.households = FakeHouseholds(self.state)
        self.privacy = FakePrivacy(self.state)


@dataclass
class App:
    """The use cases over fakes, with what a test looks at: the store, the clock."""

    use_cases: AccountUseCases
    store: FakeStore[AccountState]
    clock: FakeClock

    @property
    def state(self) -> AccountState:
        """The committed state."""
        return self.store.state

    def published(self, name: str) -> list[tuple[Any, ...]]:
        """The arguments of each committed event of this kind (RecordingEvents' method name)."""
        return [event.args for event in self.store.published if event.name == name]


def wired(now: datetime, erasure_services: tuple[str, ...] = ()) -> App:
    """AccountUseCases as bootstrap wires them, over an empty fake store and a clock standing at `now`."""
    store = FakeStore(AccountState())
    clock = FakeClock(now)
    use_cases = AccountUseCases.wire(
        uow=lambda: FakeAccountUnitOfWork(store),
        events=RecordingEvents(),
        clock=clock,
        erasure_services=erasure_services,
    )
    return App(use_cases, store, clock)
