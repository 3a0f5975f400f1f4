"""The account service end to end: consent, PII in events, core-banking holdings and KYC, through
the real gRPC API, the real PostgreSQL database and the real broker (events read from a queue of
our own bound to the `account.events` exchange before acting).

Each test creates its own accounts with random phones, emails, national ids and core refs, so the
tests neither depend on nor disturb each other or the other e2e tests of the session.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pika
import pytest
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from crm.account.v1 import account_pb2, events_pb2
from crm.account.v1 import account_service_pb2 as account_svc
from crm.common.v1 import common_pb2
from crm_common.grpc.status import field_violations, resource_info
from crm_common.testing import bearer, wait_until

RM = bearer("rm-1", ["rm"])
# A contact-centre agent serving any customer: marketing's bank-wide reach, no pii.read (data scopes).
AGENT = bearer("agent-7", ["telesales", "marketing"])
CAMPAIGNS = bearer("campaign-service", ["service"])
CORE_BANKING = bearer("core-banking", ["service"])
ONBOARDING = bearer("ekyc-onboarding", ["service"])

EXCHANGE = "account.events"
EVENT_TIMEOUT = 15.0
BILLION = 1_000_000_000
EVENT_TYPES: dict[str, type[Message]] = {
    cls.DESCRIPTOR.name: cls
    for cls in (
        events_pb2.AccountCreated,
        events_pb2.AccountUpdated,
        events_pb2.ConsentChanged,
        events_pb2.KycStatusChanged,
        events_pb2.HoldingOpened,
        events_pb2.HoldingClosed,
    )
}


def rid() -> str:
    return str(uuid.uuid4())


def unique_phone() -> str:
    """A Vietnamese mobile number in its local form, random enough not to meet another test's."""
    return "091" + "".join(random.choices("0123456789", k=7))


def unique_email(name: str) -> str:
    return f"{name}.{uuid.uuid4().hex[:10]}@example.com"


