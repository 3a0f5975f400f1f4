"""Relationships and households through the real gRPC API over SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest

from crm.account.v1 import account_pb2, account_service_pb2
from crm.account.v1.account_service_pb2_grpc import AccountServiceStub
from crm.common.v1 import common_pb2
from crm_common.db import new_id
from crm_common.testing import LiveService, bearer

RM = bearer("rm-1", ["rm"])
TELESALES = bearer("ts-1", ["telesales", "marketing"])  # accounts.read only
CORE_BANKING = bearer("core-banking", ["service"])
R = account_service_pb2
K = account_pb2
# Contact-centre agents and managers here serve any customer: their tokens add marketing's
# bank-wide reach (no pii.read); who reaches which customer is tested in test_account_data_scopes.py.


def person(stub: AccountServiceStub, name: str, phone: str) -> str:
    account = account_pb2.AccountInput(full_name=name, phones=[phone])
    return str(stub.CreateAccount(R.CreateAccountRequest(request_id=new_id(), account=account), metadata=RM).account.account_id)


def business(stub: AccountServiceStub, name: str, tax_code: str) -> str:
    account = account_pb2.AccountInput(type=K.ACCOUNT_TYPE_BUSINESS, full_name=name, business=account_pb2.BusinessProfile(tax_code=tax_code))
    return str(stub.CreateAccount(R.CreateAccountRequest(request_id=new_id(), account=account), metadata=RM).account.account_id)


def relate(stub: AccountServiceStub, a: str, b: str, kind: int, note: str = "", request_id: str | None = None) -> account_pb2.Relationship:
    request = R.AddRelationshipRequest(request_id=request_id or new_id(), account_id=a, related_id=b, kind=kind, note=note)  # type: ignore[arg-type]
    reply: R.AddRelationshipResponse = stub.AddRelationship(request, metadata=RM)
    return reply.relationship


def relationships(stub: AccountServiceStub, account_id: str) -> list[tuple[str, int]]:
    return [
        (r.related_id, r.kind) for r in stub.ListRelationships(R.ListRelationshipsRequest(account_id=account_id), metadata=TELESALES).relationships
    ]


def rpc_error(call: Callable[..., object], *args: Any, **kwargs: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(*args, **kwargs)
    return caught.value


@pytest.fixture
def family(api: LiveService, stub: AccountServiceStub) -> dict[str, str]:
    return {
        "father": person(stub, "Nguyễn Văn Hải", "0912000001"),
        "mother": person(stub, "Trần Thị Mai", "0912000002"),
        "son": person(stub, "Nguyễn Minh Quân", "0912000003"),
    }


class TestRelationships:
    def test_each_relationship_is_kept_both_ways_and_on_both_timelines(self, stub: AccountServiceStub, family: dict[str, str]) -> None:
        relate(stub, family["father"], family["son"], K.RELATIONSHIP_KIND_PARENT)
        relate(stub, family["father"], family["mother"], K.RELATIONSHIP_KIND_SPOUSE)
        assert sorted(relationships(stub, family["father"])) == sorted(
            [(family["son"], K.RELATIONSHIP_KIND_PARENT), (family["mother"], K.RELATIONSHIP_KIND_SPOUSE)]
        )
        assert relationships(stub, family["son"]) == [(family["father"], K.RELATIONSHIP_KIND_CHILD)]
        changes = stub.ListAccountChanges(R.ListAccountChangesRequest(account_id=family["son"]), metadata=RM).changes
        assert (changes[0].kind, list(changes[0].changed_fields), changes[0].reason) == (
            "RELATIONSHIP_ADDED",
            ["relationship.CHILD"],
            family["father"],
        )

    def test_owners_and_contacts_of_a_business(self, stub: AccountServiceStub, family: dict[str, str]) -> None:
        company = business(stub, "Công ty TNHH Hải Mai", "0312345678")
        relate(stub, family["father"], company, K.RELATIONSHIP_KIND_OWNER)
        relate(stub, company, family["mother"], K.RELATIONSHIP_KIND_HAS_CONTACT, note="kế toán trưởng")
        assert sorted(relationships(stub, company)) == sorted(
            [(family["father"], K.RELATIONSHIP_KIND_OWNED_BY), (family["mother"], K.RELATIONSHIP_KIND_HAS_CONTACT)]
        )
        error = rpc_error(relate, stub, company, family["son"], K.RELATIONSHIP_KIND_PARENT)
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "PERSON" in (error.details() or "")

    def test_refusals(self, stub: AccountServiceStub, family: dict[str, str]) -> None:
        relate(stub, family["father"], family["mother"], K.RELATIONSHIP_KIND_SPOUSE, request_id="rel-1")
        assert relate(stub, family["father"], family["mother"], K.RELATIONSHIP_KIND_SPOUSE, request_id="rel-1").kind == K.RELATIONSHIP_KIND_SPOUSE
        assert rpc_error(relate, stub, family["father"], family["mother"], K.RELATIONSHIP_KIND_SPOUSE).code() == grpc.StatusCode.ALREADY_EXISTS
        second = rpc_error(relate, stub, family["son"], family["mother"], K.RELATIONSHIP_KIND_SPOUSE)
        assert second.code() == grpc.StatusCode.FAILED_PRECONDITION and "already has a spouse" in (second.details() or "")
        assert rpc_error(relate, stub, family["son"], family["son"], K.RELATIONSHIP_KIND_PARENT).code() == grpc.StatusCode.FAILED_PRECONDITION
        assert rpc_error(relate, stub, family["son"], new_id(), K.RELATIONSHIP_KIND_CHILD).code() == grpc.StatusCode.NOT_FOUND
        assert rpc_error(relate, stub, family["son"], family["father"], 0).code() == grpc.StatusCode.INVALID_ARGUMENT

    def test_removing_removes_both_ways(self, stub: AccountServiceStub, family: dict[str, str]) -> None:
        relate(stub, family["mother"], family["son"], K.RELATIONSHIP_KIND_PARENT)
        remove = R.RemoveRelationshipRequest(
            request_id=new_id(), account_id=family["son"], related_id=family["mother"], kind=K.RELATIONSHIP_KIND_CHILD
        )
        stub.RemoveRelationship(remove, metadata=RM)
        assert relationships(stub, family["mother"]) == [] and relationships(stub, family["son"]) == []
        again = R.RemoveRelationshipRequest(
            request_id=new_id(), account_id=family["son"], related_id=family["mother"], kind=K.RELATIONSHIP_KIND_CHILD
        )
        assert rpc_error(stub.RemoveRelationship, again, metadata=RM).code() == grpc.StatusCode.NOT_FOUND


class TestHouseholds:
    def create(self, stub: AccountServiceStub, head: str, *members: str, name: str = "Gia đình anh Hải") -> account_pb2.Household:
        request = R.CreateHouseholdRequest(request_id=new_id(), name=name, head_account_id=head, member_account_ids=list(members))
        reply: R.CreateHouseholdResponse = stub.CreateHousehold(request, metadata=RM)
        return reply.household

    def test_a_household_sums_its_members_holdings(self, stub: AccountServiceStub, family: dict[str, str]) -> None:
        rows = [
            R.HoldingRecord(
                account_id=family[who],
                core_ref=f"TD-{who}",
                product_type=common_pb2.PRODUCT_TYPE_TERM_DEPOSIT,
                status=K.HOLDING_STATUS_OPEN,
                balance=common_pb2.Money(amount_minor=amount),
            )
            for who, amount in (("father", 700_000_000), ("mother", 500_000_000))
        ]
        stub.ImportHoldings(R.ImportHoldingsRequest(request_id=new_id(), rows=rows), metadata=CORE_BANKING)
        household = self.create(stub, family["father"], family["mother"], family["son"])
        head, *others = household.members  # the head first
        assert (head.role, head.full_name) == (K.HOUSEHOLD_ROLE_HEAD, "Nguyễn Văn Hải")
        assert sorted((m.role, m.full_name) for m in others) == [
            (K.HOUSEHOLD_ROLE_MEMBER, "Nguyễn Minh Quân"),
            (K.HOUSEHOLD_ROLE_MEMBER, "Trần Thị Mai"),
        ]
        assert (household.totals.deposits.amount_minor, household.totals.aum.amount_minor, household.totals.open_holdings) == (
            1_200_000_000,
            1_200_000_000,
            2,
        )
        account = stub.GetAccount(R.GetAccountRequest(account_id=family["son"]), metadata=RM).account
        assert account.household_id == household.household_id
        assert stub.GetHousehold(R.GetHouseholdRequest(household_id=household.household_id), metadata=TELESALES).household == household

    def test_a_person_belongs_to_one_household_and_businesses_to_none(self, stub: AccountServiceStub, family: dict[str, str]) -> None:
        self.create(stub, family["father"], family["mother"])
        error = rpc_error(self.create, stub, family["son"], family["mother"])
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "already belongs" in (error.details() or "")
        company = business(stub, "Công ty TNHH Hải Mai", "0312345678")
        assert rpc_error(self.create, stub, company).code() == grpc.StatusCode.FAILED_PRECONDITION
        assert rpc_error(self.create, stub, family["son"], name=" ").code() == grpc.StatusCode.INVALID_ARGUMENT

    def test_members_come_and_go_and_the_head_leaves_last(self, stub: AccountServiceStub, family: dict[str, str]) -> None:
        household = self.create(stub, family["mother"])
        grown = stub.AddHouseholdMember(
            R.AddHouseholdMemberRequest(request_id=new_id(), household_id=household.household_id, account_id=family["son"]), metadata=RM
        )
        assert len(grown.household.members) == 2

        def leave(account_id: str) -> R.RemoveHouseholdMemberResponse:
            request = R.RemoveHouseholdMemberRequest(request_id=new_id(), household_id=household.household_id, account_id=account_id)
            reply: R.RemoveHouseholdMemberResponse = stub.RemoveHouseholdMember(request, metadata=RM)
            return reply

        assert rpc_error(leave, family["mother"]).code() == grpc.StatusCode.FAILED_PRECONDITION
        assert [m.account_id for m in leave(family["son"]).household.members] == [family["mother"]]
        assert not leave(family["mother"]).HasField("household")  # the last one out ends it
        assert (
            rpc_error(stub.GetHousehold, R.GetHouseholdRequest(household_id=household.household_id), metadata=RM).code() == grpc.StatusCode.NOT_FOUND
        )

    def test_a_merge_moves_membership_and_relationships_to_the_survivor(self, stub: AccountServiceStub, family: dict[str, str]) -> None:
        household = self.create(stub, family["father"], family["son"])
        relate(stub, family["son"], family["mother"], K.RELATIONSHIP_KIND_CHILD)
        twin_record = person(stub, "Nguyễn Minh Quân", "0912000003")  # the son keyed again
        merge = R.MergeAccountsRequest(request_id=new_id(), survivor_id=twin_record, merged_id=family["son"], reason="same person")
        stub.MergeAccounts(merge, metadata=bearer("steward-1", ["data_steward"]))
        members = stub.GetHousehold(R.GetHouseholdRequest(household_id=household.household_id), metadata=RM).household.members
        assert [m.account_id for m in members] == [family["father"], twin_record]
        assert relationships(stub, family["mother"]) == [(twin_record, K.RELATIONSHIP_KIND_PARENT)]
