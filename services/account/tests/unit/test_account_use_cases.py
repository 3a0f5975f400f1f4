"""The account service's use cases over in-memory fakes (tests/unit/account_fakes.py): rules of the
service layer that read more clearly here than through gRPC and a database, such as which
consent is in force, what an idempotent replay answers, what a refusal leaves behind (nothing
committed, nothing published) and what a merge keeps.

Accounts are created through the use cases themselves; the clock stands still unless moved.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from account_fakes import App, wired

from crm_account.domain.consent import ConsentDecision, ConsentDraft
from crm_account.domain.holdings import ProductType
from crm_account.domain.kyc import KycOutcomeDraft, KycStatus
from crm_account.domain.model import Account, ChangeKind, LifecycleStage, MatchField, ValueTier
from crm_account.domain.privacy import ErasureStatus
from crm_account.domain.profile import AccountDraft
from crm_account.service_layer import commands
from crm_common.auth import DataScope, Principal, use_data_scope, use_principal
from crm_common.errors import AlreadyExists, FailedPrecondition, InvalidArgument
from crm_common.events.erasure import ERASED_NAME
from crm_common.testing_fakes import caller_key
from crm_common.unit_of_work import Idempotent

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
# A CCCD registered in Hà Nội (001) for a man born in 1990.
CCCD_AN = "001090012345"


@pytest.fixture(autouse=True)
def as_rm() -> Iterator[None]:
    """Every use case runs as relationship manager rm-1 (the actor on the timeline), reaching every
    account here (who reaches what is tested through the API: test_account_data_scopes.py)."""
    with use_principal(Principal(subject="rm-1")), use_data_scope(DataScope.bank_wide("rm-1")):
        yield


@pytest.fixture
def app() -> App:
    return wired(NOW)


def key(request_id: str, fingerprint: str = "same request") -> Idempotent:
    return caller_key(request_id, fingerprint)


def person(app: App, request_id: str = "create-an", **draft: Any) -> Account:
    fields = {"type": "PERSON", "full_name": "Nguyễn Văn An", "phones": ("0912345678",), **draft}
    return app.use_cases.profile.create_account(commands.CreateAccount(key(request_id), AccountDraft(**fields)))


def marketing_sms(account: Account, request_id: str, status: str, decided_at: datetime, **terms: Any) -> commands.RecordConsent:
    draft = ConsentDraft("MARKETING", "SMS", status, source="branch_form", evidence_ref="form-1", decided_at=decided_at, **terms)
    return commands.RecordConsent(key(request_id), account.account_id, draft)


def changes(app: App, kind: ChangeKind) -> list[tuple[str, tuple[str, ...], str, str]]:
    """(account, fields, reason, actor) of each committed timeline entry of this kind."""
    return [(c.account_id, c.changed_fields, c.reason, c.actor) for c in app.state.changes if c.kind is kind]


class TestProfile:
    def test_a_replayed_create_returns_the_first_account_and_announces_it_once(self, app: App) -> None:
        first = person(app)
        app.clock.advance(minutes=1)
        again = person(app)
        assert again.account_id == first.account_id
        assert again.created_at == NOW
        assert list(app.state.accounts) == [first.account_id]
        assert [args[0].account_id for args in app.published("created")] == [first.account_id]

    def test_a_known_national_id_is_already_exists_naming_its_holder(self, app: App) -> None:
        an = person(app, national_id=CCCD_AN)
        with pytest.raises(AlreadyExists) as refused:
            person(app, "create-other", full_name="Trần Thị Mai", phones=(), national_id=CCCD_AN)
        assert refused.value.resource_name == an.account_id
        assert len(app.state.accounts) == 1
        assert ("CreateAccount", "create-other") not in app.store.results

    def test_a_replayed_resolution_remembers_whether_it_created_or_matched(self, app: App) -> None:
        def resolve(request_id: str, phone: str) -> Any:
            draft = AccountDraft(full_name="Nguyễn Văn An", phones=(phone,))
            return app.use_cases.profile.resolve_person_account(commands.ResolvePersonAccount(key(request_id), draft, "lead-1"))

        created = resolve("resolve-1", "0912345678")
        matched = resolve("resolve-2", "+84 912 345 678")
        assert (created.matched, matched.matched, matched.matched_on) == (False, True, MatchField.PHONE)
        assert matched.account.account_id == created.account.account_id
        replayed = resolve("resolve-1", "0912345678")
        assert (replayed.matched, replayed.matched_on, replayed.account.account_id) == (False, None, created.account.account_id)
        assert app.state.accounts[created.account.account_id].source_lead_id == "lead-1"


class TestConsent:
    def test_the_decision_in_force_is_the_latest_by_decision_time_not_by_keying(self, app: App) -> None:
        an = person(app)
        withdrawal, in_force = app.use_cases.consent.record_consent(marketing_sms(an, "c-1", "WITHDRAWN", NOW - timedelta(days=1)))
        assert in_force
        # A paper form signed a week ago, keyed in now: kept, but the withdrawal stays in force.
        late_form, in_force = app.use_cases.consent.record_consent(marketing_sms(an, "c-2", "GRANTED", NOW - timedelta(days=7)))
        assert not in_force
        check = app.use_cases.consent.check_consent(commands.CheckConsent(an.account_id, "MARKETING", "SMS"))
        assert (check.decision, check.consent, check.allowed) == (ConsentDecision.WITHDRAWN, withdrawal, False)
        assert app.state.consent_history == [withdrawal, late_form]
        assert [args[0] for args in app.published("consent_changed")] == [withdrawal]
        assert changes(app, ChangeKind.CONSENT_CHANGED) == [(an.account_id, ("consent.MARKETING.SMS",), "WITHDRAWN via branch_form", "rm-1")]

    def test_a_grant_lapses_at_its_expiry(self, app: App) -> None:
        an = person(app)
        app.use_cases.consent.record_consent(marketing_sms(an, "c-1", "GRANTED", NOW, expires_at=NOW + timedelta(days=30)))
        check = commands.CheckConsent(an.account_id, "MARKETING", "SMS")
        assert app.use_cases.consent.check_consent(check).allowed
        app.clock.advance(days=30)
        assert app.use_cases.consent.check_consent(check).decision is ConsentDecision.EXPIRED
        assert app.use_cases.consent.check_consent(commands.CheckConsent(an.account_id, "MARKETING", "ZALO")).decision is ConsentDecision.NOT_GIVEN

    def test_a_replay_answers_with_the_first_result_and_commits_nothing(self, app: App) -> None:
        an = person(app)
        record = marketing_sms(an, "c-1", "GRANTED", NOW)
        first = app.use_cases.consent.record_consent(record)
        commits = app.store.commits
        app.clock.advance(minutes=5)
        assert app.use_cases.consent.record_consent(record) == first
        assert app.store.commits == commits
        assert len(app.state.consent_history) == len(app.published("consent_changed")) == 1

    def test_a_request_id_reused_for_another_request_is_refused(self, app: App) -> None:
        an = person(app)
        app.use_cases.consent.record_consent(marketing_sms(an, "c-1", "GRANTED", NOW))
        other = commands.RecordConsent(key("c-1", "another request"), an.account_id, ConsentDraft("PROFILING", "", "WITHDRAWN", source="app"))
        with pytest.raises(InvalidArgument) as refused:
            app.use_cases.consent.record_consent(other)
        assert [v.field for v in refused.value.violations] == ["request_id"]
        assert len(app.state.consent_history) == 1


class TestValueTier:
    def test_an_override_is_kept_with_its_reason_on_the_timeline_and_announced(self, app: App) -> None:
        an = person(app)
        app.clock.advance(hours=1)
        override = commands.OverrideValueTier(key("t-1"), an.account_id, "PRIVATE", "  family office client ")
        account = app.use_cases.holdings.override_value_tier(override)
        assert (account.value_tier, account.derived_tier) == (ValueTier.PRIVATE, ValueTier.MASS)
        stored = app.state.accounts[an.account_id]
        assert (stored.tier_override, stored.tier_override_reason, stored.version) == (ValueTier.PRIVATE, "family office client", 2)
        assert (stored.updated_at, stored.updated_by) == (NOW + timedelta(hours=1), "rm-1")
        assert changes(app, ChangeKind.VALUE_TIER_OVERRIDDEN) == [(an.account_id, ("value_tier",), "family office client", "rm-1")]
        assert [(a.account_id, fields, correlation) for a, fields, correlation in app.published("updated")] == [
            (an.account_id, ["value_tier"], "t-1")
        ]

    def test_an_override_without_a_reason_is_refused_and_nothing_is_kept(self, app: App) -> None:
        an = person(app)
        commits = app.store.commits
        with pytest.raises(InvalidArgument) as refused:
            app.use_cases.holdings.override_value_tier(commands.OverrideValueTier(key("t-1"), an.account_id, "PRIVATE", "  "))
        assert [v.field for v in refused.value.violations] == ["reason"]
        assert app.store.commits == commits
        assert app.state.accounts[an.account_id].tier_override is None

    def test_clearing_a_tier_never_overridden_is_refused_with_nothing_published(self, app: App) -> None:
        an = person(app)
        published = list(app.store.published)
        with pytest.raises(FailedPrecondition, match="not overridden"):
            app.use_cases.holdings.clear_value_tier_override(commands.ClearValueTierOverride(key("t-1"), an.account_id, ""))
        assert app.store.published == published
        assert changes(app, ChangeKind.VALUE_TIER_OVERRIDE_CLEARED) == []
        # Nothing was remembered either: the same request succeeds once there is an override.
        app.use_cases.holdings.override_value_tier(commands.OverrideValueTier(key("t-0"), an.account_id, "AFFLUENT", "priority banking"))
        cleared = app.use_cases.holdings.clear_value_tier_override(commands.ClearValueTierOverride(key("t-1"), an.account_id, ""))
        assert cleared.value_tier is ValueTier.MASS


class TestKyc:
    def test_a_move_the_onboarding_flow_never_makes_is_refused_with_nothing_published(self, app: App) -> None:
        an = person(app)
        rejected = KycOutcomeDraft("REJECTED", reason="forged document")
        app.use_cases.kyc.record_kyc_outcome(commands.RecordKycOutcome(key("k-1"), an.account_id, rejected))
        before = (app.store.commits, list(app.store.published), app.state.accounts[an.account_id])
        with pytest.raises(FailedPrecondition, match="KYC cannot go from REJECTED to REJECTED"):
            app.use_cases.kyc.record_kyc_outcome(commands.RecordKycOutcome(key("k-2"), an.account_id, rejected))
        # The same by event: raised, so retried and then dead-lettered; the event is not marked handled.
        reported = commands.ReportedKycOutcome("account.on_kyc_outcome_reported", "e-1", an.account_id, rejected)
        with pytest.raises(FailedPrecondition):
            app.use_cases.kyc.record_reported_kyc_outcome(reported)
        assert (app.store.commits, app.store.published, app.state.accounts[an.account_id]) == before
        assert app.store.inbox == set()

    def test_a_reported_outcome_is_applied_once_per_event(self, app: App) -> None:
        an = person(app)
        reported = commands.ReportedKycOutcome("account.on_kyc_outcome_reported", "e-1", an.account_id, KycOutcomeDraft("PENDING"), "corr-1")
        assert app.use_cases.kyc.record_reported_kyc_outcome(reported) == "PENDING"
        assert app.use_cases.kyc.record_reported_kyc_outcome(reported) == "duplicate"
        assert [(a.kyc.status, previous, correlation) for a, previous, correlation in app.published("kyc_status_changed")] == [
            (KycStatus.PENDING, KycStatus.NOT_STARTED, "corr-1")
        ]
        assert changes(app, ChangeKind.KYC_STATUS_CHANGED) == [(an.account_id, ("kyc",), "NOT_STARTED → PENDING", "rm-1")]

    def test_a_verification_whose_review_is_due_expires_once(self, app: App) -> None:
        an = person(app)
        verified = KycOutcomeDraft("VERIFIED", risk_rating="LOW", expires_at=NOW + timedelta(days=365))
        app.use_cases.kyc.record_kyc_outcome(commands.RecordKycOutcome(key("k-1"), an.account_id, verified))
        assert app.use_cases.kyc.expire_kyc_reviews() == 0
        app.clock.advance(days=365)
        assert app.use_cases.kyc.expire_kyc_reviews() == 1
        assert app.use_cases.kyc.expire_kyc_reviews() == 0
        assert app.state.accounts[an.account_id].kyc.status is KycStatus.EXPIRED
        assert changes(app, ChangeKind.KYC_STATUS_CHANGED)[-1] == (
            an.account_id,
            ("kyc",),
            "VERIFIED → EXPIRED: periodic review due",
            "system:kyc-expiry",
        )


def open_term_deposit(app: App, account: Account, event_id: str, amount: int) -> None:
    won = commands.OpenWonHolding(
        "account.on_opportunity_won", event_id, account.account_id, f"opp-{event_id}", ProductType.TERM_DEPOSIT, amount, date(2026, 11, 1)
    )
    assert app.use_cases.holdings.open_won_holding(won) == "ok"


def reopened(app: App, event_id: str, opportunity_id: str, was_won: bool = True) -> str:
    reversal = commands.ReverseWonHolding(
        "account.on_opportunity_reopened", event_id, opportunity_id, was_won, ProductType.TERM_DEPOSIT, date(2026, 11, 20), "khách đổi ý", "req-9"
    )
    return app.use_cases.holdings.reverse_won_holding(reversal)


class TestReversal:
    """Reopening a won opportunity reverses the sale: the holding its win opened closes."""

    def test_the_won_holding_closes_with_the_reversal_reason_once(self, app: App) -> None:
        an = person(app)
        open_term_deposit(app, an, "e-1", 50_000_000)
        assert reopened(app, "r-1", "opp-e-1") == "reversed"
        [holding] = app.state.holdings.values()
        assert (holding.status, holding.closed_on, holding.close_reason) == ("CLOSED", date(2026, 11, 20), "OPPORTUNITY_REVERSED")
        [(closed, correlation, detail)] = app.published("holding_closed")
        assert (closed, correlation, detail) == (holding, "req-9", "khách đổi ý")
        assert reopened(app, "r-1", "opp-e-1") == "duplicate"
        assert reopened(app, "r-2", "opp-e-1") == "already closed"
        assert len(app.published("holding_closed")) == 1

    def test_a_lost_deal_reopened_has_nothing_to_reverse(self, app: App) -> None:
        assert reopened(app, "r-1", "opp-never-won", was_won=False) == "no holding to reverse"
        assert app.published("holding_closed") == []

    def test_a_reversal_before_its_win_is_applied_is_retried(self, app: App) -> None:
        with pytest.raises(FailedPrecondition, match="reopened before its win opened a holding here"):
            reopened(app, "r-1", "opp-late")
        assert ("account.on_opportunity_reopened", "r-1") not in app.store.inbox  # not marked handled: redelivered

    def test_won_again_the_same_holding_opens_again(self, app: App) -> None:
        an = person(app)
        open_term_deposit(app, an, "e-1", 50_000_000)
        reopened(app, "r-1", "opp-e-1")
        [first] = app.state.holdings.values()
        again = commands.OpenWonHolding(
            "account.on_opportunity_won", "e-2", an.account_id, "opp-e-1", ProductType.TERM_DEPOSIT, 70_000_000, date(2026, 11, 22)
        )
        assert app.use_cases.holdings.open_won_holding(again) == "ok"
        [holding] = app.state.holdings.values()
        assert (holding.holding_id, holding.status, holding.balance, holding.opened_on, holding.close_reason) == (
            first.holding_id,
            "OPEN",
            70_000_000,
            date(2026, 11, 22),
            "",
        )


class TestErasure:
    def test_refused_while_products_are_open_and_nothing_is_touched(self, app: App) -> None:
        an = person(app)
        open_term_deposit(app, an, "e-1", 50_000_000)
        before = (app.store.commits, list(app.store.published), app.state.accounts[an.account_id], dict(app.state.match_keys))
        with pytest.raises(FailedPrecondition, match="holds 1 open product"):
            app.use_cases.privacy.request_erasure(commands.RequestErasure(key("x-1"), an.account_id, "customer asked at the branch"))
        assert (app.store.commits, app.store.published, app.state.accounts[an.account_id], app.state.match_keys) == before
        assert app.state.erasures == {}

    def test_refused_under_a_legal_hold(self, app: App) -> None:
        an = person(app)
        app.use_cases.privacy.set_legal_hold(commands.SetLegalHold(key("h-1"), an.account_id, True, "court order 12/2026"))
        with pytest.raises(FailedPrecondition, match="under a legal hold: court order 12/2026"):
            app.use_cases.privacy.request_erasure(commands.RequestErasure(key("x-1"), an.account_id, "customer asked"))
        assert changes(app, ChangeKind.LEGAL_HOLD_SET) == [(an.account_id, ("legal_hold",), "court order 12/2026", "rm-1")]

    def test_with_no_other_service_holding_copies_it_completes_at_once(self, app: App) -> None:
        an = person(app)
        app.use_cases.consent.record_consent(marketing_sms(an, "c-1", "GRANTED", NOW))
        request = app.use_cases.privacy.request_erasure(commands.RequestErasure(key("x-1"), an.account_id, "customer asked"))
        assert (request.status, request.completed_at) == (ErasureStatus.COMPLETED, NOW)
        erased = app.state.accounts[an.account_id]
        assert (erased.profile.full_name, erased.profile.phones, erased.erased_at) == (ERASED_NAME, (), NOW)
        assert (app.state.match_keys, app.state.consent_history, app.state.consents_in_force) == ({}, [], {})
        assert [args[0].erasure_id for args in app.published("erasure_completed")] == [request.erasure_id]
        assert [(args[0].erasure_id, args[2]) for args in app.published("erasure_requested")] == [(request.erasure_id, "x-1")]

    def test_it_completes_with_the_last_confirmation_once_per_event(self) -> None:
        app = wired(NOW, erasure_services=("lead", "opportunity"))
        an = person(app)
        request = app.use_cases.privacy.request_erasure(commands.RequestErasure(key("x-1"), an.account_id, "customer asked"))
        assert (request.status, request.pending) == (ErasureStatus.IN_PROGRESS, ["lead", "opportunity"])

        def confirm(event_id: str, service: str) -> str:
            consumer = f"account.on_{service}_erasure_confirmed"
            return app.use_cases.privacy.confirm_erasure(commands.ConfirmErasure(consumer, event_id, request.erasure_id, service))

        app.clock.advance(minutes=3)
        assert confirm("e-1", "lead") == "IN_PROGRESS"
        assert confirm("e-1", "lead") == "duplicate"
        assert confirm("e-2", "opportunity") == "COMPLETED"
        stored = app.state.erasures[request.erasure_id]
        assert (stored.pending, stored.confirmed, stored.completed_at) == ([], ["lead", "opportunity"], NOW + timedelta(minutes=3))
        assert len(app.published("erasure_completed")) == 1


class TestMerge:
    def test_survivorship_and_what_moves_to_the_survivor(self, app: App) -> None:
        # The survivor was keyed in by a legacy system without diacritics and without an id.
        survivor = person(app, "create-1", full_name="Nguyen Van An", owner_id="rm-1")
        merged = person(app, "create-2", phones=("0987654321",), national_id=CCCD_AN, date_of_birth=(1990, 1, 1), owner_id="rm-2")
        open_term_deposit(app, merged, "e-1", 2_000_000_000)
        consent, _ = app.use_cases.consent.record_consent(marketing_sms(merged, "c-1", "GRANTED", NOW))
        app.clock.advance(days=1)
        merge = commands.MergeAccounts(key("m-1"), survivor.account_id, merged.account_id, " same person, seen at the branch ")

        account, sources = app.use_cases.duplicates.merge_accounts(merge)

        s, m = survivor.account_id, merged.account_id
        assert account.account_id == s
        assert (account.profile.full_name, account.profile.national_id, account.profile.owner_id) == ("Nguyễn Văn An", CCCD_AN, "rm-1")
        assert account.profile.phones == ("+84912345678", "+84987654321")
        assert (sources["full_name"], sources["national_id"], sources["owner_id"], sources["phones"]) == (m, m, s, f"{s}+{m}")
        # Its products and their totals, and its consent (announced for the survivor).
        assert [h.account_id for h in app.state.holdings.values()] == [s]
        assert (account.totals.aum, account.derived_tier) == (2_000_000_000, ValueTier.AFFLUENT)
        assert [c.account_id for c in app.state.consents_in_force.values()] == [s]
        assert [(args[0].consent_id, args[0].account_id) for args in app.published("consent_changed")][-1] == (consent.consent_id, s)
        # The merged account is a tombstone that resolves to the survivor.
        tombstone = app.state.accounts[m]
        assert (tombstone.merged_into, tombstone.profile.lifecycle_stage, tombstone.profile.phones, tombstone.profile.national_id) == (
            s,
            LifecycleStage.CLOSED,
            (),
            "",
        )
        assert app.use_cases.profile.get_account(m).account_id == s
        assert {c.account_id for c in app.state.changes} == {s}
        assert changes(app, ChangeKind.MERGED) == [
            (s, tuple(sorted(name for name, source in sources.items() if m in source)), f"absorbed {m}: same person, seen at the branch", "rm-1")
        ]
        assert [(a.account_id, merged_id, correlation) for a, merged_id, _merge_id, correlation in app.published("accounts_merged")] == [
            (s, m, "m-1")
        ]
        [(plan, actor, reason)] = app.state.merges
        assert (plan.survivor_id, plan.merged_id, actor, reason) == (s, m, "rm-1", "same person, seen at the branch")
        # A replay answers with the survivor and does not merge again.
        assert app.use_cases.duplicates.merge_accounts(merge) == (app.state.accounts[s], {})
        assert len(app.published("accounts_merged")) == 1

    def test_an_account_merged_away_cannot_be_merged_again(self, app: App) -> None:
        first, second, third = (person(app, f"create-{i}", phones=(f"091234567{i}",)) for i in range(3))
        app.use_cases.duplicates.merge_accounts(commands.MergeAccounts(key("m-1"), first.account_id, second.account_id, "same person"))
        published = list(app.store.published)
        with pytest.raises(FailedPrecondition, match=f"account {second.account_id} was already merged into {first.account_id}"):
            app.use_cases.duplicates.merge_accounts(commands.MergeAccounts(key("m-2"), third.account_id, second.account_id, "same person"))
        assert app.store.published == published
        assert app.state.accounts[third.account_id].version == 1
