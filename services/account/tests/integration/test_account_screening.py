"""Watchlist screening and the compliance review, through the real gRPC API over SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest

from crm.account.v1 import account_pb2, account_service_pb2, events_pb2
from crm.account.v1.account_service_pb2_grpc import AccountServiceStub
from crm.common.v1 import common_pb2
from crm_account.adapters.orm import metadata
from crm_account.service import SERVICE
from crm_common.db import new_id
from crm_common.grpc.status import field_violations
from crm_common.testing import BACKENDS, LiveService, bearer, live_service

RM = bearer("rm-1", ["rm"])
COMPLIANCE = bearer("aml-1", ["compliance"])
R = account_service_pb2
WATCHLIST = """entry_id,kind,name,aliases,date_of_birth,nationality,source,reason
UN-001,SANCTIONS,PHAM VAN KHANH,Khanh Pham Van|K. V. Pham,1972-04-15,VN,UN,sanctions committee listing
PEP-007,PEP,Le Thi Hong Nhung,,1965,VN,SBV,deputy minister
"""


@pytest.fixture(scope="module", params=BACKENDS)
def screened(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    """The account API with a watchlist configured."""
    directory = tmp_path_factory.mktemp("screening")
    listing = directory / "watchlist.csv"
    listing.write_text(WATCHLIST, encoding="utf-8")
    with live_service(
        request.param,
        directory,
        SERVICE,
        metadata=metadata,
        prefix="account_screening",
        account_watchlist_file=str(listing),
    ) as service:
        yield service


@pytest.fixture
def stub(screened: LiveService) -> AccountServiceStub:
    screened.reset()
    return AccountServiceStub(screened.channel)


def create(stub: AccountServiceStub, name: str, born: tuple[int, int, int], phone: str) -> account_pb2.Account:
    account = account_pb2.AccountInput(full_name=name, date_of_birth=common_pb2.Date(year=born[0], month=born[1], day=born[2]), phones=[phone])
    reply: R.CreateAccountResponse = stub.CreateAccount(R.CreateAccountRequest(request_id=new_id(), account=account), metadata=RM)
    return reply.account


def pending(stub: AccountServiceStub) -> list[account_pb2.ScreeningHit]:
    return list(stub.ListScreeningHits(R.ListScreeningHitsRequest(), metadata=COMPLIANCE).hits)


def review(
    stub: AccountServiceStub, hit_id: str, verdict: int, note: str = "checked passport copy", metadata: Any = COMPLIANCE
) -> R.ReviewScreeningHitResponse:
    request = R.ReviewScreeningHitRequest(request_id=new_id(), hit_id=hit_id, review=verdict, note=note)  # type: ignore[arg-type]
    reply: R.ReviewScreeningHitResponse = stub.ReviewScreeningHit(request, metadata=metadata)
    return reply


def rpc_error(call: Callable[..., object], *args: Any, **kwargs: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(*args, **kwargs)
    return caught.value


def test_a_new_customer_on_the_sanctions_list_is_held_then_rejected(screened: LiveService, stub: AccountServiceStub) -> None:
    account = create(stub, "Phạm Văn Khánh", (1972, 4, 15), "0912345678")
    assert account.kyc.status == account_pb2.KYC_STATUS_NOT_STARTED  # held, not decided by a machine
    [hit] = pending(stub)
    assert (hit.account_id, hit.entry_id, hit.list_kind, hit.list_source) == (
        account.account_id,
        "UN-001",
        account_pb2.WATCHLIST_KIND_SANCTIONS,
        "UN",
    )
    assert hit.score == 100.0 and hit.review == account_pb2.SCREENING_REVIEW_PENDING and len(hit.list_version) == 64
    assert any("date of birth matches" in reason for reason in hit.reasons)

    reply = review(stub, hit.hit_id, account_pb2.SCREENING_REVIEW_CONFIRMED_MATCH)
    assert reply.hit.review == account_pb2.SCREENING_REVIEW_CONFIRMED_MATCH and reply.hit.reviewed_by == "aml-1"
    kyc = reply.account.kyc
    assert (kyc.status, kyc.risk_rating) == (account_pb2.KYC_STATUS_REJECTED, account_pb2.RISK_RATING_HIGH)
    assert "UN-001" in kyc.reason
    [event] = screened.events(events_pb2.KycStatusChanged)
    assert (event.previous_status, event.kyc.status) == (account_pb2.KYC_STATUS_NOT_STARTED, account_pb2.KYC_STATUS_REJECTED)
    assert pending(stub) == []
    again = rpc_error(review, stub, hit.hit_id, account_pb2.SCREENING_REVIEW_FALSE_POSITIVE)
    assert again.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_a_confirmed_pep_raises_the_risk_only(stub: AccountServiceStub) -> None:
    create(stub, "Lê Thị Hồng Nhung", (1965, 8, 2), "0912000001")
    [hit] = pending(stub)
    account = review(stub, hit.hit_id, account_pb2.SCREENING_REVIEW_CONFIRMED_MATCH).account
    assert (account.kyc.status, account.kyc.risk_rating) == (account_pb2.KYC_STATUS_NOT_STARTED, account_pb2.RISK_RATING_HIGH)


def test_a_false_positive_stays_closed_when_screened_again(stub: AccountServiceStub) -> None:
    account = create(stub, "Phạm Văn Khánh", (1990, 1, 1), "0912000002")  # namesake born 18 years later
    [hit] = pending(stub)
    assert hit.score == 85.0 and any("year of birth differs" in reason for reason in hit.reasons)
    review(stub, hit.hit_id, account_pb2.SCREENING_REVIEW_FALSE_POSITIVE, note="different person: birth certificate")
    rescreen = stub.ScreenAccount(R.ScreenAccountRequest(account_id=account.account_id), metadata=COMPLIANCE)
    assert [h.review for h in rescreen.hits] == [account_pb2.SCREENING_REVIEW_FALSE_POSITIVE]
    assert pending(stub) == []
    assert stub.GetAccount(R.GetAccountRequest(account_id=account.account_id), metadata=RM).account.kyc.status == account_pb2.KYC_STATUS_NOT_STARTED


def test_a_renamed_customer_is_screened_again(stub: AccountServiceStub) -> None:
    account = create(stub, "Trần Quốc Bảo", (1972, 4, 15), "0912000003")
    assert pending(stub) == []
    update = R.UpdateAccountRequest(request_id=new_id(), account_id=account.account_id, account=account_pb2.AccountInput(full_name="Phạm Văn Khánh"))
    update.update_mask.paths.append("full_name")
    stub.UpdateAccount(update, metadata=RM)
    assert [h.entry_id for h in pending(stub)] == ["UN-001"]


def test_bad_reviews(stub: AccountServiceStub) -> None:
    create(stub, "Phạm Văn Khánh", (1972, 4, 15), "0912000004")
    [hit] = pending(stub)
    error = rpc_error(review, stub, hit.hit_id, account_pb2.SCREENING_REVIEW_PENDING, note="")
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert sorted(f for f, _ in field_violations(error)) == ["note", "review"]
    assert rpc_error(review, stub, hit.hit_id, account_pb2.SCREENING_REVIEW_CONFIRMED_MATCH, metadata=RM).code() == grpc.StatusCode.PERMISSION_DENIED
    assert rpc_error(review, stub, new_id(), account_pb2.SCREENING_REVIEW_FALSE_POSITIVE).code() == grpc.StatusCode.NOT_FOUND


def test_without_a_watchlist_screening_is_refused(api: LiveService) -> None:
    plain = AccountServiceStub(api.channel)
    account = account_pb2.AccountInput(full_name="Phạm Văn Khánh", phones=["0912000005"])
    created = plain.CreateAccount(R.CreateAccountRequest(request_id=new_id(), account=account), metadata=RM).account
    error = rpc_error(plain.ScreenAccount, R.ScreenAccountRequest(account_id=created.account_id), metadata=COMPLIANCE)
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "ACCOUNT_WATCHLIST_FILE" in (error.details() or "")
    assert api.count("screening_hits") == 0
