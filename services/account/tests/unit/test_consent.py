"""Consent rules: scope, what a decision needs, which decision is in force, and the verdict."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from crm_account.domain.consent import (
    CLOCK_SKEW,
    Consent,
    ConsentDecision,
    ConsentDraft,
    ConsentPurpose,
    ConsentStatus,
    clean_consent,
    decide,
    scope_violations,
)
from crm_account.domain.model import ContactChannel

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def consent(status: ConsentStatus = ConsentStatus.GRANTED, decided_at: datetime = NOW, **fields: object) -> Consent:
    base = Consent("c1", "a1", ConsentPurpose.MARKETING, ContactChannel.SMS, status, "web", "ev-1", decided_at, None, NOW, "tester")
    return replace(base, **fields)  # type: ignore[arg-type]


class TestScope:
    def test_marketing_needs_a_channel(self) -> None:
        assert [v.field for v in scope_violations("MARKETING", "")[2]] == ["channel"]

    @pytest.mark.parametrize("purpose", ["PROFILING", "PARTNER_SHARING"])
    def test_other_purposes_cover_every_channel(self, purpose: str) -> None:
        assert scope_violations(purpose, "")[2] == []
        assert [v.description for v in scope_violations(purpose, "SMS")[2]] == [f"must be unset: {purpose} consent covers every channel"]

    def test_unknown_names(self) -> None:
        assert [(v.field, v.description) for v in scope_violations("?", "?")[2]] == [("purpose", "unknown value"), ("channel", "unknown value")]


class TestClean:
    def test_a_grant_defaults_to_now(self) -> None:
        terms, violations = clean_consent(ConsentDraft("MARKETING", "ZALO", "GRANTED", " app ", " ev "), NOW)
        assert violations == [] and terms is not None
        assert (terms.channel, terms.source, terms.evidence_ref, terms.decided_at) == (ContactChannel.ZALO, "app", "ev", NOW)

    def test_withdrawing_needs_no_evidence(self) -> None:
        assert clean_consent(ConsentDraft("MARKETING", "SMS", "WITHDRAWN", "sms_reply_STOP"), NOW)[1] == []

    def test_a_grant_needs_evidence_and_a_source(self) -> None:
        _, violations = clean_consent(ConsentDraft("MARKETING", "SMS", "GRANTED"), NOW)
        assert [v.field for v in violations] == ["source", "evidence_ref"]

    def test_times(self) -> None:
        within_skew = ConsentDraft("PROFILING", "", "GRANTED", "web", "ev", decided_at=NOW + CLOCK_SKEW)
        assert clean_consent(within_skew, NOW)[1] == []
        future = replace(within_skew, decided_at=NOW + CLOCK_SKEW + timedelta(seconds=1))
        assert [v.field for v in clean_consent(future, NOW)[1]] == ["decide_time"]
        expiring_before = replace(within_skew, decided_at=NOW, expires_at=NOW)
        assert [v.description for v in clean_consent(expiring_before, NOW)[1]] == ["must be after decide_time"]


class TestInForce:
    def test_the_later_decision_wins_whatever_the_order_it_arrives_in(self) -> None:
        withdrawn_yesterday = consent(ConsentStatus.WITHDRAWN, NOW - timedelta(days=1))
        granted_last_week = consent(decided_at=NOW - timedelta(days=7))
        assert not granted_last_week.supersedes(withdrawn_yesterday)
        assert withdrawn_yesterday.supersedes(granted_last_week)
        assert granted_last_week.supersedes(None)

    def test_same_decision_time_the_later_recording_wins(self) -> None:
        first = consent(recorded_at=NOW)
        assert consent(ConsentStatus.WITHDRAWN, recorded_at=NOW + timedelta(seconds=1)).supersedes(first)

    def test_scope_names(self) -> None:
        assert consent().scope == "MARKETING.SMS"
        assert consent(purpose=ConsentPurpose.PROFILING, channel=None).scope == "PROFILING"


class TestDecide:
    def test_verdicts(self) -> None:
        assert decide(None, NOW) is ConsentDecision.NOT_GIVEN
        assert decide(consent(), NOW) is ConsentDecision.ALLOWED
        assert decide(consent(ConsentStatus.WITHDRAWN), NOW) is ConsentDecision.WITHDRAWN
        assert decide(consent(expires_at=NOW), NOW) is ConsentDecision.EXPIRED
        assert decide(consent(expires_at=NOW + timedelta(seconds=1)), NOW) is ConsentDecision.ALLOWED
