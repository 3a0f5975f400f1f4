"""The account's profile: resolving a person, creating, updating, reading and searching accounts,
and first-touch attribution from a converted lead.

Every new or changed profile is checked for duplicates and screened against the watchlist in
the same unit of work.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from crm_account.domain.model import Account, ChangeKind, LifecycleStage, MatchField, Profile, best_match
from crm_account.domain.profile import MAX_ID, UPDATABLE_FIELDS, clean_keys, draft_of
from crm_account.domain.screening import Watchlist
from crm_account.service import ACCOUNT_REASSIGN
from crm_account.service_layer import commands
from crm_account.service_layer.common import (
    AccountEvents,
    Clock,
    UowFactory,
    account_id_violations,
    clean_or_raise,
    raise_if,
    record_change,
    stored_account,
)
from crm_account.service_layer.duplicates import detect_duplicates
from crm_account.service_layer.kyc import screen_for_review
from crm_account.service_layer.unit_of_work import AccountUnitOfWork
from crm_common.auth import DataScope, current_data_scope, current_principal
from crm_common.db import new_id
from crm_common.errors import Aborted, AlreadyExists, FieldViolation, PermissionDenied, echo
from crm_common.pagination import Page
from crm_common.unit_of_work import request_id_violations, run_idempotent

# How a remembered resolution that created its account is written (result_ref "<id>:CREATED").
_CREATED = "CREATED"
# ResolvePersonAccount takes one phone and one email: its violations name those fields.
_RESOLVE_FIELD_NAMES = {"phones[0]": "phone", "phones": "phone", "emails[0]": "email", "emails": "email"}


@dataclass(frozen=True)
class Resolution:
    account: Account
    # False when the account was created by this call.
    matched: bool
    matched_on: MatchField | None
    # Whether the caller reaches the account: a match outside its scope is answered with the id
    # only (the conversion links to the bank's one record of the person; docs/security.md).
    reached: bool = True

    @property
    def ref(self) -> str:
        return f"{self.account.account_id}:{self.matched_on or _CREATED}"


def _check_national_id_free(uow: AccountUnitOfWork, national_id: str, account_id: str | None) -> None:
    if not national_id:
        return
    holder = uow.accounts.find_by_national_id(national_id)
    if holder is not None and holder.account_id != account_id:
        raise AlreadyExists("account", holder.account_id, "an account with this national id already exists")


# The profile fields that move a customer to another book (a manager's call, within their scope).
PLACEMENT = ("owner_id", "branch_id", "territory_id")


def _reached_profile(profile: Profile) -> bool:
    return current_data_scope().covers(profile.owner_id, "", profile.branch_id, profile.territory_id)


def _in_own_book_unless_placed(profile: Profile) -> Profile:
    """A customer created with no owner, branch or territory by a caller of limited scope joins
    the caller's own book (else its creator could not reach it)."""
    if profile.owner_id or profile.branch_id or profile.territory_id or current_data_scope().everything:
        return profile
    return replace(profile, owner_id=current_principal().subject)


def _reached(account: Account) -> bool:
    return _reached_profile(account.profile)


