"""What the account service's use cases share: the events they publish, request checks, the
answer to a repeated request and the account's timeline entry. Each capability module (profile, consent, kyc,
holdings, duplicates, households, privacy, timeline) takes only the dependencies it uses.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from crm_account.domain.consent import Consent
from crm_account.domain.holdings import Holding
from crm_account.domain.kyc import KycStatus
from crm_account.domain.model import Account, AccountChange, ChangeKind, Profile, is_valid_id
from crm_account.domain.privacy import ErasureRequest
from crm_account.domain.profile import AccountDraft, clean_profile
from crm_account.service_layer.unit_of_work import AccountUnitOfWork
from crm_common.auth import current_data_scope
from crm_common.db import new_id
from crm_common.errors import FieldViolation, InvalidArgument
from crm_common.privacy import PersonIdentifiers

UowFactory = Callable[[], AccountUnitOfWork]
Clock = Callable[[], datetime]
MAX_REASON = 500


class AccountEvents(Protocol):
    """Builds the service's domain events (protobuf messages) from domain objects."""

    def created(self, account: Account, correlation_id: str) -> Any: ...
    def updated(self, account: Account, changed_fields: list[str], correlation_id: str) -> Any: ...
    def consent_changed(self, consent: Consent, correlation_id: str) -> Any: ...
    def kyc_status_changed(self, account: Account, previous: KycStatus, correlation_id: str) -> Any: ...
    def holding_opened(self, holding: Holding, correlation_id: str) -> Any: ...
    def holding_closed(self, holding: Holding, correlation_id: str, detail: str = "") -> Any: ...
    def accounts_merged(self, survivor: Account, merged_id: str, merge_id: str, correlation_id: str) -> Any: ...
    def accounts_unmerged(self, restored: Account, survivor: Account, merge_id: str, correlation_id: str) -> Any: ...
    def erasure_requested(self, request: ErasureRequest, person: PersonIdentifiers, correlation_id: str) -> Any: ...
    def erasure_completed(self, request: ErasureRequest, correlation_id: str) -> Any: ...


def account_id_violations(value: str, field: str = "account_id") -> list[FieldViolation]:
    if not value:
        return [FieldViolation(field, "required")]
    if not is_valid_id(value):
        return [FieldViolation(field, "not a valid account id")]
    return []


def reason_violations(value: str, required: bool) -> list[FieldViolation]:
    if required and not value.strip():
        return [FieldViolation("reason", "required: say why, it is kept in the account's history")]
    if len(value) > MAX_REASON:
        return [FieldViolation("reason", f"at most {MAX_REASON} characters")]
    return []


def raise_if(violations: list[FieldViolation]) -> None:
    if violations:
        raise InvalidArgument(violations)


def clean_or_raise(
    draft: AccountDraft, clock: Clock, extra: list[FieldViolation], rename: dict[str, str] | None = None, at: str = "account"
) -> Profile:
    """The cleaned profile; INVALID_ARGUMENT naming every violation, `extra` first. `rename` maps the
    profile's paths to the request's; else they sit under `at` (the AccountInput's field):
    violations name the path from the request root."""
    profile, violations = clean_profile(draft, clock().date())
    if rename:
        violations = [FieldViolation(rename.get(v.field, v.field), v.description) for v in violations]
    else:
        violations = [FieldViolation(f"{at}.{v.field}", v.description) for v in violations]
    raise_if(extra + violations)
    assert profile is not None
    return profile


def stored_account(uow: AccountUnitOfWork, ref: str) -> Account:
    """A repeated request's answer when its first call stored the account's id (run_idempotent's repeat)."""
    return uow.accounts.get(ref, current_data_scope())


def record_change(uow: AccountUnitOfWork, account: Account, kind: ChangeKind, fields: list[str], reason: str = "") -> None:
    """The account's timeline entry for a change it just took (its updated_at and updated_by)."""
    uow.accounts.add_change(AccountChange(new_id(), account.account_id, kind, account.updated_at, account.updated_by, tuple(fields), reason))
