"""A request_id is the caller's own (issue 11), through run_idempotent: another subject replaying it
runs a new request; the same caller reusing it for another request is refused. Both backends."""

from __future__ import annotations

import grpc
import pytest

from crm.account.v1 import account_pb2, account_service_pb2
from crm.account.v1.account_service_pb2_grpc import AccountServiceStub
from crm_common.grpc.status import field_violations
from crm_common.testing import LiveService, bearer

RM_1 = bearer("rm-1", ["rm"])
RM_2 = bearer("rm-2", ["rm"])


def person(name: str, phone: str) -> account_pb2.AccountInput:
    return account_pb2.AccountInput(full_name=name, phones=[phone])


def create(stub: AccountServiceStub, key: str, account: account_pb2.AccountInput, metadata: list[tuple[str, str]]) -> account_pb2.Account:
    reply: account_service_pb2.CreateAccountResponse = stub.CreateAccount(
        account_service_pb2.CreateAccountRequest(request_id=key, account=account), metadata=metadata
    )
    return reply.account


def test_another_subject_replaying_a_key_creates_its_own_account(api: LiveService, stub: AccountServiceStub) -> None:
    first = create(stub, "create-1", person("Trần Thị Ngọc", "0987654321"), RM_1)
    other = create(stub, "create-1", person("Lê Văn Hùng", "0912000111"), RM_2)
    assert other.account_id != first.account_id and other.full_name == "Lê Văn Hùng"
    assert api.count("accounts") == 2 and api.outbox_types() == ["AccountCreated", "AccountCreated"]
    assert create(stub, "create-1", person("Trần Thị Ngọc", "0987654321"), RM_1).account_id == first.account_id


def test_another_subject_sending_the_same_request_gets_a_new_account_not_the_stored_one(api: LiveService, stub: AccountServiceStub) -> None:
    first = create(stub, "create-2", person("Trần Thị Ngọc", "0987654321"), RM_1)
    again = create(stub, "create-2", person("Trần Thị Ngọc", "0987654321"), RM_2)
    assert again.account_id != first.account_id and again.audit.created_by == "rm-2"  # not rm-1's record replayed
    assert api.count("accounts") == 2


def test_the_same_subject_reusing_a_key_for_another_request_is_refused(api: LiveService, stub: AccountServiceStub) -> None:
    create(stub, "create-3", person("Trần Thị Ngọc", "0987654321"), RM_1)
    with pytest.raises(grpc.RpcError) as err:
        create(stub, "create-3", person("Lê Văn Hùng", "0912000111"), RM_1)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert field_violations(err.value) == [("request_id", "already used for a different request")]
    assert api.count("accounts") == 1
