"""The account service's use cases. Each runs in one unit of work: state, events (outbox), the
timeline entry, the inbox mark and the idempotency record commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol, TypeVar

from crm_account.adapters.duplicate_repository import DISMISSED, MERGED, OPEN, StoredCandidate
from crm_account.adapters.screening_repository import StoredHit
from crm_account.domain.consent import Consent, ConsentDecision, clean_consent, decide, scope_violations
from crm_account.domain.duplicates import DuplicateCandidate, MergePlan, candidate_keys, plan_merge, score_pair
from crm_account.domain.holdings import (
    MAX_ROWS,
    Holding,
    HoldingRecord,
    RowOutcome,
    TierThresholds,
    apply_record,
    clean_record,
    from_won_opportunity,
    new_from_record,
)
from crm_account.domain.households import (
    MAX_HOUSEHOLD_MEMBERS,
    MAX_HOUSEHOLD_NAME,
    MAX_NOTE,
    Household,
    HouseholdRole,
    Member,
    Relationship,
    RelationshipKind,
    check_joinable,
    check_relationship,
)
from crm_account.domain.kyc import KycStatus, RiskRating, clean_outcome, expired, next_kyc
from crm_account.domain.model import (
    Account,
    AccountChange,
    AccountType,
    ChangeKind,
    LifecycleStage,
    MatchField,
    Profile,
    ValueTier,
    best_match,
    is_valid_id,
)
from crm_account.domain.privacy import ErasureRequest, check_erasable, erase
from crm_account.domain.profile import MAX_ID, UPDATABLE_FIELDS, AccountDraft, clean_keys, clean_profile, draft_of
from crm_account.domain.screening import ListKind, ReviewStatus, Watchlist, screen
from crm_account.service_layer import commands
from crm_account.service_layer.unit_of_work import AccountUnitOfWork
from crm_common.auth import current_principal
from crm_common.db import new_id, utcnow
from crm_common.errors import Aborted, AlreadyExists, FailedPrecondition, FieldViolation, InvalidArgument, NotFound, echo
from crm_common.pagination import Page
from crm_common.unit_of_work import request_id_violations, run_idempotent

# How a remembered resolution that created its account is written (result_ref "<id>:CREATED").
_CREATED = "CREATED"
MAX_REASON = 500
# ResolvePersonAccount takes one phone and one email: its violations name those fields.
_RESOLVE_FIELD_NAMES = {"phones[0]": "phone", "phones": "phone", "emails[0]": "email", "emails": "email"}


class AccountEvents(Protocol):
    """Builds the service's domain events (protobuf messages) from domain objects."""

    def created(self, account: Account, correlation_id: str) -> Any: ...
    def updated(self, account: Account, changed_fields: list[str], correlation_id: str) -> Any: ...
    def consent_changed(self, consent: Consent, correlation_id: str) -> Any: ...
    def kyc_status_changed(self, account: Account, previous: KycStatus, correlation_id: str) -> Any: ...
    def holding_opened(self, holding: Holding, correlation_id: str) -> Any: ...
    def holding_closed(self, holding: Holding, correlation_id: str) -> Any: ...
    def accounts_merged(self, survivor: Account, merged_id: str, correlation_id: str) -> Any: ...
    def erasure_requested(self, request: ErasureRequest, lead_ids: list[str], correlation_id: str) -> Any: ...
    def erasure_completed(self, request: ErasureRequest, correlation_id: str) -> Any: ...


@dataclass(frozen=True)
class PersonalData:
    """Everything this service holds about a person (an export's content)."""

    account: Account
    consents: list[Consent]
    consent_history: list[Consent]
    holdings: list[Holding]
    relationships: list[Relationship]
    timeline: list[AccountChange]
    screening_hits: list[StoredHit]
    erasure: ErasureRequest | None


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


@dataclass(frozen=True)
class ConsentCheck:
    decision: ConsentDecision
    # The decision in force, if any.
    consent: Consent | None

    @property
    def allowed(self) -> bool:
        return self.decision is ConsentDecision.ALLOWED


@dataclass(frozen=True)
class Resolution:
    account: Account
    # False when the account was created by this call.
    matched: bool
    matched_on: MatchField | None

    @property
    def ref(self) -> str:
        return f"{self.account.account_id}:{self.matched_on or _CREATED}"


def _account_id(value: str, field: str = "account_id") -> list[FieldViolation]:
    if not value:
        return [FieldViolation(field, "required")]
    if not is_valid_id(value):
        return [FieldViolation(field, "not a valid account id")]
    return []


def _reason(value: str, required: bool) -> list[FieldViolation]:
    if required and not value.strip():
        return [FieldViolation("reason", "required: say why, it is kept in the account's history")]
    if len(value) > MAX_REASON:
        return [FieldViolation("reason", f"at most {MAX_REASON} characters")]
    return []


T = TypeVar("T")


def _every_page(fetch: Callable[[str, Page], tuple[list[T], dict[str, Any] | None]], key: str) -> list[T]:
    """All rows of a keyset-paged listing."""
    rows: list[T] = []
    after: dict[str, Any] | None = None
    while True:
        found, after = fetch(key, Page(size=500, after=after))
        rows.extend(found)
        if after is None:
            return rows


def _raise_if(violations: list[FieldViolation]) -> None:
    if violations:
        raise InvalidArgument(violations)


