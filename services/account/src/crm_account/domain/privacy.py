"""Data-subject rights (Vietnam Decree 13/2023/ND-CP): export of everything held about a
person, and erasure, which legal holds and the bank's own retention duties can block, announced
to every service holding copies and tracked until each has confirmed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from crm_account.domain.kyc import Kyc
from crm_account.domain.model import Account, LifecycleStage, Profile
from crm_common.errors import FailedPrecondition
from crm_common.events.erasure import ERASED_NAME


class ErasureStatus(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"


@dataclass
class ErasureRequest:
    erasure_id: str
    account_id: str
    reason: str
    requested_at: datetime
    requested_by: str
    # Services that must still confirm; the request completes when none is left.
    pending: list[str] = field(default_factory=list)
    confirmed: list[str] = field(default_factory=list)
    completed_at: datetime | None = None

    @property
    def status(self) -> ErasureStatus:
        return ErasureStatus.COMPLETED if self.completed_at is not None else ErasureStatus.IN_PROGRESS

    def confirm(self, service: str, now: datetime) -> bool:
        """Records a service's confirmation; True when this completes the request."""
        if service in self.pending:
            self.pending.remove(service)
            self.confirmed.append(service)
        return self.complete_if_done(now)

    def complete_if_done(self, now: datetime) -> bool:
        """Completes the request when no service is left to confirm; True when it just did."""
        if not self.pending and self.completed_at is None:
            self.completed_at = now
            return True
        return False


def check_erasable(account: Account, open_holdings: int) -> None:
    """FailedPrecondition when the person's data must be kept (and why)."""
    if account.erased_at is not None:
        raise FailedPrecondition(f"account {account.account_id} was already erased")
    if account.legal_hold:
        raise FailedPrecondition(f"account {account.account_id} is under a legal hold: {account.legal_hold_reason}")
    if open_holdings:
        raise FailedPrecondition(
            f"account {account.account_id} holds {open_holdings} open product(s): the bank must keep their records; close them first"
        )


def erase(account: Account, actor: str, now: datetime) -> None:
    """The account as an anonymous shell: ids, dates, products and statuses stay; nothing that
    identifies the person does. Its owner, branch and territory stay: the bank's placement,
    which keeps the shell in its book (data scopes)."""
    account.profile = replace(
        Profile(),
        account_type=account.profile.account_type,
        full_name=ERASED_NAME,
        lifecycle_stage=LifecycleStage.CLOSED,
        business=None,
        owner_id=account.profile.owner_id,
        branch_id=account.profile.branch_id,
        territory_id=account.profile.territory_id,
    )
    account.tier_override_reason = ""
    account.kyc = replace(account.kyc, reason="", reference="") if account.kyc != Kyc() else account.kyc
    account.erased_at = now
    account.updated_at, account.updated_by = now, actor
    account.version += 1
