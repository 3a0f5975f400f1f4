"""KYC rules: what an outcome needs, which moves the onboarding flow makes, and expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crm_account.domain.kyc import ALLOWED_MOVES, Kyc, KycOutcomeDraft, KycStatus, RiskRating, clean_outcome, expired, next_kyc
from crm_common.errors import FailedPrecondition

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def clean(status: str, **fields: object) -> Kyc:
    kyc, violations = clean_outcome(KycOutcomeDraft(status, **fields), NOW)  # type: ignore[arg-type]
    assert violations == [] and kyc is not None
    return kyc


def test_a_verification_is_stamped_and_rated() -> None:
    kyc = clean("VERIFIED", risk_rating="LOW", expires_at=NOW + timedelta(days=365), reference=" C-1 ")
    assert (kyc.verified_at, kyc.updated_at, kyc.risk_rating, kyc.reference) == (NOW, NOW, RiskRating.LOW, "C-1")


@pytest.mark.parametrize(
    ("draft", "fields"),
    [
        (KycOutcomeDraft(""), ["status"]),
        (KycOutcomeDraft("?"), ["status"]),
        (KycOutcomeDraft("NOT_STARTED"), ["status"]),
        (KycOutcomeDraft("VERIFIED", risk_rating="?"), ["risk_rating"]),
        (KycOutcomeDraft("VERIFIED"), ["risk_rating"]),
        (KycOutcomeDraft("REJECTED", reason="  "), ["reason"]),
        (KycOutcomeDraft("VERIFIED", risk_rating="LOW", expires_at=NOW), ["expire_time"]),
        (KycOutcomeDraft("PENDING", expires_at=NOW + timedelta(days=1)), ["expire_time"]),
        (KycOutcomeDraft("PENDING", reference="x" * 101), ["reference"]),
    ],
)
def test_bad_outcomes(draft: KycOutcomeDraft, fields: list[str]) -> None:
    kyc, violations = clean_outcome(draft, NOW)
    assert kyc is None and [v.field for v in violations] == fields


def test_every_status_has_its_moves_and_nothing_returns_to_not_started() -> None:
    assert set(ALLOWED_MOVES) == set(KycStatus)
    assert all(KycStatus.NOT_STARTED not in moves for moves in ALLOWED_MOVES.values())
    with pytest.raises(FailedPrecondition, match="KYC cannot go from REJECTED to EXPIRED"):
        next_kyc(Kyc(KycStatus.REJECTED), clean("EXPIRED"))


def test_a_recheck_keeps_the_rating_and_the_last_verification() -> None:
    verified = next_kyc(Kyc(), clean("VERIFIED", risk_rating="HIGH", expires_at=NOW + timedelta(days=30), reference="C-1"))
    pending = next_kyc(verified, clean("PENDING", reason="address changed"))
    assert (pending.risk_rating, pending.verified_at, pending.expires_at, pending.reference) == (
        RiskRating.HIGH,
        NOW,
        NOW + timedelta(days=30),
        "C-1",
    )
    assert pending.reason == "address changed"


def test_expiry() -> None:
    verified = Kyc(KycStatus.VERIFIED, risk_rating=RiskRating.LOW, verified_at=NOW, expires_at=NOW + timedelta(days=1))
    assert expired(verified, NOW) is None
    lapsed = expired(verified, NOW + timedelta(days=1))
    assert lapsed is not None and (lapsed.status, lapsed.risk_rating, lapsed.reason) == (KycStatus.EXPIRED, RiskRating.LOW, "periodic review due")
    assert expired(Kyc(KycStatus.PENDING, expires_at=NOW), NOW) is None
    assert expired(Kyc(KycStatus.VERIFIED), NOW) is None  # no review date: never expires by itself
