"""Duplicate detection, the stewards' queue and merges, through the real gRPC API over SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest

from crm.account.v1 import account_pb2, account_service_pb2, events_pb2
from crm.account.v1.account_service_pb2_grpc import AccountServiceStub
from crm.common.v1 import common_pb2
from crm_common.db import new_id
from crm_common.testing import LiveService, bearer

RM = bearer("rm-1", ["rm"])
STEWARD = bearer("steward-1", ["data_steward"])
CORE_BANKING = bearer("core-banking", ["service"])
CALL_CENTRE = bearer("ts-1", ["telesales", "marketing"])
R = account_service_pb2
BORN = common_pb2.Date(year=1988, month=3, day=9)
# Contact-centre agents and managers here serve any customer: their tokens add marketing's
# bank-wide reach (no pii.read); who reaches which customer is tested in test_account_data_scopes.py.


def person(**fields: Any) -> account_pb2.AccountInput:
    fields.setdefault("full_name", "Lê Thị Thu Hà")
    fields.setdefault("date_of_birth", BORN)
    fields.setdefault("gender", account_pb2.GENDER_FEMALE)
    return account_pb2.AccountInput(**fields)


def create(stub: AccountServiceStub, account: account_pb2.AccountInput) -> account_pb2.Account:
    reply: R.CreateAccountResponse = stub.CreateAccount(R.CreateAccountRequest(request_id=new_id(), account=account), metadata=RM)
    return reply.account


def merge(stub: AccountServiceStub, survivor_id: str, merged_id: str, metadata: list[tuple[str, str]] = STEWARD) -> R.MergeAccountsResponse:
    request = R.MergeAccountsRequest(request_id=new_id(), survivor_id=survivor_id, merged_id=merged_id, reason="same customer, branch check")
    reply: R.MergeAccountsResponse = stub.MergeAccounts(request, metadata=metadata)
    return reply


def queue(stub: AccountServiceStub) -> list[account_pb2.DuplicateCandidate]:
    return list(stub.ListDuplicateCandidates(R.ListDuplicateCandidatesRequest(), metadata=STEWARD).candidates)


def rpc_error(call: Callable[..., object], *args: Any, **kwargs: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(*args, **kwargs)
    return caught.value


@pytest.fixture
def pair(api: LiveService, stub: AccountServiceStub) -> tuple[account_pb2.Account, account_pb2.Account]:
    """One customer keyed twice: at a branch with her CCCD, later by the app without it."""
    branch = create(stub, person(national_id="001188012345", phones=["0912345678"], emails=["ha.le@example.vn"]))
    app = create(stub, person(full_name="Le Thi Thu Ha", phones=["0912 345 678", "0987000111"], emails=["thuha88@example.vn"]))
    return branch, app


class TestDetection:
    def test_creating_the_second_record_queues_a_likely_pair_with_masked_reasons(
        self, stub: AccountServiceStub, pair: tuple[account_pb2.Account, account_pb2.Account]
    ) -> None:
        [candidate] = queue(stub)
        assert {candidate.account_id, candidate.other_id} == {pair[0].account_id, pair[1].account_id}
        assert candidate.score >= 85 and candidate.status == account_pb2.DUPLICATE_STATUS_OPEN
        assert any("shares phone +849*****678" in reason for reason in candidate.reasons)
        assert not any("912345678" in reason for reason in candidate.reasons)

    def test_a_customer_not_yet_created_is_checked_before_creating(
        self, stub: AccountServiceStub, pair: tuple[account_pb2.Account, account_pb2.Account]
    ) -> None:
        reply = stub.FindDuplicates(R.FindDuplicatesRequest(account=person(phones=["0987000111"])), metadata=RM)
        assert [c.other_id for c in reply.candidates][:1] == [pair[1].account_id]
        unrelated = stub.FindDuplicates(R.FindDuplicatesRequest(account=person(full_name="Phan Văn Tú", phones=["0977123456"])), metadata=RM)
        assert list(unrelated.candidates) == []

    def test_a_household_sharing_a_phone_is_no_candidate(self, api: LiveService, stub: AccountServiceStub) -> None:
        create(stub, person(phones=["0912345678"]))
        son = create(
            stub,
            person(
                full_name="Trần Minh Quân",
                gender=account_pb2.GENDER_MALE,
                date_of_birth=common_pb2.Date(year=2012, month=1, day=2),
                phones=["0912345678"],
            ),
        )
        found = stub.FindDuplicates(R.FindDuplicatesRequest(account_id=son.account_id), metadata=RM).candidates
        assert list(found) == [] and queue(stub) == []  # a shared phone alone scores 45, below the floor of 50

    def test_dismissed_pairs_stay_dismissed(self, stub: AccountServiceStub, pair: tuple[account_pb2.Account, account_pb2.Account]) -> None:
        branch, app = pair
        request = R.DismissDuplicateCandidateRequest(request_id=new_id(), account_id=app.account_id, other_id=branch.account_id, reason="twins")
        reply = stub.DismissDuplicateCandidate(request, metadata=STEWARD)
        assert reply.candidate.status == account_pb2.DUPLICATE_STATUS_DISMISSED
        update = R.UpdateAccountRequest(request_id=new_id(), account_id=app.account_id, account=person(occupation="Giáo viên"))
        update.update_mask.paths.append("occupation")
        stub.UpdateAccount(update, metadata=RM)  # re-detection
        assert queue(stub) == []
        again = R.DismissDuplicateCandidateRequest(request_id=new_id(), account_id=app.account_id, other_id=branch.account_id, reason="twins")
        assert rpc_error(stub.DismissDuplicateCandidate, again, metadata=STEWARD).code() == grpc.StatusCode.FAILED_PRECONDITION


class TestMerge:
    def test_the_survivor_takes_everything_and_the_merged_id_resolves_to_it(
        self, api: LiveService, stub: AccountServiceStub, pair: tuple[account_pb2.Account, account_pb2.Account]
    ) -> None:
        branch, app = pair
        snapshot = R.ImportHoldingsRequest(
            request_id=new_id(),
            rows=[
                R.HoldingRecord(
                    account_id=app.account_id,
                    core_ref="TD-9",
                    product_type=common_pb2.PRODUCT_TYPE_TERM_DEPOSIT,
                    status=account_pb2.HOLDING_STATUS_OPEN,
                    balance=common_pb2.Money(amount_minor=2_000_000_000),
                )
            ],
        )
        stub.ImportHoldings(snapshot, metadata=CORE_BANKING)
        consent = R.RecordConsentRequest(
            request_id=new_id(),
            account_id=app.account_id,
            purpose=account_pb2.CONSENT_PURPOSE_MARKETING,
            channel=account_pb2.CONTACT_CHANNEL_ZALO,
            status=account_pb2.CONSENT_STATUS_GRANTED,
            source="mobile_app",
            evidence_ref="app-evt-1",
        )
        stub.RecordConsent(consent, metadata=CALL_CENTRE)

        reply = merge(stub, branch.account_id, app.account_id)
        survivor = reply.account
        assert survivor.account_id == branch.account_id and survivor.national_id == "001188012345"
        assert [p.e164 for p in survivor.phones] == ["+84912345678", "+84987000111"]
        assert list(survivor.emails) == ["ha.le@example.vn", "thuha88@example.vn"]
        assert survivor.full_name == "Lê Thị Thu Hà"  # the spelling with diacritics
        assert (survivor.totals.aum.amount_minor, survivor.derived_value_tier) == (2_000_000_000, account_pb2.VALUE_TIER_AFFLUENT)
        assert reply.field_sources["phones"] == f"{branch.account_id}+{app.account_id}"

        assert stub.GetAccount(R.GetAccountRequest(account_id=app.account_id), metadata=RM).account.account_id == branch.account_id
        check = R.CheckConsentRequest(
            account_id=app.account_id, purpose=account_pb2.CONSENT_PURPOSE_MARKETING, channel=account_pb2.CONTACT_CHANNEL_ZALO
        )
        assert stub.CheckConsent(check, metadata=CORE_BANKING).allowed  # old id, survivor's consent
        holdings = stub.ListHoldings(R.ListHoldingsRequest(account_id=branch.account_id), metadata=RM).holdings
        assert [h.core_ref for h in holdings] == ["TD-9"]
        found = stub.SearchAccounts(R.SearchAccountsRequest(email="thuha88@example.vn"), metadata=RM).accounts
        assert [a.account_id for a in found] == [branch.account_id]
        changes = stub.ListAccountChanges(R.ListAccountChangesRequest(account_id=branch.account_id), metadata=RM).changes
        merged_entry = next(c for c in changes if c.kind == "MERGED")
        assert "emails" in merged_entry.changed_fields and app.account_id in merged_entry.reason
        assert any(c.kind == "CONSENT_CHANGED" for c in changes)  # the merged account's timeline came along

        [event] = api.events(events_pb2.AccountsMerged)
        assert (event.survivor_id, event.merged_id, event.survivor.national_id) == (branch.account_id, app.account_id, "********2345")
        assert queue(stub) == []

    def test_refusals(self, stub: AccountServiceStub, pair: tuple[account_pb2.Account, account_pb2.Account]) -> None:
        branch, app = pair
        assert rpc_error(merge, stub, branch.account_id, branch.account_id).code() == grpc.StatusCode.FAILED_PRECONDITION
        other_person = create(stub, person(full_name="Lê Thị Thu Hà", national_id="079188054321", phones=["0911222333"]))
        error = rpc_error(merge, stub, branch.account_id, other_person.account_id)
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "two people" in (error.details() or "")
        assert rpc_error(merge, stub, branch.account_id, app.account_id, RM).code() == grpc.StatusCode.PERMISSION_DENIED
        merge(stub, branch.account_id, app.account_id)
        assert rpc_error(merge, stub, branch.account_id, app.account_id).code() == grpc.StatusCode.FAILED_PRECONDITION
        missing = new_id()
        assert rpc_error(merge, stub, branch.account_id, missing).code() == grpc.StatusCode.NOT_FOUND
