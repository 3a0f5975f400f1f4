"""KYC outcomes from the onboarding system and the periodic-review expiry, over SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from nameko.testing.services import worker_factory
from sqlalchemy import update

from crm.account.v1 import account_pb2, account_service_pb2, events_pb2
from crm.account.v1.account_service_pb2_grpc import AccountServiceStub
from crm_account.adapters.orm import accounts
from crm_account.entrypoints.worker import AccountWorker
from crm_account.service_layer.use_cases import AccountUseCases
from crm_common.auth import Principal, use_principal
from crm_common.db import new_id
from crm_common.errors import InvalidArgument
from crm_common.events.envelope import new_event
from crm_common.grpc.status import field_violations
from crm_common.testing import LiveService, bearer, delivery

RM = bearer("rm-1", ["rm"])
ONBOARDING = bearer("ekyc", ["service"])  # the onboarding system's service identity
K = account_pb2


def ts(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


@pytest.fixture
def account_id(api: LiveService, stub: AccountServiceStub) -> str:
    account = account_pb2.AccountInput(full_name="Hoàng Gia Bảo", phones=["0912345678"])
    reply = stub.CreateAccount(account_service_pb2.CreateAccountRequest(request_id=new_id(), account=account), metadata=RM)
    assert reply.account.kyc.status == K.KYC_STATUS_NOT_STARTED
    return str(reply.account.account_id)


def outcome(
    stub: AccountServiceStub, account_id: str, status: int, metadata: list[tuple[str, str]] = ONBOARDING, **fields: Any
) -> account_pb2.Account:
    request = account_service_pb2.RecordKycOutcomeRequest(request_id=new_id(), account_id=account_id, status=status, **fields)  # type: ignore[arg-type]
    reply: account_service_pb2.RecordKycOutcomeResponse = stub.RecordKycOutcome(request, metadata=metadata, timeout=10)
    return reply.account


def rpc_error(call: Callable[..., object], *args: Any, **kwargs: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(*args, **kwargs)
    return caught.value


def test_pending_then_verified_is_recorded_announced_and_on_the_timeline(api: LiveService, stub: AccountServiceStub, account_id: str) -> None:
    outcome(stub, account_id, K.KYC_STATUS_PENDING, reason="awaiting selfie check", reference="EKYC-1", source_system="ekyc")
    review = datetime.now(UTC) + timedelta(days=365)
    account = outcome(stub, account_id, K.KYC_STATUS_VERIFIED, risk_rating=K.RISK_RATING_LOW, expire_time=ts(review))
    kyc = account.kyc
    assert (kyc.status, kyc.risk_rating, kyc.reference, kyc.source_system) == (K.KYC_STATUS_VERIFIED, K.RISK_RATING_LOW, "EKYC-1", "ekyc")
    assert kyc.verify_time.seconds > 0 and kyc.expire_time.seconds == int(review.timestamp())
    events = api.events(events_pb2.KycStatusChanged)
    assert [(e.previous_status, e.kyc.status) for e in events] == [
        (K.KYC_STATUS_NOT_STARTED, K.KYC_STATUS_PENDING),
        (K.KYC_STATUS_PENDING, K.KYC_STATUS_VERIFIED),
    ]
    changes = stub.ListAccountChanges(account_service_pb2.ListAccountChangesRequest(account_id=account_id), metadata=RM).changes
    assert [c.reason for c in changes[:2]] == ["PENDING → VERIFIED", "NOT_STARTED → PENDING: awaiting selfie check"]


def test_a_move_the_onboarding_flow_never_makes_is_failed_precondition(stub: AccountServiceStub, account_id: str) -> None:
    outcome(stub, account_id, K.KYC_STATUS_REJECTED, reason="document forged")
    error = rpc_error(outcome, stub, account_id, K.KYC_STATUS_EXPIRED)
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error.details() == "KYC cannot go from REJECTED to EXPIRED"


@pytest.mark.parametrize(
    ("status", "fields", "violations"),
    [
        (0, {}, ["status"]),
        (K.KYC_STATUS_NOT_STARTED, {}, ["status"]),
        (K.KYC_STATUS_REJECTED, {}, ["reason"]),
        (K.KYC_STATUS_VERIFIED, {}, ["risk_rating"]),
        (K.KYC_STATUS_VERIFIED, {"risk_rating": K.RISK_RATING_LOW, "expire_time": ts(datetime.now(UTC) - timedelta(days=1))}, ["expire_time"]),
        (K.KYC_STATUS_PENDING, {"expire_time": ts(datetime.now(UTC) + timedelta(days=1))}, ["expire_time"]),
    ],
)
def test_bad_outcome_is_invalid(
    api: LiveService, stub: AccountServiceStub, account_id: str, status: int, fields: dict[str, Any], violations: list[str]
) -> None:
    error = rpc_error(outcome, stub, account_id, status, **fields)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in field_violations(error)] == violations
    assert api.outbox_types() == ["AccountCreated"]


def test_an_rm_may_not_record_kyc(stub: AccountServiceStub, account_id: str) -> None:
    error = rpc_error(outcome, stub, account_id, K.KYC_STATUS_PENDING, metadata=RM)
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


def test_the_sweep_expires_verifications_whose_review_is_due(
    api: LiveService, stub: AccountServiceStub, use_cases: AccountUseCases, account_id: str
) -> None:
    outcome(stub, account_id, K.KYC_STATUS_VERIFIED, risk_rating=K.RISK_RATING_MEDIUM, expire_time=ts(datetime.now(UTC) + timedelta(days=1)))
    assert use_cases.kyc.expire_kyc_reviews() == 0
    with api.engine.begin() as conn:  # a year later
        conn.execute(update(accounts).values(kyc_expires_at=datetime.now(UTC) - timedelta(minutes=1)))
    assert use_cases.kyc.expire_kyc_reviews() == 1
    account = stub.GetAccount(account_service_pb2.GetAccountRequest(account_id=account_id), metadata=RM).account
    assert (account.kyc.status, account.kyc.risk_rating, account.kyc.reason) == (K.KYC_STATUS_EXPIRED, K.RISK_RATING_MEDIUM, "periodic review due")
    assert use_cases.kyc.expire_kyc_reviews() == 0
    assert api.events(events_pb2.KycStatusChanged)[-1].previous_status == K.KYC_STATUS_VERIFIED


def reported(account_id: str, status: int, **fields: Any) -> Any:
    event = new_event(events_pb2.KycOutcomeReported, "onboarding", "case-9", datetime.now(UTC), account_id=account_id, status=status, **fields)
    return delivery(event, "account.on_kyc_outcome_reported")


def test_the_onboarding_system_may_report_by_event_once(
    api: LiveService, stub: AccountServiceStub, use_cases: AccountUseCases, account_id: str
) -> None:
    worker: AccountWorker = worker_factory(AccountWorker, use_cases=use_cases)
    message = reported(account_id, K.KYC_STATUS_VERIFIED, risk_rating=K.RISK_RATING_MEDIUM, source_system="ekyc", reference="EKYC-77")
    with use_principal(Principal("service:onboarding", ("service",))):
        assert worker.on_kyc_outcome_reported(message) == "VERIFIED"
        assert worker.on_kyc_outcome_reported(message) == "duplicate"
    kyc = stub.GetAccount(account_service_pb2.GetAccountRequest(account_id=account_id), metadata=RM).account.kyc
    assert (kyc.status, kyc.risk_rating, kyc.reference) == (K.KYC_STATUS_VERIFIED, K.RISK_RATING_MEDIUM, "EKYC-77")
    assert len(api.events(events_pb2.KycStatusChanged)) == 1


def test_a_bad_reported_outcome_raises_so_it_is_dead_lettered(api: LiveService, use_cases: AccountUseCases, account_id: str) -> None:
    worker: AccountWorker = worker_factory(AccountWorker, use_cases=use_cases)
    with use_principal(Principal("service:onboarding", ("service",))), pytest.raises(InvalidArgument):
        worker.on_kyc_outcome_reported(reported(account_id, K.KYC_STATUS_REJECTED))  # no reason
    assert api.count("inbox") == 0
