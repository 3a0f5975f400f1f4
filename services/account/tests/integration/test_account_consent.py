"""Consent per purpose and channel through the real gRPC API over SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from crm.account.v1 import account_pb2, account_service_pb2, events_pb2
from crm.account.v1.account_service_pb2_grpc import AccountServiceStub
from crm_common.db import new_id
from crm_common.grpc.status import field_violations, resource_info
from crm_common.testing import LiveService, bearer

RM = bearer("rm-1", ["rm"])
CALL_CENTRE = bearer("ts-1", ["telesales", "marketing"])  # consents.read and consents.write
CAMPAIGNS = bearer("campaign", ["service"])  # the campaign service checking before a send
MARKETING = bearer("mk-1", ["marketing"])  # consents.read only
NO_CONSENT = bearer("web-1", [], scope="accounts.read")

MARKETING_PURPOSE = account_pb2.CONSENT_PURPOSE_MARKETING
SMS, ZALO, EMAIL = account_pb2.CONTACT_CHANNEL_SMS, account_pb2.CONTACT_CHANNEL_ZALO, account_pb2.CONTACT_CHANNEL_EMAIL
GRANTED, WITHDRAWN = account_pb2.CONSENT_STATUS_GRANTED, account_pb2.CONSENT_STATUS_WITHDRAWN
# Contact-centre agents and managers here serve any customer: their tokens add marketing's
# bank-wide reach (no pii.read); who reaches which customer is tested in test_account_data_scopes.py.


def ts(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


@pytest.fixture
def account_id(api: LiveService, stub: AccountServiceStub) -> str:
    account = account_pb2.AccountInput(full_name="Võ Thị Hạnh", phones=["0912345678"])
    reply = stub.CreateAccount(account_service_pb2.CreateAccountRequest(request_id=new_id(), account=account), metadata=RM)
    return str(reply.account.account_id)


def record(
    stub: AccountServiceStub,
    account_id: str,
    status: int = GRANTED,
    purpose: int = MARKETING_PURPOSE,
    channel: int = SMS,
    metadata: list[tuple[str, str]] = CALL_CENTRE,
    request_id: str | None = None,
    **fields: Any,
) -> account_service_pb2.RecordConsentResponse:
    fields.setdefault("source", "call_center")
    if status == GRANTED:
        fields.setdefault("evidence_ref", "rec-2026-11-23-0001")
    request = account_service_pb2.RecordConsentRequest(
        request_id=request_id or new_id(), account_id=account_id, purpose=purpose, channel=channel, status=status, **fields
    )
    reply: account_service_pb2.RecordConsentResponse = stub.RecordConsent(request, metadata=metadata, timeout=10)
    return reply


def check(
    stub: AccountServiceStub, account_id: str, purpose: int = MARKETING_PURPOSE, channel: int = SMS
) -> account_service_pb2.CheckConsentResponse:
    request = account_service_pb2.CheckConsentRequest(account_id=account_id, purpose=purpose, channel=channel)  # type: ignore[arg-type]
    reply: account_service_pb2.CheckConsentResponse = stub.CheckConsent(request, metadata=CAMPAIGNS, timeout=10)
    return reply


def rpc_error(call: Callable[..., object], *args: Any, **kwargs: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(*args, **kwargs)
    return caught.value


class TestCheck:
    def test_never_asked_is_not_given(self, stub: AccountServiceStub, account_id: str) -> None:
        reply = check(stub, account_id)
        assert (reply.allowed, reply.decision, reply.HasField("consent")) == (False, account_service_pb2.CONSENT_DECISION_NOT_GIVEN, False)

    def test_a_grant_allows_its_channel_only(self, stub: AccountServiceStub, account_id: str) -> None:
        record(stub, account_id, channel=SMS)
        assert check(stub, account_id, channel=SMS).allowed
        assert check(stub, account_id, channel=ZALO).decision == account_service_pb2.CONSENT_DECISION_NOT_GIVEN

    def test_a_withdrawal_is_seen_by_the_next_check(self, api: LiveService, stub: AccountServiceStub, account_id: str) -> None:
        record(stub, account_id, channel=SMS)
        reply = record(stub, account_id, WITHDRAWN, channel=SMS, source="mobile_app")  # no evidence needed to withdraw
        assert reply.in_force and reply.consent.status == WITHDRAWN
        verdict = check(stub, account_id, channel=SMS)
        assert (verdict.allowed, verdict.decision, verdict.consent.source) == (False, account_service_pb2.CONSENT_DECISION_WITHDRAWN, "mobile_app")
        events = api.events(events_pb2.ConsentChanged)
        assert [(e.consent.status, e.consent.channel) for e in events] == [(GRANTED, SMS), (WITHDRAWN, SMS)]

    def test_a_lapsed_grant_is_expired(self, stub: AccountServiceStub, account_id: str) -> None:
        decided = datetime.now(UTC) - timedelta(days=400)
        record(stub, account_id, channel=EMAIL, decide_time=ts(decided), expire_time=ts(decided + timedelta(days=365)))
        assert check(stub, account_id, channel=EMAIL).decision == account_service_pb2.CONSENT_DECISION_EXPIRED

    def test_profiling_covers_every_channel(self, stub: AccountServiceStub, account_id: str) -> None:
        record(stub, account_id, purpose=account_pb2.CONSENT_PURPOSE_PROFILING, channel=0, source="branch_form")
        assert check(stub, account_id, purpose=account_pb2.CONSENT_PURPOSE_PROFILING, channel=0).allowed
        assert not check(stub, account_id, purpose=account_pb2.CONSENT_PURPOSE_PARTNER_SHARING, channel=0).allowed

    def test_unknown_account_is_not_found(self, stub: AccountServiceStub, api: LiveService) -> None:
        missing = new_id()
        error = rpc_error(check, stub, missing)
        assert error.code() == grpc.StatusCode.NOT_FOUND and resource_info(error) == ("account", missing)

    @pytest.mark.parametrize(
        ("purpose", "channel", "fields"),
        [
            (0, SMS, ["purpose"]),
            (MARKETING_PURPOSE, 0, ["channel"]),  # marketing is per channel
            (account_pb2.CONSENT_PURPOSE_PROFILING, SMS, ["channel"]),  # profiling is not
            (MARKETING_PURPOSE, 42, ["channel"]),  # a channel the contract does not know
        ],
    )
    def test_bad_scope_is_invalid(self, stub: AccountServiceStub, account_id: str, purpose: int, channel: int, fields: list[str]) -> None:
        error = rpc_error(check, stub, account_id, purpose, channel)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert [f for f, _ in field_violations(error)] == fields


class TestRecord:
    def test_a_late_older_decision_is_kept_but_not_in_force(self, api: LiveService, stub: AccountServiceStub, account_id: str) -> None:
        now = datetime.now(UTC)
        record(stub, account_id, WITHDRAWN, source="mobile_app", decide_time=ts(now - timedelta(hours=1)))
        # A paper form signed last week, keyed in today.
        late = record(stub, account_id, GRANTED, source="branch_form", decide_time=ts(now - timedelta(days=7)))
        assert not late.in_force
        assert check(stub, account_id).decision == account_service_pb2.CONSENT_DECISION_WITHDRAWN
        history = stub.ListConsentHistory(account_service_pb2.ListConsentHistoryRequest(account_id=account_id), metadata=RM).consents
        assert [(c.status, c.source) for c in history] == [(GRANTED, "branch_form"), (WITHDRAWN, "mobile_app")]
        assert len(api.events(events_pb2.ConsentChanged)) == 1  # only the decision in force is announced

    def test_repeat_returns_the_first_result(self, api: LiveService, stub: AccountServiceStub, account_id: str) -> None:
        first = record(stub, account_id, request_id="consent-1")
        assert record(stub, account_id, request_id="consent-1") == first
        assert api.count("consent_history") == 1 and api.outbox_types() == ["AccountCreated", "ConsentChanged"]

    def test_list_shows_what_is_in_force_and_the_timeline_names_the_scope(self, stub: AccountServiceStub, account_id: str) -> None:
        record(stub, account_id, channel=SMS)
        record(stub, account_id, channel=ZALO)
        record(stub, account_id, WITHDRAWN, channel=SMS)
        consents = stub.ListConsents(account_service_pb2.ListConsentsRequest(account_id=account_id), metadata=MARKETING).consents
        assert sorted((c.channel, c.status) for c in consents) == sorted([(SMS, WITHDRAWN), (ZALO, GRANTED)])
        changes = stub.ListAccountChanges(account_service_pb2.ListAccountChangesRequest(account_id=account_id), metadata=RM).changes
        assert [(c.kind, list(c.changed_fields), c.reason) for c in changes[:2]] == [
            ("CONSENT_CHANGED", ["consent.MARKETING.SMS"], "WITHDRAWN via call_center"),
            ("CONSENT_CHANGED", ["consent.MARKETING.ZALO"], "GRANTED via call_center"),
        ]

    @pytest.mark.parametrize(
        ("status", "fields", "violations"),
        [
            (0, {}, ["status"]),
            (GRANTED, {"evidence_ref": " "}, ["evidence_ref"]),
            (GRANTED, {"source": ""}, ["source"]),
            (GRANTED, {"decide_time": ts(datetime.now(UTC) + timedelta(days=1))}, ["decide_time"]),
            (GRANTED, {"expire_time": ts(datetime.now(UTC) - timedelta(days=1))}, ["expire_time"]),
            (WITHDRAWN, {"expire_time": ts(datetime.now(UTC) + timedelta(days=1))}, ["expire_time"]),
        ],
    )
    def test_bad_decision_is_invalid_and_records_nothing(
        self, api: LiveService, stub: AccountServiceStub, account_id: str, status: int, fields: dict[str, Any], violations: list[str]
    ) -> None:
        error = rpc_error(record, stub, account_id, status, **fields)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert [f for f, _ in field_violations(error)] == violations
        assert api.count("consent_history") == 0

    def test_unknown_account_is_not_found(self, api: LiveService, stub: AccountServiceStub) -> None:
        error = rpc_error(record, stub, new_id())
        assert error.code() == grpc.StatusCode.NOT_FOUND

    def test_needs_consents_write(self, stub: AccountServiceStub, account_id: str) -> None:
        error = rpc_error(record, stub, account_id, metadata=MARKETING)
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED

    def test_check_needs_consents_read(self, stub: AccountServiceStub, account_id: str) -> None:
        request = account_service_pb2.CheckConsentRequest(account_id=account_id, purpose=MARKETING_PURPOSE, channel=SMS)
        error = rpc_error(stub.CheckConsent, request, metadata=NO_CONSENT)
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