class AccountHandlers:
    def __init__(
        self,
        uow: Callable[[], AccountUnitOfWork],
        events: AccountEvents,
        clock: Callable[[], datetime] = utcnow,
        tiers: TierThresholds | None = None,
        watchlist: Watchlist | None = None,
        erasure_services: tuple[str, ...] = (),
    ) -> None:
        self.uow = uow
        self.events = events
        self.clock = clock
        self.tiers = tiers or TierThresholds()
        # None when no list is configured: accounts are then not screened.
        self.watchlist = watchlist
        # The services that hold copies of a person's data and confirm an erasure.
        self.erasure_services = erasure_services

    def _profile(self, draft: AccountDraft, extra: list[FieldViolation], rename: dict[str, str] | None = None, at: str = "account") -> Profile:
        """`rename` maps the profile's paths to the request's; else they sit under `at` (the
        AccountInput's field): violations name the path from the request root."""
        profile, violations = clean_profile(draft, self.clock().date())
        if rename:
            violations = [FieldViolation(rename.get(v.field, v.field), v.description) for v in violations]
        else:
            violations = [FieldViolation(f"{at}.{v.field}", v.description) for v in violations]
        _raise_if(extra + violations)
        assert profile is not None
        return profile

    def _new_account(self, uow: AccountUnitOfWork, profile: Profile, source_lead_id: str, correlation_id: str) -> Account:
        now, actor = self.clock(), current_principal().subject
        account = Account(
            account_id=new_id(),
            profile=profile,
            source_lead_id=source_lead_id,
            acquisition=None,
            created_at=now,
            created_by=actor,
            updated_at=now,
            updated_by=actor,
            customer_since=now if profile.lifecycle_stage is LifecycleStage.ACTIVE else None,
        )
        uow.accounts.add(account)
        self._record(uow, account, ChangeKind.CREATED, [])
        uow.publish(self.events.created(account, correlation_id))
        self._detect_duplicates(uow, account)
        self._screen(uow, account)
        return account

    def _screen(self, uow: AccountUnitOfWork, account: Account) -> list[StoredHit]:
        """Holds the account's watchlist hits for review (persons only; nothing without a list)."""
        if self.watchlist is None or account.profile.account_type is not AccountType.PERSON:
            return []
        hits = screen(self.watchlist, account.profile.full_name, account.profile.date_of_birth)
        return uow.screening.record(account.account_id, hits, self.watchlist.version, self.clock())

    def _detect_duplicates(self, uow: AccountUnitOfWork, account: Account) -> list[DuplicateCandidate]:
        """Scores the accounts sharing a blocking key with `account` and queues the pairs."""
        found = self._score_candidates(uow, account)
        uow.duplicates.record(found, self.clock())
        return found

    @staticmethod
    def _score_candidates(uow: AccountUnitOfWork, account: Account) -> list[DuplicateCandidate]:
        others = uow.accounts.candidates_for(candidate_keys(account.profile), account.account_id)
        scored = [c for c in (score_pair(account, other) for other in others) if c is not None]
        return sorted(scored, key=lambda c: (-c.score, c.other_id))

    def _record(self, uow: AccountUnitOfWork, account: Account, kind: ChangeKind, fields: list[str], reason: str = "") -> None:
        uow.accounts.add_change(AccountChange(new_id(), account.account_id, kind, account.updated_at, account.updated_by, tuple(fields), reason))

    def resolve_person_account(self, cmd: commands.ResolvePersonAccount) -> Resolution:
        """The account holding the person's strongest key (national id, phone, email), or a new prospect.

        A race between two resolves of one person is settled by account_match_keys: the
        loser's claim fails, run_idempotent runs it again, and the match finds the winner.
        """
        violations = request_id_violations(cmd.key.request_id)
        if len(cmd.source_lead_id) > MAX_ID:
            violations.append(FieldViolation("source_lead_id", f"at most {MAX_ID} characters"))
        profile = self._profile(cmd.person, violations, _RESOLVE_FIELD_NAMES)

        def first(uow: AccountUnitOfWork) -> tuple[Resolution, str]:
            match = best_match(profile.keys, uow.accounts.sharing_keys(profile.keys))
            if match is not None:
                resolution = Resolution(match.account, matched=True, matched_on=match.field)
            else:
                account = self._new_account(uow, profile, cmd.source_lead_id, cmd.key.request_id)
                uow.accounts.claim_match_keys(account, strict=True)
                resolution = Resolution(account, matched=False, matched_on=None)
            return resolution, resolution.ref

        def repeat(uow: AccountUnitOfWork, ref: str) -> Resolution:
            account_id, _, outcome = ref.partition(":")
            account = uow.accounts.get(account_id)
            if outcome == _CREATED:
                return Resolution(account, matched=False, matched_on=None)
            return Resolution(account, matched=True, matched_on=MatchField(outcome))

        return run_idempotent(self.uow, "ResolvePersonAccount", cmd.key, first, repeat)

    def create_account(self, cmd: commands.CreateAccount) -> Account:
        """A new person or business account; ALREADY_EXISTS (with its id) for a known national id.

        Sharing a phone or an email with another account is allowed (families share them);
        such pairs are for duplicate detection to weigh, not for the create to refuse.
        """
        profile = self._profile(cmd.account, request_id_violations(cmd.key.request_id))

        def first(uow: AccountUnitOfWork) -> tuple[Account, str]:
            self._check_national_id_free(uow, profile.national_id, None)
            account = self._new_account(uow, profile, "", cmd.key.request_id)
            uow.accounts.claim_match_keys(account, strict=False)
            return account, account.account_id

        return run_idempotent(self.uow, "CreateAccount", cmd.key, first, lambda uow, ref: uow.accounts.get(ref))

    @staticmethod
    def _check_national_id_free(uow: AccountUnitOfWork, national_id: str, account_id: str | None) -> None:
        if not national_id:
            return
        holder = uow.accounts.find_by_national_id(national_id)
        if holder is not None and holder.account_id != account_id:
            raise AlreadyExists("account", holder.account_id, "an account with this national id already exists")

    def update_account(self, cmd: commands.UpdateAccount) -> Account:
        violations = request_id_violations(cmd.key.request_id) + _account_id(cmd.account_id)
        if not cmd.update_mask:
            violations.append(FieldViolation("update_mask", "required: name the fields to change"))
        for path in cmd.update_mask:
            if path == "type":
                violations.append(FieldViolation("update_mask", "an account's type cannot change"))
            elif path not in UPDATABLE_FIELDS:
                violations.append(FieldViolation("update_mask", f"unknown field {echo(path)}"))
        if cmd.expected_version < 0:
            violations.append(FieldViolation("expected_version", "must not be negative"))
        _raise_if(violations)
        fields = frozenset(cmd.update_mask)

        def first(uow: AccountUnitOfWork) -> tuple[Account, str]:
            account = uow.accounts.get(cmd.account_id, for_update=True)
            if cmd.expected_version and account.version != cmd.expected_version:
                raise Aborted(f"the account is at version {account.version}, not {cmd.expected_version}; read it again")
            profile = self._profile(draft_of(account.profile).taking(cmd.account, fields), [])
            read_version = account.version
            changed = account.change_profile(profile, fields, current_principal().subject, self.clock())
            if changed:
                if "national_id" in changed:
                    self._check_national_id_free(uow, account.profile.national_id, account.account_id)
                uow.accounts.save(account, read_version)
                uow.accounts.claim_match_keys(account, strict=False)
                self._record(uow, account, ChangeKind.UPDATED, changed)
                uow.publish(self.events.updated(account, changed, cmd.key.request_id))
                self._detect_duplicates(uow, account)
                if {"full_name", "date_of_birth"} & set(changed):
                    self._screen(uow, account)
            return account, account.account_id

        return run_idempotent(self.uow, "UpdateAccount", cmd.key, first, lambda uow, ref: uow.accounts.get(ref))

    def override_value_tier(self, cmd: commands.OverrideValueTier) -> Account:
        violations = request_id_violations(cmd.key.request_id) + _account_id(cmd.account_id) + _reason(cmd.reason, required=True)
        tier = ValueTier.__members__.get(cmd.value_tier)
        if tier is None:
            violations.append(FieldViolation("value_tier", "required" if not cmd.value_tier else "unknown value"))
        _raise_if(violations)
        assert tier is not None
        reason = cmd.reason.strip()

        def first(uow: AccountUnitOfWork) -> tuple[Account, str]:
            account = uow.accounts.get(cmd.account_id, for_update=True)
            read_version = account.version
            account.override_tier(tier, reason, current_principal().subject, self.clock())
            uow.accounts.save(account, read_version)
            self._record(uow, account, ChangeKind.VALUE_TIER_OVERRIDDEN, ["value_tier"], reason)
            uow.publish(self.events.updated(account, ["value_tier"], cmd.key.request_id))
            return account, account.account_id

        return run_idempotent(self.uow, "OverrideValueTier", cmd.key, first, lambda uow, ref: uow.accounts.get(ref))

    def clear_value_tier_override(self, cmd: commands.ClearValueTierOverride) -> Account:
        _raise_if(request_id_violations(cmd.key.request_id) + _account_id(cmd.account_id) + _reason(cmd.reason, required=False))
        reason = cmd.reason.strip()

        def first(uow: AccountUnitOfWork) -> tuple[Account, str]:
            account = uow.accounts.get(cmd.account_id, for_update=True)
            read_version = account.version
            account.clear_tier_override(current_principal().subject, self.clock())
            uow.accounts.save(account, read_version)
            self._record(uow, account, ChangeKind.VALUE_TIER_OVERRIDE_CLEARED, ["value_tier"], reason)
            uow.publish(self.events.updated(account, ["value_tier"], cmd.key.request_id))
            return account, account.account_id

        return run_idempotent(self.uow, "ClearValueTierOverride", cmd.key, first, lambda uow, ref: uow.accounts.get(ref))

    def get_account(self, account_id: str) -> Account:
        _raise_if(_account_id(account_id))
        with self.uow() as uow:
            return uow.accounts.get(account_id)

    def search_accounts(self, query: commands.SearchAccounts, page: Page) -> tuple[list[Account], dict[str, Any] | None]:
        """Exact lookup by phone, email and national id, and word-prefix by name (all given must match)."""
        violations: list[FieldViolation] = []
        keys = clean_keys(query.phone, query.email, query.national_id, violations)
        name = query.name.strip()
        if len(name) > 200:
            violations.append(FieldViolation("name", "at most 200 characters"))
        if not (query.phone.strip() or query.email.strip() or query.national_id.strip() or name):
            violations.extend(
                FieldViolation(f, "one of phone, email, national_id or name is required") for f in ("phone", "email", "national_id", "name")
            )
        _raise_if(violations)
        with self.uow() as uow:
            return uow.accounts.search(keys, name, page)

    def list_account_changes(self, account_id: str, page: Page) -> tuple[list[AccountChange], dict[str, Any] | None]:
        _raise_if(_account_id(account_id))
        with self.uow() as uow:
            return uow.accounts.changes(uow.accounts.resolve_id(account_id), page)  # NOT_FOUND, not an empty timeline

    def record_consent(self, cmd: commands.RecordConsent) -> tuple[Consent, bool]:
        """Records a grant or a withdrawal; returns it and whether it is now the one in force."""
        now = self.clock()
        terms, violations = clean_consent(cmd.consent, now)
        _raise_if(request_id_violations(cmd.key.request_id) + _account_id(cmd.account_id) + violations)
        assert terms is not None

        def first(uow: AccountUnitOfWork) -> tuple[tuple[Consent, bool], str]:
            account = uow.accounts.get(cmd.account_id, for_update=True)  # one decision at a time per customer
            actor = current_principal().subject
            consent = Consent(
                new_id(),
                account.account_id,
                terms.purpose,
                terms.channel,
                terms.status,
                terms.source,
                terms.evidence_ref,
                terms.decided_at,
                terms.expires_at,
                now,
                actor,
            )
            in_force = consent.supersedes(uow.consents.in_force(account.account_id, consent.purpose, consent.channel))
            uow.consents.record(consent, in_force)
            if in_force:
                change = AccountChange(
                    new_id(),
                    account.account_id,
                    ChangeKind.CONSENT_CHANGED,
                    now,
                    actor,
                    (f"consent.{consent.scope}",),
                    f"{consent.status} via {consent.source}",
                )
                uow.accounts.add_change(change)
                uow.publish(self.events.consent_changed(consent, cmd.key.request_id))
            return (consent, in_force), f"{consent.consent_id}:{int(in_force)}"

        def repeat(uow: AccountUnitOfWork, ref: str) -> tuple[Consent, bool]:
            consent_id, _, in_force = ref.partition(":")
            return uow.consents.get(consent_id), in_force == "1"

        return run_idempotent(self.uow, "RecordConsent", cmd.key, first, repeat)

    def check_consent(self, cmd: commands.CheckConsent) -> ConsentCheck:
        purpose, channel, violations = scope_violations(cmd.purpose, cmd.channel)
        _raise_if(_account_id(cmd.account_id) + violations)
        assert purpose is not None
        with self.uow() as uow:
            # Also NOT_FOUND for an unknown account (rather than NOT_GIVEN), and an id merged
            # away answers with the survivor's consent.
            current = uow.consents.in_force(uow.accounts.resolve_id(cmd.account_id), purpose, channel)
            return ConsentCheck(decide(current, self.clock()), current)

    def list_consents(self, account_id: str) -> list[Consent]:
        _raise_if(_account_id(account_id))
        with self.uow() as uow:
            return uow.consents.all_in_force(uow.accounts.resolve_id(account_id))

    def consent_history(self, account_id: str, page: Page) -> tuple[list[Consent], dict[str, Any] | None]:
        _raise_if(_account_id(account_id))
        with self.uow() as uow:
            return uow.consents.history(uow.accounts.resolve_id(account_id), page)

    def record_kyc_outcome(self, cmd: commands.RecordKycOutcome) -> Account:
        """An onboarding outcome; FAILED_PRECONDITION for a move the onboarding flow never makes."""
        outcome, violations = clean_outcome(cmd.outcome, self.clock())
        _raise_if(request_id_violations(cmd.key.request_id) + _account_id(cmd.account_id) + violations)
        assert outcome is not None

        def first(uow: AccountUnitOfWork) -> tuple[Account, str]:
            account = uow.accounts.get(cmd.account_id, for_update=True)
            self._change_kyc(uow, account, next_kyc(account.kyc, outcome), current_principal().subject, cmd.key.request_id)
            return account, account.account_id

        return run_idempotent(self.uow, "RecordKycOutcome", cmd.key, first, lambda uow, ref: uow.accounts.get(ref))

    def record_reported_kyc_outcome(self, cmd: commands.ReportedKycOutcome) -> str:
        """The same outcome by event, once per event. A bad or impossible outcome raises: the
        message is retried, then parked in the dead-letter queue for a person to look at."""
        outcome, violations = clean_outcome(cmd.outcome, self.clock())
        _raise_if(_account_id(cmd.account_id) + violations)
        assert outcome is not None
        with self.uow() as uow:
            if not uow.claim_event(cmd.consumer, cmd.event_id):
                return "duplicate"
            account = uow.accounts.get(cmd.account_id, for_update=True)
            self._change_kyc(uow, account, next_kyc(account.kyc, outcome), current_principal().subject, cmd.correlation_id)
            uow.commit()
        return str(outcome.status)

    def _change_kyc(self, uow: AccountUnitOfWork, account: Account, kyc: Any, actor: str, correlation_id: str, note: str = "") -> None:
        previous, read_version = account.kyc.status, account.version
        account.set_kyc(kyc, actor, self.clock())
        uow.accounts.save(account, read_version)
        why = note or kyc.reason
        self._record(uow, account, ChangeKind.KYC_STATUS_CHANGED, ["kyc"], f"{previous} → {kyc.status}" + (f": {why}" if why else ""))
        uow.publish(self.events.kyc_status_changed(account, previous, correlation_id))

    def expire_kyc_reviews(self, batch: int = 200) -> int:
        """Marks verifications whose periodic review is due EXPIRED; returns how many. Replicas
        running this at once take disjoint rows (SKIP LOCKED)."""
        with self.uow() as uow:
            now = self.clock()
            due = uow.accounts.kyc_reviews_due(now, batch)
            for account in due:
                lapsed = expired(account.kyc, now)
                if lapsed is not None:
                    self._change_kyc(uow, account, lapsed, "system:kyc-expiry", "")
            uow.commit()
            return len(due)

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
        _raise_if(violations)
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
        announced = {r.holding_id: r.outcome for r in ordered.results}
        for holding in inserts + updates:
            if announced.get(holding.holding_id) is RowOutcome.CLOSED:
                uow.publish(self.events.holding_closed(holding, ""))
            elif announced.get(holding.holding_id) is RowOutcome.OPENED:
                uow.publish(self.events.holding_opened(holding, ""))
        self._resummarise(uow, sorted({h.account_id for h in inserts + updates}), actor, now)
        return ordered

    def _resummarise(self, uow: AccountUnitOfWork, account_ids: list[str], actor: str, now: datetime) -> None:
        """Totals and derived tier of accounts whose holdings changed; an AccountUpdated for
        each account whose derived tier moved."""
        if not account_ids:
            return
        moved = uow.accounts.get_many(uow.holdings.resummarise(account_ids, self.tiers, actor, now))
        uow.accounts.add_change(
            *(AccountChange(new_id(), a.account_id, ChangeKind.UPDATED, now, actor, ("derived_value_tier",), "holdings changed") for a in moved)
        )
        uow.publish(*(self.events.updated(account, ["derived_value_tier"], "") for account in moved))

    def open_won_holding(self, cmd: commands.OpenWonHolding) -> str:
        """The holding a won opportunity opens, once per event and per opportunity.

        An unknown account raises, so the event is retried and then dead-lettered, not lost.
        """
        _raise_if(_account_id(cmd.account_id, "opportunity.account_id"))
        with self.uow() as uow:
            if not uow.claim_event(cmd.consumer, cmd.event_id):
                return "duplicate"
            if cmd.product is None:
                uow.commit()
                return "not a held product"
            account = uow.accounts.get(cmd.account_id, for_update=True)
            if uow.holdings.by_opportunity(cmd.opportunity_id) is not None:
                uow.commit()
                return "already open"
            now = self.clock()
            holding = from_won_opportunity(new_id(), account.account_id, cmd.opportunity_id, cmd.product, cmd.amount, cmd.won_on, now)
            uow.holdings.insert_many([holding])
            uow.publish(self.events.holding_opened(holding, cmd.correlation_id))
            self._resummarise(uow, [account.account_id], current_principal().subject, now)
            uow.commit()
        return "ok"

    def list_holdings(self, account_id: str) -> tuple[list[Holding], Account]:
        _raise_if(_account_id(account_id))
        with self.uow() as uow:
            account = uow.accounts.get(account_id)
            return uow.holdings.for_account(account.account_id), account

    def find_duplicates(self, cmd: commands.FindDuplicates) -> list[DuplicateCandidate]:
        """Live scores against every account sharing a blocking key; nothing is stored."""
        if bool(cmd.account_id) == (cmd.account is not None):
            raise InvalidArgument([FieldViolation(f, "exactly one of account_id and account") for f in ("account_id", "account")])
        if cmd.account is not None:
            probe = Account(
                account_id="",
                profile=self._profile(cmd.account, []),
                source_lead_id="",
                acquisition=None,
                created_at=self.clock(),
                created_by="",
                updated_at=self.clock(),
                updated_by="",
            )
            with self.uow() as uow:
                return self._score_candidates(uow, probe)
        _raise_if(_account_id(cmd.account_id))
        with self.uow() as uow:
            return self._score_candidates(uow, uow.accounts.get(cmd.account_id))

    def duplicate_queue(self, min_score: int, page: Page) -> tuple[list[StoredCandidate], dict[str, Any] | None]:
        if not 0 <= min_score <= 100:
            raise InvalidArgument(FieldViolation("min_score", "between 0 and 100"))
        with self.uow() as uow:
            return uow.duplicates.queue(min_score or 60, page)

    def dismiss_duplicate(self, cmd: commands.DismissDuplicate) -> StoredCandidate:
        violations = request_id_violations(cmd.key.request_id) + _account_id(cmd.account_id) + _account_id(cmd.other_id, "other_id")
        _raise_if(violations + _reason(cmd.reason, required=True))

        def first(uow: AccountUnitOfWork) -> tuple[StoredCandidate, str]:
            stored = uow.duplicates.get(cmd.account_id, cmd.other_id)
            if stored.status != OPEN:
                raise FailedPrecondition(f"the pair was already {stored.status}")
            uow.duplicates.review(cmd.account_id, cmd.other_id, DISMISSED, current_principal().subject, cmd.reason.strip())
            return uow.duplicates.get(cmd.account_id, cmd.other_id), "dismissed"

        return run_idempotent(self.uow, "DismissDuplicateCandidate", cmd.key, first, lambda uow, _r: uow.duplicates.get(cmd.account_id, cmd.other_id))

    def merge_accounts(self, cmd: commands.MergeAccounts) -> tuple[Account, dict[str, str]]:
        """Merges `merged_id` into `survivor_id` (survivorship: domain.duplicates.plan_merge).

        The merged account becomes a tombstone: its PII cleared, CLOSED, `merged_into` set, so
        its id keeps resolving; its contact points, holdings, consents, timeline and match keys
        go to the survivor. AccountsMerged tells the other services to relink.
        """
        violations = request_id_violations(cmd.key.request_id) + _account_id(cmd.survivor_id, "survivor_id") + _account_id(cmd.merged_id, "merged_id")
        _raise_if(violations + _reason(cmd.reason, required=True))

        def first(uow: AccountUnitOfWork) -> tuple[tuple[Account, dict[str, str]], str]:
            survivor = uow.accounts.get(cmd.survivor_id, for_update=True, follow_merges=False)
            merged = uow.accounts.get(cmd.merged_id, for_update=True, follow_merges=False)
            for account in (survivor, merged):
                if account.merged_into:
                    raise FailedPrecondition(f"account {account.account_id} was already merged into {account.merged_into}")
            plan = plan_merge(survivor, merged)
            actor, now = current_principal().subject, self.clock()
            self._bury(uow, merged, survivor.account_id, actor, now)
            merged_survivor = self._absorb(uow, survivor, merged, plan, actor, now, cmd)
            return (merged_survivor, plan.field_sources), survivor.account_id

        def repeat(uow: AccountUnitOfWork, ref: str) -> tuple[Account, dict[str, str]]:
            return uow.accounts.get(ref), {}

        return run_idempotent(self.uow, "MergeAccounts", cmd.key, first, repeat)

    @staticmethod
    def _move_membership(uow: AccountUnitOfWork, merged: Account, survivor: Account, now: datetime) -> None:
        """The survivor takes the merged account's place in its household unless it has one."""
        if not merged.household_id:
            return
        role = next(m.role for m in uow.households.members(merged.household_id) if m.account_id == merged.account_id)
        uow.households.remove_member(merged.account_id)
        if not survivor.household_id:
            uow.households.add_member(merged.household_id, Member(survivor.account_id, role), now)

    @staticmethod
    def _bury(uow: AccountUnitOfWork, merged: Account, survivor_id: str, actor: str, now: datetime) -> None:
        """The merged account as a tombstone; saved first so its national id is free for the survivor."""
        read_version = merged.version
        merged.profile = replace(
            merged.profile, national_id="", national_id_legacy=False, phones=(), emails=(), lifecycle_stage=LifecycleStage.CLOSED
        )
        merged.merged_into = survivor_id
        merged.updated_at, merged.updated_by, merged.version = now, actor, merged.version + 1
        uow.accounts.save(merged, read_version)

    def _absorb(
        self, uow: AccountUnitOfWork, survivor: Account, merged: Account, plan: MergePlan, actor: str, now: datetime, cmd: commands.MergeAccounts
    ) -> Account:
        """The survivor after taking in everything of `merged` (reloaded: totals were recomputed)."""
        read_version = survivor.version
        survivor.profile = plan.profile
        survivor.tier_override, survivor.tier_override_reason = plan.tier_override, plan.tier_override_reason
        survivor.customer_since, survivor.acquisition = plan.customer_since, plan.acquisition
        if survivor.kyc.status is KycStatus.NOT_STARTED:
            survivor.kyc = merged.kyc  # the one verification there is
        survivor.updated_at, survivor.updated_by, survivor.version = now, actor, survivor.version + 1
        uow.accounts.save(survivor, read_version)
        uow.accounts.absorb(merged.account_id, survivor.account_id)
        uow.accounts.claim_match_keys(survivor, strict=False)
        uow.holdings.move(merged.account_id, survivor.account_id)
        uow.screening.move(merged.account_id, survivor.account_id)
        uow.households.move_relationships(merged.account_id, survivor.account_id)
        self._move_membership(uow, merged, survivor, now)
        for consent in uow.consents.merge_into(merged.account_id, survivor.account_id):
            uow.publish(self.events.consent_changed(consent, cmd.key.request_id))
        from_merged = sorted(name for name, source in plan.field_sources.items() if merged.account_id in source)
        self._record(uow, survivor, ChangeKind.MERGED, from_merged, f"absorbed {merged.account_id}: {cmd.reason.strip()}")
        uow.duplicates.review(survivor.account_id, merged.account_id, MERGED, actor, cmd.reason.strip())
        uow.duplicates.forget_open(merged.account_id)
        uow.duplicates.record_merge(plan, actor, cmd.reason.strip(), now)
        self._resummarise(uow, [survivor.account_id], actor, now)
        merged_survivor = uow.accounts.get(survivor.account_id)
        uow.publish(self.events.accounts_merged(merged_survivor, merged.account_id, cmd.key.request_id))
        self._detect_duplicates(uow, merged_survivor)
        return merged_survivor

    def screen_account(self, account_id: str) -> tuple[list[StoredHit], str]:
        """Screens the account now; FAILED_PRECONDITION when no watchlist is configured."""
        _raise_if(_account_id(account_id))
        if self.watchlist is None:
            raise FailedPrecondition("no watchlist is configured (ACCOUNT_WATCHLIST_FILE)")
        with self.uow() as uow:
            hits = self._screen(uow, uow.accounts.get(account_id))
            uow.commit()
            return hits, self.watchlist.version

    def screening_queue(self, review: str, page: Page) -> tuple[list[StoredHit], dict[str, Any] | None]:
        status = ReviewStatus.__members__.get(review or "PENDING_REVIEW")
        if status is None:
            raise InvalidArgument(FieldViolation("review", "unknown value"))
        with self.uow() as uow:
            return uow.screening.queue(status, page)

    def review_screening_hit(self, cmd: commands.ReviewScreeningHit) -> tuple[StoredHit, Account]:
        """A compliance officer's verdict. A confirmed sanctions match rejects the account's KYC
        (whatever its status: a compliance decision, not an onboarding step) with a HIGH risk;
        a confirmed PEP raises the risk to HIGH; a false positive closes the hit."""
        verdict = ReviewStatus.__members__.get(cmd.review)
        violations = request_id_violations(cmd.key.request_id) + _reason(cmd.note, required=True)
        if verdict not in (ReviewStatus.CONFIRMED_MATCH, ReviewStatus.FALSE_POSITIVE):
            violations.append(FieldViolation("review", "CONFIRMED_MATCH or FALSE_POSITIVE"))
        if not cmd.hit_id:
            violations.append(FieldViolation("hit_id", "required"))
        _raise_if([FieldViolation("note" if v.field == "reason" else v.field, v.description) for v in violations])
        assert verdict is not None
        note = cmd.note.strip()

        def first(uow: AccountUnitOfWork) -> tuple[tuple[StoredHit, Account], str]:
            hit = uow.screening.get(cmd.hit_id, for_update=True)
            if hit.review is not ReviewStatus.PENDING_REVIEW:
                raise FailedPrecondition(f"the hit was already reviewed: {hit.review}")
            actor, now = current_principal().subject, self.clock()
            uow.screening.review(hit.hit_id, verdict, note, actor)
            account = uow.accounts.get(hit.account_id, for_update=True)
            if verdict is ReviewStatus.CONFIRMED_MATCH:
                listed = f"{hit.list_kind} list match {hit.entry_id} ({hit.list_source})"
                kyc = replace(account.kyc, risk_rating=RiskRating.HIGH, updated_at=now)
                if hit.list_kind is ListKind.SANCTIONS:
                    kyc = replace(kyc, status=KycStatus.REJECTED, reason=listed)
                self._change_kyc(uow, account, kyc, actor, cmd.key.request_id, note=f"{listed}: {note}")
            return (uow.screening.get(hit.hit_id), account), hit.hit_id

        def repeat(uow: AccountUnitOfWork, ref: str) -> tuple[StoredHit, Account]:
            hit = uow.screening.get(ref)
            return hit, uow.accounts.get(hit.account_id)

        return run_idempotent(self.uow, "ReviewScreeningHit", cmd.key, first, repeat)

    # --- relationships and households ----------------------------------------------------

    def _relationship_command(self, cmd: commands.ChangeRelationship) -> RelationshipKind:
        kind = RelationshipKind.__members__.get(cmd.kind)
        violations = request_id_violations(cmd.key.request_id) + _account_id(cmd.account_id) + _account_id(cmd.related_id, "related_id")
        if kind is None:
            violations.append(FieldViolation("kind", "required" if not cmd.kind else "unknown value"))
        if len(cmd.note) > MAX_NOTE:
            violations.append(FieldViolation("note", f"at most {MAX_NOTE} characters"))
        _raise_if(violations)
        assert kind is not None
        return kind

    def add_relationship(self, cmd: commands.ChangeRelationship) -> Relationship:
        """Records the relationship both ways; ALREADY_EXISTS when it is known, FAILED_PRECONDITION
        when it cannot hold (itself, the wrong account types, a second spouse)."""
        kind = self._relationship_command(cmd)

        def first(uow: AccountUnitOfWork) -> tuple[Relationship, str]:
            account = uow.accounts.get(cmd.account_id, for_update=True)
            related = uow.accounts.get(cmd.related_id, for_update=True)
            check_relationship(kind, account, related)
            actor, now = current_principal().subject, self.clock()
            relationship = Relationship(account.account_id, related.account_id, kind, cmd.note.strip(), now, actor)
            if uow.households.has(relationship):
                raise AlreadyExists("relationship", f"{account.account_id}/{kind}/{related.account_id}", "the relationship is already recorded")
            if kind is RelationshipKind.SPOUSE:
                for side in (account, related):
                    if any(r.kind is RelationshipKind.SPOUSE for r in uow.households.relationships_of(side.account_id)):
                        raise FailedPrecondition(f"account {side.account_id} already has a spouse")
            uow.households.add_relationship(relationship)
            self._record_relationship(uow, relationship, ChangeKind.RELATIONSHIP_ADDED)
            return relationship, f"{relationship.account_id}/{kind}/{relationship.related_id}"

        def repeat(uow: AccountUnitOfWork, ref: str) -> Relationship:
            account_id, kind_name, related_id = ref.split("/")
            found = [r for r in uow.households.relationships_of(account_id) if r.related_id == related_id and r.kind == kind_name]
            if not found:
                raise NotFound("relationship", ref)
            return found[0]

        return run_idempotent(self.uow, "AddRelationship", cmd.key, first, repeat)

    def remove_relationship(self, cmd: commands.ChangeRelationship) -> None:
        kind = self._relationship_command(cmd)

        def first(uow: AccountUnitOfWork) -> tuple[None, str]:
            account_id, related_id = uow.accounts.resolve_id(cmd.account_id), uow.accounts.resolve_id(cmd.related_id)
            actor, now = current_principal().subject, self.clock()
            relationship = Relationship(account_id, related_id, kind, "", now, actor)
            if not uow.households.has(relationship):
                raise NotFound("relationship", f"{account_id}/{kind}/{related_id}")
            uow.households.remove_relationship(relationship)
            for side in (relationship, relationship.inverse()):
                change = (f"relationship.{side.kind}",)
                uow.accounts.add_change(
                    AccountChange(new_id(), side.account_id, ChangeKind.RELATIONSHIP_REMOVED, now, actor, change, side.related_id)
                )
            return None, "removed"

        run_idempotent(self.uow, "RemoveRelationship", cmd.key, first, lambda uow, _ref: None)

    @staticmethod
    def _record_relationship(uow: AccountUnitOfWork, relationship: Relationship, kind: ChangeKind) -> None:
        """A timeline entry on both accounts, each naming the relationship from its side."""
        for side in (relationship, relationship.inverse()):
            fields = (f"relationship.{side.kind}",)
            uow.accounts.add_change(
                AccountChange(new_id(), side.account_id, kind, relationship.created_at, relationship.created_by, fields, side.related_id)
            )

    def list_relationships(self, account_id: str) -> list[Relationship]:
        _raise_if(_account_id(account_id))
        with self.uow() as uow:
            return uow.households.relationships_of(uow.accounts.resolve_id(account_id))

    def _household_view(self, uow: AccountUnitOfWork, household_id: str) -> tuple[Household, list[tuple[Member, Account]]]:
        household = uow.households.get_household(household_id)
        members = uow.households.members(household_id)
        loaded = {a.account_id: a for a in uow.accounts.get_many([m.account_id for m in members])}
        return household, [(m, loaded[m.account_id]) for m in members]

    def _join(self, uow: AccountUnitOfWork, household_id: str, account_id: str, role: HouseholdRole, actor: str, now: datetime) -> None:
        account = uow.accounts.get(account_id, for_update=True)
        check_joinable(account, account.household_id)
        uow.households.add_member(household_id, Member(account.account_id, role), now)
        uow.accounts.add_change(AccountChange(new_id(), account.account_id, ChangeKind.HOUSEHOLD_JOINED, now, actor, ("household",), household_id))

    def create_household(self, cmd: commands.CreateHousehold) -> tuple[Household, list[tuple[Member, Account]]]:
        """A household of person accounts that belong to no other, headed by one of them."""
        others = tuple(dict.fromkeys(m for m in cmd.member_account_ids if m != cmd.head_account_id))
        violations = request_id_violations(cmd.key.request_id) + _account_id(cmd.head_account_id, "head_account_id")
        for i, member_id in enumerate(others):
            violations += _account_id(member_id, f"member_account_ids[{i}]")
        name = cmd.name.strip()
        if not name:
            violations.append(FieldViolation("name", "required"))
        elif len(name) > MAX_HOUSEHOLD_NAME:
            violations.append(FieldViolation("name", f"at most {MAX_HOUSEHOLD_NAME} characters"))
        if len(others) + 1 > MAX_HOUSEHOLD_MEMBERS:
            violations.append(FieldViolation("member_account_ids", f"at most {MAX_HOUSEHOLD_MEMBERS} members"))
        _raise_if(violations)

        def first(uow: AccountUnitOfWork) -> tuple[tuple[Household, list[tuple[Member, Account]]], str]:
            actor, now = current_principal().subject, self.clock()
            household = Household(new_id(), name, now, actor, now, actor)
            uow.households.add_household(household)
            self._join(uow, household.household_id, cmd.head_account_id, HouseholdRole.HEAD, actor, now)
            for member_id in others:
                self._join(uow, household.household_id, member_id, HouseholdRole.MEMBER, actor, now)
            return self._household_view(uow, household.household_id), household.household_id

        return run_idempotent(self.uow, "CreateHousehold", cmd.key, first, self._household_view)

    def add_household_member(self, cmd: commands.ChangeHouseholdMember) -> tuple[Household, list[tuple[Member, Account]]]:
        _raise_if(request_id_violations(cmd.key.request_id) + _account_id(cmd.household_id, "household_id") + _account_id(cmd.account_id))

        def first(uow: AccountUnitOfWork) -> tuple[tuple[Household, list[tuple[Member, Account]]], str]:
            uow.households.get_household(cmd.household_id, for_update=True)
            if len(uow.households.members(cmd.household_id)) >= MAX_HOUSEHOLD_MEMBERS:
                raise FailedPrecondition(f"a household has at most {MAX_HOUSEHOLD_MEMBERS} members")
            actor, now = current_principal().subject, self.clock()
            self._join(uow, cmd.household_id, cmd.account_id, HouseholdRole.MEMBER, actor, now)
            uow.households.touch(cmd.household_id, actor, now)
            return self._household_view(uow, cmd.household_id), cmd.household_id

        return run_idempotent(self.uow, "AddHouseholdMember", cmd.key, first, self._household_view)

    def remove_household_member(self, cmd: commands.ChangeHouseholdMember) -> tuple[Household, list[tuple[Member, Account]]] | None:
        """Removes a member; the head only when last (the household then ends: None)."""
        _raise_if(request_id_violations(cmd.key.request_id) + _account_id(cmd.household_id, "household_id") + _account_id(cmd.account_id))

        def first(uow: AccountUnitOfWork) -> tuple[tuple[Household, list[tuple[Member, Account]]] | None, str]:
            uow.households.get_household(cmd.household_id, for_update=True)
            account_id = uow.accounts.resolve_id(cmd.account_id)
            members = {m.account_id: m for m in uow.households.members(cmd.household_id)}
            if account_id not in members:
                raise NotFound("household_member", f"{cmd.household_id}/{account_id}")
            if members[account_id].role is HouseholdRole.HEAD and len(members) > 1:
                raise FailedPrecondition("the head leaves last: remove the other members first, or create the household anew")
            actor, now = current_principal().subject, self.clock()
            uow.households.remove_member(account_id)
            uow.accounts.add_change(AccountChange(new_id(), account_id, ChangeKind.HOUSEHOLD_LEFT, now, actor, ("household",), cmd.household_id))
            if len(members) == 1:
                uow.households.remove_household(cmd.household_id)
                return None, ""
            uow.households.touch(cmd.household_id, actor, now)
            return self._household_view(uow, cmd.household_id), cmd.household_id

        def repeat(uow: AccountUnitOfWork, ref: str) -> tuple[Household, list[tuple[Member, Account]]] | None:
            return self._household_view(uow, ref) if ref else None

        return run_idempotent(self.uow, "RemoveHouseholdMember", cmd.key, first, repeat)

    def get_household(self, household_id: str) -> tuple[Household, list[tuple[Member, Account]]]:
        _raise_if(_account_id(household_id, "household_id"))
        with self.uow() as uow:
            return self._household_view(uow, household_id)

    # --- data-subject rights ---------------------------------------------------------------

    def export_personal_data(self, account_id: str) -> PersonalData:
        """Everything held about the person, for a machine-readable export; the export itself
        goes on the account's timeline."""
        _raise_if(_account_id(account_id))
        with self.uow() as uow:
            account = uow.accounts.get(account_id)
            data = PersonalData(
                account=account,
                consents=uow.consents.all_in_force(account.account_id),
                consent_history=_every_page(uow.consents.history, account.account_id),
                holdings=uow.holdings.for_account(account.account_id),
                relationships=uow.households.relationships_of(account.account_id),
                timeline=_every_page(uow.accounts.changes, account.account_id),
                screening_hits=uow.screening.queue_of(account.account_id),
                erasure=uow.privacy.for_account(account.account_id),
            )
            actor = current_principal().subject
            uow.accounts.add_change(
                AccountChange(new_id(), account.account_id, ChangeKind.DATA_EXPORTED, self.clock(), actor, (), f"exported by {actor}")
            )
            uow.commit()
            return data

    def set_legal_hold(self, cmd: commands.SetLegalHold) -> Account:
        _raise_if(request_id_violations(cmd.key.request_id) + _account_id(cmd.account_id) + _reason(cmd.reason, required=True))

        def first(uow: AccountUnitOfWork) -> tuple[Account, str]:
            account = uow.accounts.get(cmd.account_id, for_update=True)
            if account.erased_at is not None:
                raise FailedPrecondition(f"account {account.account_id} was erased")
            read_version, now, actor = account.version, self.clock(), current_principal().subject
            account.legal_hold, account.legal_hold_reason = cmd.legal_hold, cmd.reason.strip() if cmd.legal_hold else ""
            account.updated_at, account.updated_by, account.version = now, actor, account.version + 1
            uow.accounts.save(account, read_version)
            kind = ChangeKind.LEGAL_HOLD_SET if cmd.legal_hold else ChangeKind.LEGAL_HOLD_LIFTED
            self._record(uow, account, kind, ["legal_hold"], cmd.reason.strip())
            return account, account.account_id

        return run_idempotent(self.uow, "SetLegalHold", cmd.key, first, lambda uow, ref: uow.accounts.get(ref))

    def request_erasure(self, cmd: commands.RequestErasure) -> ErasureRequest:
        """Erases the person here, in one transaction with the announcement to the others."""
        _raise_if(request_id_violations(cmd.key.request_id) + _account_id(cmd.account_id) + _reason(cmd.reason, required=True))

        def first(uow: AccountUnitOfWork) -> tuple[ErasureRequest, str]:
            account = uow.accounts.get(cmd.account_id, for_update=True)
            check_erasable(account, account.totals.open_holdings)
            actor, now = current_principal().subject, self.clock()
            request = ErasureRequest(new_id(), account.account_id, cmd.reason.strip(), now, actor, pending=list(self.erasure_services))
            lead_ids = sorted({i for i in (account.source_lead_id, account.acquisition.lead_id if account.acquisition else "") if i})
            read_version = account.version
            erase(account, actor, now)
            uow.accounts.save(account, read_version)
            uow.accounts.forget(account.account_id)
            uow.privacy.forget_consents_and_hits(account.account_id)
            uow.duplicates.forget_open(account.account_id)
            for relationship in uow.households.relationships_of(account.account_id):
                uow.households.remove_relationship(relationship)
            if account.household_id:
                uow.households.remove_member(account.account_id)
            if request.complete_if_done(now):  # no other service to wait for
                uow.publish(self.events.erasure_completed(request, cmd.key.request_id))
            uow.privacy.add(request)
            self._record(uow, account, ChangeKind.ERASED, [], f"erasure {request.erasure_id}")
            uow.publish(self.events.erasure_requested(request, lead_ids, cmd.key.request_id))
            return request, request.erasure_id

        return run_idempotent(self.uow, "RequestErasure", cmd.key, first, lambda uow, ref: uow.privacy.get(ref))

    def get_erasure(self, erasure_id: str) -> ErasureRequest:
        _raise_if(_account_id(erasure_id, "erasure_id"))
        with self.uow() as uow:
            return uow.privacy.get(erasure_id)

    def confirm_erasure(self, cmd: commands.ConfirmErasure) -> str:
        """A service anonymised its copies; the request completes with the last confirmation.

        An unknown erasure raises, so the event is retried and then dead-lettered, not lost.
        """
        _raise_if(_account_id(cmd.erasure_id, "erasure_id"))
        with self.uow() as uow:
            if not uow.claim_event(cmd.consumer, cmd.event_id):
                return "duplicate"
            request = uow.privacy.get(cmd.erasure_id, for_update=True)
            if request.confirm(cmd.service, self.clock()):
                uow.publish(self.events.erasure_completed(request, ""))
            uow.privacy.save(request)
            uow.commit()
            return str(request.status)

    def record_acquisition(self, cmd: commands.RecordAcquisition) -> str:
        """Records first-touch attribution once per event; "duplicate" for a redelivered event.

        An unknown account raises, so the event is retried and then dead-lettered, not lost.
        """
        _raise_if(_account_id(cmd.account_id, "conversion.account_id"))
        with self.uow() as uow:
            if not uow.claim_event(cmd.consumer, cmd.event_id):
                return "duplicate"
            account = uow.accounts.get(cmd.account_id, for_update=True)
            read_version = account.version
            if account.record_acquisition(cmd.acquisition, current_principal().subject, self.clock()):
                uow.accounts.save(account, read_version)
                self._record(uow, account, ChangeKind.ACQUISITION_RECORDED, ["acquisition"])
                uow.publish(self.events.updated(account, ["acquisition"], cmd.correlation_id))
            uow.commit()
        return "ok"
