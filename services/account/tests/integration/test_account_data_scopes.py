"""Who reaches which customer: a matrix generated from the servicer's declarations (every RPC
declared Scope.RECORD × every reach × an account in scope, out of scope, and with the caller's
claim missing), through the real gRPC API on SQLite and PostgreSQL; and the issue's regression
cases (OWASP API1): another RM's customer."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from crm.account.v1 import account_pb2 as K
from crm.account.v1 import account_service_pb2 as R
from crm_account.entrypoints.grpc_api import PERMISSIONS
from crm_common.db import new_id
from crm_common.testing import ScopeCase, bearer, reached, scope_matrix, scoped_rpcs

ADMIN = bearer("admin-1", ["admin"])
# Accounts carry owner, branch and territory (no team).
CASES = scope_matrix(PERMISSIONS, {"branch", "territory"})


def new_customer(placement: dict[str, str]) -> R.CreateAccountRequest:
    phone = f"091{random.randint(1_000_000, 9_999_999)}"
    person = K.AccountInput(
        type=K.ACCOUNT_TYPE_PERSON,
        full_name="Trần Thị Ngọc",
        phones=[phone],
        owner_id=placement["owner"],
        branch_id=placement.get("branch", ""),
        territory_id=placement.get("territory", ""),
    )
    return R.CreateAccountRequest(request_id=new_id(), account=person)


class Customer:
    """Two person accounts placed where the case says (a relationship and a household need two)."""

    def __init__(self, stub: Any, placement: dict[str, str]) -> None:
        self.placement = placement
        first = new_customer(placement)
        self.phone = first.account.phones[0]
        self.id = stub.CreateAccount(first, metadata=ADMIN).account.account_id
        self.other_id = stub.CreateAccount(new_customer(placement), metadata=ADMIN).account.account_id

    def related(self, stub: Any) -> None:
        kind = K.RELATIONSHIP_KIND_SPOUSE
        stub.AddRelationship(R.AddRelationshipRequest(request_id=new_id(), account_id=self.id, related_id=self.other_id, kind=kind), metadata=ADMIN)

    def household(self, stub: Any, with_member: bool = False) -> str:
        members = [self.other_id] if with_member else []
        request = R.CreateHouseholdRequest(request_id=new_id(), name="Nhà Ngọc", head_account_id=self.id, member_account_ids=members)
        return str(stub.CreateHousehold(request, metadata=ADMIN).household.household_id)


def answered(call: Callable[[], Any]) -> bool:
    """True when the call reached the customer (any answer but NOT_FOUND)."""
    return reached(call, (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.INVALID_ARGUMENT))


def on(stub: Any, method: str, request: Any, who: Any) -> Callable[[], Any]:
    return lambda: getattr(stub, method)(request, metadata=who)


def created(stub: Any, customer: Customer, who: Any) -> bool:
    """CreateAccount in the customer's place: allowed within the caller's scope only."""
    try:
        stub.CreateAccount(new_customer(customer.placement), metadata=who)
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.PERMISSION_DENIED, exc
        return False
    return True


def resolved_in_full(stub: Any, customer: Customer, who: Any) -> bool:
    """ResolvePersonAccount matches the person bank-wide, but shows the account only in scope."""
    reply = stub.ResolvePersonAccount(
        R.ResolvePersonAccountRequest(request_id=new_id(), full_name="Trần Thị Ngọc", phone=customer.phone), metadata=who
    )
    assert reply.matched and reply.account.account_id == customer.id
    return bool(reply.account.full_name)


def removed_relationship(stub: Any, customer: Customer, who: Any) -> bool:
    customer.related(stub)
    request = R.RemoveRelationshipRequest(request_id=new_id(), account_id=customer.id, related_id=customer.other_id, kind=K.RELATIONSHIP_KIND_SPOUSE)
    return answered(on(stub, "RemoveRelationship", request, who))


SMS, MARKETING = K.CONTACT_CHANNEL_SMS, K.CONSENT_PURPOSE_MARKETING
# RPC → does the caller reach the customer? (one probe per RPC declared Scope.RECORD)
PROBES: dict[str, Callable[[Any, Customer, Any], bool]] = {
    "ResolvePersonAccount": resolved_in_full,
    "CreateAccount": created,
    "GetAccount": lambda s, c, w: answered(on(s, "GetAccount", R.GetAccountRequest(account_id=c.id), w)),
    "SearchAccounts": lambda s, c, w: c.id in {a.account_id for a in s.SearchAccounts(R.SearchAccountsRequest(phone=c.phone), metadata=w).accounts},
    "UpdateAccount": lambda s, c, w: answered(
        on(
            s,
            "UpdateAccount",
            R.UpdateAccountRequest(
                request_id=new_id(), account_id=c.id, account=K.AccountInput(occupation="Kỹ sư"), update_mask=FieldMask(paths=["occupation"])
            ),
            w,
        )
    ),
    "OverrideValueTier": lambda s, c, w: answered(
        on(
            s,
            "OverrideValueTier",
            R.OverrideValueTierRequest(request_id=new_id(), account_id=c.id, value_tier=K.VALUE_TIER_AFFLUENT, reason="xem xét"),
            w,
        )
    ),
    "ClearValueTierOverride": lambda s, c, w: answered(
        on(s, "ClearValueTierOverride", R.ClearValueTierOverrideRequest(request_id=new_id(), account_id=c.id, reason="xem xét"), w)
    ),
    "ListAccountChanges": lambda s, c, w: answered(on(s, "ListAccountChanges", R.ListAccountChangesRequest(account_id=c.id), w)),
    "RecordConsent": lambda s, c, w: answered(
        on(
            s,
            "RecordConsent",
            R.RecordConsentRequest(
                request_id=new_id(),
                account_id=c.id,
                purpose=MARKETING,
                channel=SMS,
                status=K.CONSENT_STATUS_GRANTED,
                source="call_center",
                evidence_ref="rec-1",
            ),
            w,
        )
    ),
    "ListConsents": lambda s, c, w: answered(on(s, "ListConsents", R.ListConsentsRequest(account_id=c.id), w)),
    "ListConsentHistory": lambda s, c, w: answered(on(s, "ListConsentHistory", R.ListConsentHistoryRequest(account_id=c.id), w)),
    "CheckConsent": lambda s, c, w: answered(on(s, "CheckConsent", R.CheckConsentRequest(account_id=c.id, purpose=MARKETING, channel=SMS), w)),
    "ListHoldings": lambda s, c, w: answered(on(s, "ListHoldings", R.ListHoldingsRequest(account_id=c.id), w)),
    "FindDuplicates": lambda s, c, w: answered(on(s, "FindDuplicates", R.FindDuplicatesRequest(account_id=c.id), w)),
    "AddRelationship": lambda s, c, w: answered(
        on(
            s,
            "AddRelationship",
            R.AddRelationshipRequest(request_id=new_id(), account_id=c.id, related_id=c.other_id, kind=K.RELATIONSHIP_KIND_SPOUSE),
            w,
        )
    ),
    "RemoveRelationship": removed_relationship,
    "ListRelationships": lambda s, c, w: answered(on(s, "ListRelationships", R.ListRelationshipsRequest(account_id=c.id), w)),
    "CreateHousehold": lambda s, c, w: answered(
        on(s, "CreateHousehold", R.CreateHouseholdRequest(request_id=new_id(), name="Nhà", head_account_id=c.id), w)
    ),
    "AddHouseholdMember": lambda s, c, w: answered(
        on(s, "AddHouseholdMember", R.AddHouseholdMemberRequest(request_id=new_id(), household_id=c.household(s), account_id=c.other_id), w)
    ),
    "RemoveHouseholdMember": lambda s, c, w: answered(
        on(
            s,
            "RemoveHouseholdMember",
            R.RemoveHouseholdMemberRequest(request_id=new_id(), household_id=c.household(s, True), account_id=c.other_id),
            w,
        )
    ),
    "GetHousehold": lambda s, c, w: answered(on(s, "GetHousehold", R.GetHouseholdRequest(household_id=c.household(s)), w)),
}


def test_every_rpc_declared_record_scoped_has_a_probe() -> None:
    assert set(PROBES) == set(scoped_rpcs(PERMISSIONS))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_matrix(api, stub, case: ScopeCase) -> None:
    customer = Customer(stub, case.placement)
    assert PROBES[case.rpc](stub, customer, case.caller(PERMISSIONS[case.rpc].permission)) is case.expect_reached


RM_A, RM_B = bearer("rm-a", ["rm"]), bearer("rm-b", ["rm"])


def test_rm_a_cannot_update_rm_b_s_customer(api, stub) -> None:
    """UpdateAccount (the occupation, as the issue found it) of rm-b's customer: NOT_FOUND and
    unchanged; rm-b moving its own customer to rm-a needs accounts.reassign."""
    customer = Customer(stub, {"owner": "rm-b"})
    mask = FieldMask(paths=["occupation"])
    with pytest.raises(grpc.RpcError) as err:
        stub.UpdateAccount(
            R.UpdateAccountRequest(request_id=new_id(), account_id=customer.id, account=K.AccountInput(occupation="Hacker"), update_mask=mask),
            metadata=RM_A,
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert stub.GetAccount(R.GetAccountRequest(account_id=customer.id), metadata=RM_B).account.occupation == ""
    assert stub.SearchAccounts(R.SearchAccountsRequest(phone=customer.phone), metadata=RM_A).accounts == []
    give = R.UpdateAccountRequest(
        request_id=new_id(), account_id=customer.id, account=K.AccountInput(owner_id="rm-a"), update_mask=FieldMask(paths=["owner_id"])
    )
    with pytest.raises(grpc.RpcError) as err:
        stub.UpdateAccount(give, metadata=RM_B)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED and "accounts.reassign" in err.value.details()
    # A branch manager moves the customer within its branch.
    branch = Customer(stub, {"owner": "rm-b", "branch": "BR-01"})
    manager = bearer("bm-1", ["branch_manager"], branches=["BR-01"])
    moved = R.UpdateAccountRequest(
        request_id=new_id(),
        account_id=branch.id,
        account=K.AccountInput(owner_id="rm-a", branch_id="BR-01"),
        update_mask=FieldMask(paths=["owner_id"]),
    )
    assert stub.UpdateAccount(moved, metadata=manager).account.owner_id == "rm-a"
