"""Consent for permission marketing (Vietnam Decree 13/2023/ND-CP on personal data protection).

Consent is given per purpose, and for marketing per channel; it is never assumed (no decision
means NOT_GIVEN), it may lapse, and withdrawing takes exactly what granting takes. Every
decision is kept; the one in force is the latest by the time the customer decided, so a paper
form keyed in a week late does not override a withdrawal made in the app yesterday.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from crm_account.domain.model import ContactChannel
from crm_common.errors import FieldViolation

MAX_SOURCE = 100
MAX_EVIDENCE = 500
# Clocks of the systems that record consent drift a little; more than this is a bad time.
CLOCK_SKEW = timedelta(minutes=5)


class ConsentPurpose(StrEnum):
    MARKETING = "MARKETING"
    PROFILING = "PROFILING"
    PARTNER_SHARING = "PARTNER_SHARING"


# Marketing is consented per channel (SMS yes, calls no); the others cover every channel.
CHANNEL_BOUND = frozenset({ConsentPurpose.MARKETING})


class ConsentStatus(StrEnum):
    GRANTED = "GRANTED"
    WITHDRAWN = "WITHDRAWN"


class ConsentDecision(StrEnum):
    ALLOWED = "ALLOWED"
    NOT_GIVEN = "NOT_GIVEN"
    WITHDRAWN = "WITHDRAWN"
    EXPIRED = "EXPIRED"


@dataclass(frozen=True)
class Consent:
    consent_id: str
    account_id: str
    purpose: ConsentPurpose
    # None for purposes not given per channel.
    channel: ContactChannel | None
    status: ConsentStatus
    source: str
    evidence_ref: str
    decided_at: datetime
    expires_at: datetime | None
    recorded_at: datetime
    recorded_by: str

    @property
    def scope(self) -> str:
        """'MARKETING.SMS', 'PROFILING': how the timeline names what changed."""
        return f"{self.purpose}.{self.channel}" if self.channel else str(self.purpose)

    def supersedes(self, current: Consent | None) -> bool:
        """True when this decision, not `current`, is the one in force."""
        return current is None or (self.decided_at, self.recorded_at) >= (current.decided_at, current.recorded_at)


@dataclass(frozen=True)
class ConsentDraft:
    """A decision as the caller sent it; enums as names ('' unset, '?' unknown)."""

    purpose: str
    channel: str
    status: str
    source: str = ""
    evidence_ref: str = ""
    decided_at: datetime | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True)
class ConsentTerms:
    """A clean decision, not yet tied to an id and a recording time."""

    purpose: ConsentPurpose
    channel: ContactChannel | None
    status: ConsentStatus
    source: str
    evidence_ref: str
    decided_at: datetime
    expires_at: datetime | None


def scope_violations(purpose_name: str, channel_name: str) -> tuple[ConsentPurpose | None, ContactChannel | None, list[FieldViolation]]:
    """The purpose and channel a decision or a check is about, or what is wrong with them."""
    violations: list[FieldViolation] = []
    purpose = ConsentPurpose.__members__.get(purpose_name)
    if purpose is None:
        violations.append(FieldViolation("purpose", "required" if not purpose_name else "unknown value"))
    channel = ContactChannel.__members__.get(channel_name)
    if channel_name and channel is None:
        violations.append(FieldViolation("channel", "unknown value"))
    if purpose in CHANNEL_BOUND and not channel_name:
        violations.append(FieldViolation("channel", f"required: {purpose} consent is given per channel"))
    if purpose is not None and purpose not in CHANNEL_BOUND and channel_name:
        violations.append(FieldViolation("channel", f"must be unset: {purpose} consent covers every channel"))
    return purpose, channel, violations


def clean_consent(draft: ConsentDraft, now: datetime) -> tuple[ConsentTerms | None, list[FieldViolation]]:
    purpose, channel, violations = scope_violations(draft.purpose, draft.channel)
    status = ConsentStatus.__members__.get(draft.status)
    if status is None:
        violations.append(FieldViolation("status", "required: GRANTED or WITHDRAWN" if not draft.status else "unknown value"))
    source = draft.source.strip()
    if not source:
        violations.append(FieldViolation("source", "required: where the customer decided (branch_form, mobile_app...)"))
    elif len(source) > MAX_SOURCE:
        violations.append(FieldViolation("source", f"at most {MAX_SOURCE} characters"))
    evidence = draft.evidence_ref.strip()
    if status is ConsentStatus.GRANTED and not evidence:
        violations.append(FieldViolation("evidence_ref", "required for a grant: the signed form, recording or app event"))
    elif len(evidence) > MAX_EVIDENCE:
        violations.append(FieldViolation("evidence_ref", f"at most {MAX_EVIDENCE} characters"))
    decided_at = draft.decided_at or now
    if decided_at > now + CLOCK_SKEW:
        violations.append(FieldViolation("decide_time", "in the future"))
    if draft.expires_at is not None:
        if status is ConsentStatus.WITHDRAWN:
            violations.append(FieldViolation("expire_time", "only a grant expires"))
        elif draft.expires_at <= decided_at:
            violations.append(FieldViolation("expire_time", "must be after decide_time"))
    if violations or purpose is None or status is None:
        return None, violations
    return ConsentTerms(purpose, channel, status, source, evidence, decided_at, draft.expires_at), []


def decide(current: Consent | None, now: datetime) -> ConsentDecision:
    """Whether the decision in force allows use now."""
    if current is None:
        return ConsentDecision.NOT_GIVEN
    if current.status is ConsentStatus.WITHDRAWN:
        return ConsentDecision.WITHDRAWN
    if current.expires_at is not None and current.expires_at <= now:
        return ConsentDecision.EXPIRED
    return ConsentDecision.ALLOWED