def cccd(province_code: str, year: int, female: bool) -> str:
    """A well-formed 12-digit CCCD: 0 + province, century-and-gender digit, year, random serial."""
    century_and_gender = 2 * ((year - 1900) // 100) + (1 if female else 0)
    return f"0{province_code}{century_and_gender}{year % 100:02d}" + "".join(random.choices("0123456789", k=6))


def vnd(amount: int) -> common_pb2.Money:
    return common_pb2.Money(currency_code="VND", amount_minor=amount)


def rpc_error(call: Callable[..., Any], *args: Any, **kwargs: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(*args, **kwargs)
    return caught.value


def create_account(suite: Any, **fields: Any) -> account_pb2.Account:
    fields.setdefault("type", account_pb2.ACCOUNT_TYPE_PERSON)
    fields.setdefault("full_name", "Nguyễn Thị Lan")
    fields.setdefault("phones", [unique_phone()])
    request = account_svc.CreateAccountRequest(request_id=rid(), account=account_pb2.AccountInput(**fields))
    account: account_pb2.Account = suite.account.CreateAccount(request, metadata=RM).account
    return account


def get_account(suite: Any, account_id: str, metadata: list[tuple[str, str]] = RM) -> account_pb2.Account:
    account: account_pb2.Account = suite.account.GetAccount(account_svc.GetAccountRequest(account_id=account_id), metadata=metadata).account
    return account


class Tap:
    """An exclusive queue bound to some routing keys of `account.events`; messages are read with
    basic_get and kept, so a test can wait for several events in any order."""

    def __init__(self, amqp_uri: str, routing_keys: tuple[str, ...]) -> None:
        self.connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
        self.channel = self.connection.channel()
        self.channel.exchange_declare(EXCHANGE, "topic", durable=True)
        self.queue = self.channel.queue_declare("", exclusive=True).method.queue
        for key in routing_keys:
            self.channel.queue_bind(self.queue, EXCHANGE, key)
        # (routing key, decoded event, raw body), in arrival order.
        self.seen: list[tuple[str, Any, bytes]] = []

    def _drain(self) -> None:
        while True:
            method, _props, body = self.channel.basic_get(self.queue, auto_ack=True)
            if method is None:
                return
            self.seen.append((method.routing_key, EVENT_TYPES[method.routing_key].FromString(body), body))

    def wait_for(self, event_cls: type[Message], match: Callable[[Any], bool], count: int = 1, what: str = "") -> list[tuple[Any, bytes]]:
        """The first `count` events of `event_cls` for which `match` holds (their decoded form and bytes)."""
        name = event_cls.DESCRIPTOR.name

        def found() -> list[tuple[Any, bytes]] | None:
            self._drain()
            hits = [(event, body) for key, event, body in self.seen if key == name and match(event)]
            return hits[:count] if len(hits) >= count else None

        hits: list[tuple[Any, bytes]] = wait_until(found, timeout=EVENT_TIMEOUT, what=what or f"{count} {name} on {EXCHANGE}")
        return hits

    def close(self) -> None:
        if self.connection.is_open:
            self.connection.close()


@contextmanager
def tap(suite: Any, *routing_keys: str) -> Iterator[Tap]:
    listening = Tap(suite.amqp_uri, routing_keys)
    try:
        yield listening
    finally:
        listening.close()


def test_a_consent_withdrawal_is_visible_to_the_very_next_check_and_announced(suite) -> None:
    account = create_account(suite, full_name="Trần Thị Mai", emails=[unique_email("mai")])
    check = account_svc.CheckConsentRequest(
        account_id=account.account_id, purpose=account_pb2.CONSENT_PURPOSE_MARKETING, channel=account_pb2.CONTACT_CHANNEL_SMS
    )
    with tap(suite, "ConsentChanged") as events:
        before = suite.account.CheckConsent(check, metadata=CAMPAIGNS)
        assert (before.allowed, before.decision) == (False, account_svc.CONSENT_DECISION_NOT_GIVEN)

        granted = suite.account.RecordConsent(
            account_svc.RecordConsentRequest(
                request_id=rid(),
                account_id=account.account_id,
                purpose=account_pb2.CONSENT_PURPOSE_MARKETING,
                channel=account_pb2.CONTACT_CHANNEL_SMS,
                status=account_pb2.CONSENT_STATUS_GRANTED,
                source="call_center",
                evidence_ref="rec-2025-0001",
            ),
            metadata=AGENT,
        )
        assert granted.in_force is True
        allowed = suite.account.CheckConsent(check, metadata=CAMPAIGNS)
        assert (allowed.allowed, allowed.decision) == (True, account_svc.CONSENT_DECISION_ALLOWED)
        assert allowed.consent.evidence_ref == "rec-2025-0001" and allowed.consent.recorded_by == "agent-7"

        withdrawn = suite.account.RecordConsent(
            account_svc.RecordConsentRequest(
                request_id=rid(),
                account_id=account.account_id,
                purpose=account_pb2.CONSENT_PURPOSE_MARKETING,
                channel=account_pb2.CONTACT_CHANNEL_SMS,
                status=account_pb2.CONSENT_STATUS_WITHDRAWN,
                source="call_center",
            ),
            metadata=AGENT,
        )
        assert withdrawn.in_force is True
        # No wait: the campaign's very next check already sees the withdrawal.
        after = suite.account.CheckConsent(check, metadata=CAMPAIGNS)
        assert (after.allowed, after.decision) == (False, account_svc.CONSENT_DECISION_WITHDRAWN)
        assert after.consent.status == account_pb2.CONSENT_STATUS_WITHDRAWN
        # The other channels were never granted: the withdrawal of SMS says nothing about them.
        email = account_svc.CheckConsentRequest(
            account_id=account.account_id, purpose=account_pb2.CONSENT_PURPOSE_MARKETING, channel=account_pb2.CONTACT_CHANNEL_EMAIL
        )
        assert suite.account.CheckConsent(email, metadata=CAMPAIGNS).decision == account_svc.CONSENT_DECISION_NOT_GIVEN

        (event, _body), *_ = events.wait_for(
            events_pb2.ConsentChanged,
            lambda e: e.consent.account_id == account.account_id and e.consent.status == account_pb2.CONSENT_STATUS_WITHDRAWN,
            what="ConsentChanged for the withdrawal",
        )
    assert event.consent.purpose == account_pb2.CONSENT_PURPOSE_MARKETING
    assert event.consent.channel == account_pb2.CONTACT_CHANNEL_SMS
    assert event.consent.source == "call_center"
    assert event.metadata.producer == "account" and event.metadata.actor == "agent-7"
    # The grant was announced too, and before the withdrawal.
    mine = [e.consent.status for key, e, _ in events.seen if key == "ConsentChanged" and e.consent.account_id == account.account_id]
    assert mine == [account_pb2.CONSENT_STATUS_GRANTED, account_pb2.CONSENT_STATUS_WITHDRAWN]


def test_pii_never_travels_in_the_clear_in_events(suite) -> None:
    national_id = cccd("79", 2001, female=True)
    phones = [unique_phone(), unique_phone()]
    e164 = ["+84" + p[1:] for p in phones]
    emails = [unique_email("lan.nguyen"), unique_email("lan.work")]
    with tap(suite, "AccountCreated") as events:
        account = create_account(
            suite,
            full_name="Nguyễn Thị Lan",
            national_id=national_id,
            date_of_birth=common_pb2.Date(year=2001, month=5, day=17),
            gender=account_pb2.GENDER_FEMALE,
            phones=phones,
            emails=emails,
        )
        ((event, body),) = events.wait_for(events_pb2.AccountCreated, lambda e: e.account.account_id == account.account_id)

    # Nothing of the plaintext in the bytes on the wire: not the id, not its hidden digits,
    # no phone in any form, no email.
    hidden_id_digits = national_id[:-4]
    forbidden = [national_id, hidden_id_digits, *phones, *e164, *(p[3:-3] for p in e164), *emails, *(m.split("@")[0] for m in emails)]
    leaked = [value for value in forbidden if value.encode() in body]
    assert leaked == [], f"plaintext PII in the AccountCreated bytes: {leaked}"
    sent = event.account
    assert sent.national_id == "*" * 8 + national_id[-4:]
    assert [p.e164 for p in sent.phones] == [p[:4] + "*****" + p[-3:] for p in e164]
    assert sent.phone.e164 == sent.phones[0].e164
    assert list(sent.emails) == [m[0] + "***@example.com" for m in emails]
    # The event carries what a caller without pii.read sees, nothing more.
    masked_view = get_account(suite, account.account_id, metadata=AGENT)
    assert (sent.national_id, list(sent.phones), list(sent.emails)) == (
        masked_view.national_id,
        list(masked_view.phones),
        list(masked_view.emails),
    )

    # A caller with pii.read gets it all in full, from the encrypted store.
    full = get_account(suite, account.account_id, metadata=RM)
    assert full.national_id == national_id and full.national_id_legacy is False
    assert [p.e164 for p in full.phones] == e164 and full.phone.e164 == e164[0]
    assert list(full.emails) == emails and full.email == emails[0]
    assert (full.gender, full.date_of_birth) == (account_pb2.GENDER_FEMALE, common_pb2.Date(year=2001, month=5, day=17))


def test_a_core_banking_snapshot_drives_holdings_totals_and_tier(suite) -> None:
    account = create_account(suite, full_name="Lê Hoàng Nam")
    assert account.derived_value_tier == account_pb2.VALUE_TIER_MASS
    suffix = uuid.uuid4().hex[:12].upper()
    deposit_ref, card_ref = f"TD-{suffix}", f"CC-{suffix}"
    deposit = account_svc.HoldingRecord(
        account_id=account.account_id,
        core_ref=deposit_ref,
        product_type=common_pb2.PRODUCT_TYPE_TERM_DEPOSIT,
        status=account_pb2.HOLDING_STATUS_OPEN,
        balance=vnd(1_200_000_000),
        open_date=common_pb2.Date(year=2024, month=3, day=1),
    )
    card = account_svc.HoldingRecord(
        account_id=account.account_id,
        core_ref=card_ref,
        product_type=common_pb2.PRODUCT_TYPE_CREDIT_CARD,
        status=account_pb2.HOLDING_STATUS_OPEN,
        balance=vnd(15_000_000),
        limit=vnd(100_000_000),
        open_date=common_pb2.Date(year=2024, month=6, day=10),
    )
    mine = lambda h: h.account_id == account.account_id  # noqa: E731
    with tap(suite, "HoldingOpened", "HoldingClosed", "AccountUpdated") as events:
        reply = suite.account.ImportHoldings(account_svc.ImportHoldingsRequest(request_id=rid(), rows=[deposit, card]), metadata=CORE_BANKING)
        assert [r.outcome for r in reply.results] == [account_svc.HOLDING_ROW_OUTCOME_OPENED] * 2
        assert (reply.applied, reply.rejected) == (2, 0)

        listed = suite.account.ListHoldings(account_svc.ListHoldingsRequest(account_id=account.account_id), metadata=RM)
        by_ref = {h.core_ref: h for h in listed.holdings}
        assert set(by_ref) == {deposit_ref, card_ref}
        assert by_ref[deposit_ref].balance.amount_minor == 1_200_000_000
        assert (by_ref[card_ref].balance.amount_minor, by_ref[card_ref].limit.amount_minor) == (15_000_000, 100_000_000)
        assert all(h.source == account_pb2.HOLDING_SOURCE_CORE_BANKING and h.status == account_pb2.HOLDING_STATUS_OPEN for h in listed.holdings)
        totals = listed.totals
        assert (totals.deposits.amount_minor, totals.loans.amount_minor, totals.aum.amount_minor, totals.open_holdings) == (
            1_200_000_000,
            15_000_000,
            1_200_000_000,
            2,
        )
        assert totals.aum.currency_code == "VND"

        shown = get_account(suite, account.account_id)
        assert shown.derived_value_tier == account_pb2.VALUE_TIER_AFFLUENT
        assert shown.value_tier == account_pb2.VALUE_TIER_AFFLUENT and shown.value_tier_overridden is False
        assert shown.totals == totals

        opened = events.wait_for(events_pb2.HoldingOpened, lambda e: mine(e.holding), count=2, what="two HoldingOpened")
        assert {e.holding.core_ref for e, _ in opened} == {deposit_ref, card_ref}
        ((updated, _),) = events.wait_for(
            events_pb2.AccountUpdated, lambda e: e.account.account_id == account.account_id, what="AccountUpdated for the derived tier"
        )
        assert list(updated.changed_fields) == ["derived_value_tier"]
        assert updated.account.derived_value_tier == account_pb2.VALUE_TIER_AFFLUENT

        # The next day's snapshot: the card is closed, the deposit as it was.
        card_closed = account_svc.HoldingRecord()
        card_closed.CopyFrom(card)
        card_closed.status = account_pb2.HOLDING_STATUS_CLOSED
        card_closed.balance.amount_minor = 0
        again = suite.account.ImportHoldings(account_svc.ImportHoldingsRequest(request_id=rid(), rows=[deposit, card_closed]), metadata=CORE_BANKING)
        assert [r.outcome for r in again.results] == [account_svc.HOLDING_ROW_OUTCOME_UNCHANGED, account_svc.HOLDING_ROW_OUTCOME_CLOSED]
        assert again.results[1].holding_id == by_ref[card_ref].holding_id
        ((closed, _),) = events.wait_for(events_pb2.HoldingClosed, lambda e: mine(e.holding), what="HoldingClosed for the card")
        assert closed.holding.core_ref == card_ref and closed.holding.status == account_pb2.HOLDING_STATUS_CLOSED
        assert closed.holding.HasField("close_date")

    after = suite.account.ListHoldings(account_svc.ListHoldingsRequest(account_id=account.account_id), metadata=RM)
    assert [(h.core_ref, h.status) for h in after.holdings] == [
        (deposit_ref, account_pb2.HOLDING_STATUS_OPEN),
        (card_ref, account_pb2.HOLDING_STATUS_CLOSED),
    ]
    assert (after.totals.loans.amount_minor, after.totals.aum.amount_minor, after.totals.open_holdings) == (0, 1_200_000_000, 1)
    assert get_account(suite, account.account_id).derived_value_tier == account_pb2.VALUE_TIER_AFFLUENT
    # The deposit was announced once only, the tier moved once only.
    assert sum(1 for key, e, _ in events.seen if key == "HoldingOpened" and mine(e.holding)) == 2
    assert sum(1 for key, e, _ in events.seen if key == "AccountUpdated" and e.account.account_id == account.account_id) == 1


def test_kyc_outcomes_from_the_onboarding_system(suite) -> None:
    account = create_account(suite, full_name="Phạm Quốc Bảo")
    assert account.kyc.status == account_pb2.KYC_STATUS_NOT_STARTED
    review_due = datetime.now(UTC).replace(microsecond=0) + timedelta(days=365)
    expire_time = Timestamp()
    expire_time.FromDatetime(review_due)
    with tap(suite, "KycStatusChanged") as events:
        verified = suite.account.RecordKycOutcome(
            account_svc.RecordKycOutcomeRequest(
                request_id=rid(),
                account_id=account.account_id,
                status=account_pb2.KYC_STATUS_VERIFIED,
                risk_rating=account_pb2.RISK_RATING_LOW,
                expire_time=expire_time,
                reference="EKYC-CASE-1001",
                source_system="ekyc",
            ),
            metadata=ONBOARDING,
        ).account
        assert verified.kyc.status == account_pb2.KYC_STATUS_VERIFIED
        kyc = get_account(suite, account.account_id).kyc
        assert (kyc.status, kyc.risk_rating, kyc.reference, kyc.source_system) == (
            account_pb2.KYC_STATUS_VERIFIED,
            account_pb2.RISK_RATING_LOW,
            "EKYC-CASE-1001",
            "ekyc",
        )
        assert kyc.expire_time == expire_time
        assert kyc.HasField("verify_time") and kyc.verify_time.ToDatetime(tzinfo=UTC) <= datetime.now(UTC)

        rejected = suite.account.RecordKycOutcome(
            account_svc.RecordKycOutcomeRequest(
                request_id=rid(),
                account_id=account.account_id,
                status=account_pb2.KYC_STATUS_REJECTED,
                reason="document photo does not match the face scan",
                reference="EKYC-CASE-1002",
                source_system="ekyc",
            ),
            metadata=ONBOARDING,
        ).account
        assert (rejected.kyc.status, rejected.kyc.reason) == (account_pb2.KYC_STATUS_REJECTED, "document photo does not match the face scan")
        assert rejected.kyc.risk_rating == account_pb2.RISK_RATING_LOW  # kept from the verification

        # The onboarding flow never expires a rejection.
        err = rpc_error(
            suite.account.RecordKycOutcome,
            account_svc.RecordKycOutcomeRequest(request_id=rid(), account_id=account.account_id, status=account_pb2.KYC_STATUS_EXPIRED),
            metadata=ONBOARDING,
        )
        assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert get_account(suite, account.account_id).kyc.status == account_pb2.KYC_STATUS_REJECTED

        changes = events.wait_for(
            events_pb2.KycStatusChanged, lambda e: e.account_id == account.account_id, count=2, what="KycStatusChanged for both outcomes"
        )
    assert [(e.previous_status, e.kyc.status) for e, _ in changes] == [
        (account_pb2.KYC_STATUS_NOT_STARTED, account_pb2.KYC_STATUS_VERIFIED),
        (account_pb2.KYC_STATUS_VERIFIED, account_pb2.KYC_STATUS_REJECTED),
    ]
    assert changes[0][0].kyc.risk_rating == account_pb2.RISK_RATING_LOW and changes[0][0].kyc.expire_time == expire_time
    assert changes[0][0].metadata.actor == "ekyc-onboarding"
    # The refused move announced nothing.
    assert all(e.kyc.status != account_pb2.KYC_STATUS_EXPIRED for key, e, _ in events.seen if key == "KycStatusChanged")


def test_bad_input_gets_precise_statuses_through_the_real_server(suite) -> None:
    err = rpc_error(
        suite.account.CreateAccount,
        account_svc.CreateAccountRequest(
            request_id=rid(),
            account=account_pb2.AccountInput(
                type=account_pb2.ACCOUNT_TYPE_PERSON,
                full_name="Võ Văn Tài",
                phones=[unique_phone()],
                address=account_pb2.Address(line="12 Lê Lợi", province_code="99"),
            ),
        ),
        metadata=RM,
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [field for field, _ in field_violations(err)] == ["account.address.province_code"]

    # On PostgreSQL a NUL used to be UntranslatableCharacter → INTERNAL, and a huge echoed value
    # RESOURCE_EXHAUSTED (issue 11).
    for address, field in [
        (account_pb2.Address(line="12 Lê\x00 Lợi", province_code="79"), "account.address.line"),
        (account_pb2.Address(line="12 Lê Lợi", province_code="9" * 10_000), "account.address.province_code"),
    ]:
        request = account_svc.CreateAccountRequest(
            request_id=rid(), account=account_pb2.AccountInput(full_name="Võ Văn Tài", phones=[unique_phone()], address=address)
        )
        err = rpc_error(suite.account.CreateAccount, request, metadata=RM)
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and [f for f, _ in field_violations(err)] == [field]

    account = create_account(suite, full_name="Võ Văn Tài")
    err = rpc_error(
        suite.account.CheckConsent,
        account_svc.CheckConsentRequest(account_id=account.account_id, purpose=account_pb2.CONSENT_PURPOSE_MARKETING),
        metadata=CAMPAIGNS,
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [field for field, _ in field_violations(err)] == ["channel"]

    err = rpc_error(suite.account.GetAccount, account_svc.GetAccountRequest(account_id=rid()), metadata=RM)
    assert err.code() == grpc.StatusCode.NOT_FOUND

    national_id = cccd("01", 1988, female=False)
    first = create_account(
        suite,
        full_name="Hoàng Văn Đức",
        national_id=national_id,
        gender=account_pb2.GENDER_MALE,
        date_of_birth=common_pb2.Date(year=1988, month=11, day=2),
    )
    err = rpc_error(
        suite.account.CreateAccount,
        account_svc.CreateAccountRequest(
            request_id=rid(), account=account_pb2.AccountInput(full_name="Hoàng Đức", national_id=national_id, phones=[unique_phone()])
        ),
        metadata=RM,
    )
    assert err.code() == grpc.StatusCode.ALREADY_EXISTS
    assert resource_info(err) == ("account", first.account_id)
