"""Know-your-customer state: what the onboarding system (eKYC/LOS) reports, kept on the account.

The CRM does not verify identities; it records the outcomes, refuses ones that make no sense
(a rejection without a reason, a verification without a risk rating), and marks verifications
EXPIRED when their periodic review falls due, so every service sees the same status.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from crm_common.errors import FailedPrecondition, FieldViolation

MAX_REASON = 500
MAX_REFERENCE = 100


class KycStatus(StrEnum):
    NOT_STARTED = "NOT_STARTED"
    PENDING = "PENDING"
    VERIFIED = "VERIFIED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"


class RiskRating(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


# Which outcome may follow which. VERIFIED → VERIFIED is a renewal at periodic review; a new
# attempt after a rejection or an expiry starts PENDING (or comes back VERIFIED at once).
ALLOWED_MOVES: dict[KycStatus, frozenset[KycStatus]] = {
    KycStatus.NOT_STARTED: frozenset({KycStatus.PENDING, KycStatus.VERIFIED, KycStatus.REJECTED}),
    KycStatus.PENDING: frozenset({KycStatus.PENDING, KycStatus.VERIFIED, KycStatus.REJECTED}),
    KycStatus.VERIFIED: frozenset({KycStatus.VERIFIED, KycStatus.PENDING, KycStatus.REJECTED, KycStatus.EXPIRED}),
    KycStatus.REJECTED: frozenset({KycStatus.PENDING, KycStatus.VERIFIED}),
    KycStatus.EXPIRED: frozenset({KycStatus.PENDING, KycStatus.VERIFIED, KycStatus.REJECTED}),
}


@dataclass(frozen=True)
class Kyc:
    status: KycStatus = KycStatus.NOT_STARTED
    reason: str = ""
    risk_rating: RiskRating | None = None
    verified_at: datetime | None = None
    expires_at: datetime | None = None
    reference: str = ""
    source_system: str = ""
    updated_at: datetime | None = None


@dataclass(frozen=True)
class KycOutcomeDraft:
    """An outcome as the caller sent it; enums as names ('' unset, '?' unknown)."""

    status: str
    reason: str = ""
    risk_rating: str = ""
    expires_at: datetime | None = None
    reference: str = ""
    source_system: str = ""


def clean_outcome(draft: KycOutcomeDraft, now: datetime) -> tuple[Kyc | None, list[FieldViolation]]:
    """The KYC state the outcome sets (timestamps filled in at `now`), or every violation."""
    violations: list[FieldViolation] = []
    status = KycStatus.__members__.get(draft.status)
    if status is None or status is KycStatus.NOT_STARTED:
        described = "required" if not draft.status else "unknown value" if status is None else "NOT_STARTED is not an outcome"
        violations.append(FieldViolation("status", described))
    risk = RiskRating.__members__.get(draft.risk_rating)
    if draft.risk_rating and risk is None:
        violations.append(FieldViolation("risk_rating", "unknown value"))
    if status is KycStatus.VERIFIED and not draft.risk_rating:
        violations.append(FieldViolation("risk_rating", "required when VERIFIED"))
    reason = draft.reason.strip()
    if status is KycStatus.REJECTED and not reason:
        violations.append(FieldViolation("reason", "required when REJECTED"))
    if len(reason) > MAX_REASON:
        violations.append(FieldViolation("reason", f"at most {MAX_REASON} characters"))
    if draft.expires_at is not None:
        if status is not KycStatus.VERIFIED:
            violations.append(FieldViolation("expire_time", "only a verification expires"))
        elif draft.expires_at <= now:
            violations.append(FieldViolation("expire_time", "must be in the future"))
    for name, value in (("reference", draft.reference), ("source_system", draft.source_system)):
        if len(value.strip()) > MAX_REFERENCE:
            violations.append(FieldViolation(name, f"at most {MAX_REFERENCE} characters"))
    if violations or status is None:
        return None, violations
    return Kyc(
        status=status,
        reason=reason,
        risk_rating=risk,
        verified_at=now if status is KycStatus.VERIFIED else None,
        expires_at=draft.expires_at,
        reference=draft.reference.strip(),
        source_system=draft.source_system.strip(),
        updated_at=now,
    ), []


def next_kyc(current: Kyc, outcome: Kyc) -> Kyc:
    """The state after `outcome`; FailedPrecondition for a move the onboarding flow never makes.

    A rating the outcome does not give is kept (a PENDING re-check does not forget the risk);
    the verification time stays that of the last verification until a new one.
    """
    if outcome.status not in ALLOWED_MOVES[current.status]:
        raise FailedPrecondition(f"KYC cannot go from {current.status} to {outcome.status}")
    return Kyc(
        status=outcome.status,
        reason=outcome.reason,
        risk_rating=outcome.risk_rating or current.risk_rating,
        verified_at=outcome.verified_at or current.verified_at,
        expires_at=outcome.expires_at if outcome.status is KycStatus.VERIFIED else current.expires_at,
        reference=outcome.reference or current.reference,
        source_system=outcome.source_system or current.source_system,
        updated_at=outcome.updated_at,
    )


def expired(current: Kyc, now: datetime) -> Kyc | None:
    """The EXPIRED state when a verification's review is due, else None."""
    if current.status is KycStatus.VERIFIED and current.expires_at is not None and current.expires_at <= now:
        return Kyc(
            status=KycStatus.EXPIRED,
            reason="periodic review due",
            risk_rating=current.risk_rating,
            verified_at=current.verified_at,
            expires_at=current.expires_at,
            reference=current.reference,
            source_system=current.source_system,
            updated_at=now,
        )
    return None