class ProfileUseCases:
    def __init__(self, uow: UowFactory, events: AccountEvents, clock: Clock, watchlist: Watchlist | None) -> None:
        self.uow = uow
        self.events = events
        self.clock = clock
        # None when no list is configured: accounts are then not screened.
        self.watchlist = watchlist

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
        record_change(uow, account, ChangeKind.CREATED, [])
        uow.publish(self.events.created(account, correlation_id))
        detect_duplicates(uow, account, self.clock())
        screen_for_review(uow, self.watchlist, account, self.clock())
        return account

    def resolve_person_account(self, cmd: commands.ResolvePersonAccount) -> Resolution:
        """The account holding the person's strongest key (national id, phone, email), or a new prospect.

        A race between two resolves of one person is settled by account_match_keys: the
        loser's claim fails, run_idempotent runs it again, and the match finds the winner.
        """
        violations = request_id_violations(cmd.key.request_id)
        if len(cmd.source_lead_id) > MAX_ID:
            violations.append(FieldViolation("source_lead_id", f"at most {MAX_ID} characters"))
        profile = _in_own_book_unless_placed(clean_or_raise(cmd.person, self.clock, violations, _RESOLVE_FIELD_NAMES))

        def first(uow: AccountUnitOfWork) -> tuple[Resolution, str]:
            # Matched against every account by design: one golden record per person.
            match = best_match(profile.keys, uow.accounts.sharing_keys(profile.keys))
            if match is not None:
                resolution = Resolution(match.account, matched=True, matched_on=match.field, reached=_reached(match.account))
            else:
                account = self._new_account(uow, profile, cmd.source_lead_id, cmd.key.request_id)
                uow.accounts.claim_match_keys(account, strict=True)
                resolution = Resolution(account, matched=False, matched_on=None)
            return resolution, resolution.ref

        def repeat(uow: AccountUnitOfWork, ref: str) -> Resolution:
            account_id, _, outcome = ref.partition(":")
            account = uow.accounts.get(account_id, DataScope.bank_wide())
            if outcome == _CREATED:
                return Resolution(account, matched=False, matched_on=None, reached=_reached(account))
            return Resolution(account, matched=True, matched_on=MatchField(outcome), reached=_reached(account))

        return run_idempotent(self.uow, "ResolvePersonAccount", cmd.key, first, repeat)

    def create_account(self, cmd: commands.CreateAccount) -> Account:
        """A new person or business account; ALREADY_EXISTS (with its id) for a known national id.

        Sharing a phone or an email with another account is allowed (families share them);
        such pairs are for duplicate detection to weigh, not for the create to refuse.
        """
        profile = _in_own_book_unless_placed(clean_or_raise(cmd.account, self.clock, request_id_violations(cmd.key.request_id)))
        if not _reached_profile(profile):
            raise PermissionDenied("the account would be outside your data scope: create it in your own book, branch or territory")

        def first(uow: AccountUnitOfWork) -> tuple[Account, str]:
            _check_national_id_free(uow, profile.national_id, None)
            account = self._new_account(uow, profile, "", cmd.key.request_id)
            uow.accounts.claim_match_keys(account, strict=False)
            return account, account.account_id

        return run_idempotent(self.uow, "CreateAccount", cmd.key, first, stored_account)

    def update_account(self, cmd: commands.UpdateAccount) -> Account:
        violations = request_id_violations(cmd.key.request_id) + account_id_violations(cmd.account_id)
        if not cmd.update_mask:
            violations.append(FieldViolation("update_mask", "required: name the fields to change"))
        for path in cmd.update_mask:
            if path == "type":
                violations.append(FieldViolation("update_mask", "an account's type cannot change"))
            elif path not in UPDATABLE_FIELDS:
                violations.append(FieldViolation("update_mask", f"unknown field {echo(path)}"))
        if cmd.expected_version < 0:
            violations.append(FieldViolation("expected_version", "must not be negative"))
        raise_if(violations)
        fields = frozenset(cmd.update_mask)

        def first(uow: AccountUnitOfWork) -> tuple[Account, str]:
            account = uow.accounts.get(cmd.account_id, current_data_scope(), for_update=True)
            if cmd.expected_version and account.version != cmd.expected_version:
                raise Aborted(f"the account is at version {account.version}, not {cmd.expected_version}; read it again")
            profile = clean_or_raise(draft_of(account.profile).taking(cmd.account, fields), self.clock, [])
            read_version = account.version
            changed = account.change_profile(profile, fields, current_principal().subject, self.clock())
            moved = sorted(set(changed) & set(PLACEMENT))
            if moved and not current_principal().can(ACCOUNT_REASSIGN):
                raise PermissionDenied(f"changing {', '.join(moved)} reassigns the customer: it needs {ACCOUNT_REASSIGN!r}")
            if moved and not _reached(account):
                raise PermissionDenied("the account would leave your data scope: reassign within your own branch or territory")
            if changed:
                if "national_id" in changed:
                    _check_national_id_free(uow, account.profile.national_id, account.account_id)
                uow.accounts.save(account, read_version)
                uow.accounts.claim_match_keys(account, strict=False)
                record_change(uow, account, ChangeKind.UPDATED, changed)
                uow.publish(self.events.updated(account, changed, cmd.key.request_id))
                detect_duplicates(uow, account, self.clock())
                if {"full_name", "date_of_birth"} & set(changed):
                    screen_for_review(uow, self.watchlist, account, self.clock())
            return account, account.account_id

        return run_idempotent(self.uow, "UpdateAccount", cmd.key, first, stored_account)

    def get_account(self, account_id: str) -> Account:
        raise_if(account_id_violations(account_id))
        with self.uow() as uow:
            return uow.accounts.get(account_id, current_data_scope())

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
        raise_if(violations)
        with self.uow() as uow:
            # The scope is part of the query: a page holds only accounts the caller reaches.
            return uow.accounts.search(keys, name, page, current_data_scope())

    def record_acquisition(self, cmd: commands.RecordAcquisition) -> str:
        """Records first-touch attribution once per event; "duplicate" for a redelivered event.

        An unknown account raises, so the event is retried and then dead-lettered, not lost.
        """
        raise_if(account_id_violations(cmd.account_id, "conversion.account_id"))
        with self.uow() as uow:
            if not uow.claim_event(cmd.consumer, cmd.event_id):
                return "duplicate"
            account = uow.accounts.get(cmd.account_id, current_data_scope(), for_update=True)
            read_version = account.version
            if account.record_acquisition(cmd.acquisition, current_principal().subject, self.clock()):
                uow.accounts.save(account, read_version)
                record_change(uow, account, ChangeKind.ACQUISITION_RECORDED, ["acquisition"])
                uow.publish(self.events.updated(account, ["acquisition"], cmd.correlation_id))
            uow.commit()
        return "ok"
