"""The account gRPC API end to end: a real server on loopback over SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import pytest

from crm.account.v1 import account_pb2, account_service_pb2, events_pb2
from crm.account.v1.account_service_pb2_grpc import AccountServiceStub
from crm.common.v1 import common_pb2
from crm_account.adapters.repository import AccountRepository, PiiCodec
from crm_account.domain.model import ContactKeys
from crm_account.domain.profile import NEEDS_A_KEY
from crm_common.auth import DataScope
from crm_common.db import new_id
from crm_common.grpc.status import field_violations, resource_info
from crm_common.pagination import Page
from crm_common.pii import load_pii
from crm_common.testing import LiveService, bearer

RM = bearer("rm-1", ["rm"])  # accounts.read/write and pii.read
TELESALES = bearer("ts-1", ["telesales", "marketing"])  # accounts.read only, no PII
MARKETING = bearer("mk-1", ["marketing"])  # no account permission
WRITER_WITHOUT_PII = bearer("web-1", [], scope="accounts.write accounts.read")

NAME = "Nguyễn Văn An"
# Contact-centre agents and managers here serve any customer: their tokens add marketing's
# bank-wide reach (no pii.read); who reaches which customer is tested in test_account_data_scopes.py.


def resolve(
    stub: AccountServiceStub, request_id: str | None = None, metadata: list[tuple[str, str]] = RM, **fields: Any
) -> account_service_pb2.ResolvePersonAccountResponse:
    fields.setdefault("full_name", NAME)
    request = account_service_pb2.ResolvePersonAccountRequest(request_id=request_id or new_id(), **fields)
    reply: account_service_pb2.ResolvePersonAccountResponse = stub.ResolvePersonAccount(request, metadata=metadata, timeout=10)
    return reply


def rpc_error(call: Callable[..., object], *args: Any, **kwargs: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(*args, **kwargs)
    return caught.value


class TestResolve:
    def test_creates_a_prospect_with_normalised_contact_points(self, api: LiveService, stub: AccountServiceStub) -> None:
        reply = resolve(
            stub,
            full_name=unicodedata.normalize("NFD", " Nguyễn  Văn An "),
            phone="0912 345 678",
            email="An.Nguyen@Example.com",
            national_id="001099012345",
            owner_id="rm-1",
            source_lead_id="lead-1",
        )
        account = reply.account
        assert (reply.matched, reply.matched_on) == (False, account_service_pb2.MATCH_FIELD_UNSPECIFIED)
        assert account.full_name == unicodedata.normalize("NFC", NAME)
        assert (account.phone.e164, account.email, account.national_id) == ("+84912345678", "an.nguyen@example.com", "001099012345")
        assert account.type == account_pb2.ACCOUNT_TYPE_PERSON
        assert account.lifecycle_stage == account_pb2.LIFECYCLE_STAGE_PROSPECT
        assert (account.owner_id, account.audit.created_by, account.audit.updated_by) == ("rm-1", "rm-1", "rm-1")
        assert account.audit.create_time.seconds > 0 and not account.HasField("acquisition")

        [event] = api.events(events_pb2.AccountCreated)
        masked = stub.GetAccount(account_service_pb2.GetAccountRequest(account_id=account.account_id), metadata=TELESALES).account
        masked.full_name = "N*** V*** A***"  # events withhold the name too (telesales see it, to greet the customer)
        assert event.account == masked
        assert (event.account.phone.e164, event.account.national_id) == ("+849*****678", "********2345")  # no PII copy in queues
        assert (event.metadata.producer, event.metadata.actor) == ("account", "rm-1")
        assert api.count("accounts") == 1

    def test_repeat_returns_the_first_result_without_a_second_account_or_event(self, api: LiveService, stub: AccountServiceStub) -> None:
        first = resolve(stub, "req-1", phone="0912345678")
        again = resolve(stub, "req-1", phone="0912345678")
        assert again == first
        assert api.count("accounts") == 1
        assert api.outbox_types() == ["AccountCreated"]

    def test_repeat_of_a_match_still_answers_matched(self, api: LiveService, stub: AccountServiceStub) -> None:
        resolve(stub, phone="0912345678")
        first = resolve(stub, "req-2", phone="+84912345678")
        again = resolve(stub, "req-2", phone="+84912345678")
        assert (again.matched, again.matched_on) == (True, account_service_pb2.MATCH_FIELD_PHONE)
        assert again.account.account_id == first.account.account_id

    def test_request_id_reused_for_another_request_is_refused(self, api: LiveService, stub: AccountServiceStub) -> None:
        resolve(stub, "req-1", phone="0912345678")
        error = rpc_error(resolve, stub, "req-1", phone="0987654321")
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field_violations(error) == [("request_id", "already used for a different request")]
        assert api.count("accounts") == 1

    def test_matches_by_national_id_then_phone_then_email(self, api: LiveService, stub: AccountServiceStub) -> None:
        by_id = resolve(stub, national_id="001099012345", phone="0912000001").account
        by_phone_and_email = resolve(stub, phone="0912000002", email="binh@example.com").account

        reply = resolve(stub, national_id="001 099 012 345", phone="0912000002", email="binh@example.com")
        assert (reply.matched, reply.matched_on, reply.account.account_id) == (True, account_service_pb2.MATCH_FIELD_NATIONAL_ID, by_id.account_id)

        reply = resolve(stub, phone="+84 912 000 002", email="binh@example.com")
        assert (reply.matched_on, reply.account.account_id) == (account_service_pb2.MATCH_FIELD_PHONE, by_phone_and_email.account_id)

        reply = resolve(stub, email="BINH@example.com")
        assert (reply.matched_on, reply.account.account_id) == (account_service_pb2.MATCH_FIELD_EMAIL, by_phone_and_email.account_id)

        assert api.count("accounts") == 2
        assert api.outbox_types() == ["AccountCreated", "AccountCreated"]

    def test_masks_pii_for_a_caller_without_pii_read(self, api: LiveService, stub: AccountServiceStub) -> None:
        reply = resolve(stub, metadata=WRITER_WITHOUT_PII, phone="0912345678", email="an@example.com", national_id="001099012345")
        assert (reply.account.phone.e164, reply.account.email, reply.account.national_id) == ("+849*****678", "a***@example.com", "********2345")
        [event] = api.events(events_pb2.AccountCreated)
        assert event.account.phone.e164 == "+849*****678"  # events carry no PII copy either

    def test_every_violation_is_reported_at_once(self, api: LiveService, stub: AccountServiceStub) -> None:
        error = rpc_error(stub.ResolvePersonAccount, account_service_pb2.ResolvePersonAccountRequest(), metadata=RM)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field_violations(error) == [
            ("request_id", "required: a unique key per intended change (idempotency)"),
            ("full_name", "required"),
            ("phone", NEEDS_A_KEY),
            ("email", NEEDS_A_KEY),
            ("national_id", NEEDS_A_KEY),
        ]

    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"phone": "12345"}, "phone"),
            ({"email": "an@"}, "email"),
            ({"national_id": "12345"}, "national_id"),
            ({"national_id": "00109901234X"}, "national_id"),
            ({"phone": "0912345678", "owner_id": "x" * 101}, "owner_id"),
            ({"phone": "0912345678", "source_lead_id": "x" * 101}, "source_lead_id"),
            ({"phone": "0912345678", "full_name": "   "}, "full_name"),
        ],
    )
    def test_bad_input_names_its_field(self, api: LiveService, stub: AccountServiceStub, fields: dict[str, Any], field: str) -> None:
        error = rpc_error(resolve, stub, **fields)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert [f for f, _ in field_violations(error)] == [field]
        assert api.count("accounts") == 0 and api.outbox_types() == []

    def test_request_id_too_long(self, api: LiveService, stub: AccountServiceStub) -> None:
        error = rpc_error(resolve, stub, "r" * 101, phone="0912345678")
        assert field_violations(error) == [("request_id", "at most 100 characters")]

    def test_concurrent_resolves_of_one_person_create_one_account(self, api: LiveService, stub: AccountServiceStub) -> None:
        start = threading.Barrier(8)

        def one(i: int) -> account_service_pb2.ResolvePersonAccountResponse:
            start.wait()
            return resolve(stub, f"concurrent-{i}", phone="0912 345 678" if i % 2 else "+84912345678")

        with ThreadPoolExecutor(8) as pool:
            replies = list(pool.map(one, range(8)))
        assert len({r.account.account_id for r in replies}) == 1
        assert sorted(r.matched for r in replies) == [False] + [True] * 7
        assert api.count("accounts") == 1
        assert api.outbox_types() == ["AccountCreated"]

    def test_concurrent_repeats_of_one_request_answer_alike(self, api: LiveService, stub: AccountServiceStub) -> None:
        start = threading.Barrier(8)

        def one(_: int) -> account_service_pb2.ResolvePersonAccountResponse:
            start.wait()
            return resolve(stub, "same-request", email="an@example.com")

        with ThreadPoolExecutor(8) as pool:
            replies = list(pool.map(one, range(8)))
        assert all(r == replies[0] for r in replies)
        assert api.count("accounts") == 1 and api.count("idempotency_keys") == 1
        assert api.outbox_types() == ["AccountCreated"]


class TestGet:
    def test_returns_the_account_unmasked_with_pii_read(self, api: LiveService, stub: AccountServiceStub) -> None:
        created = resolve(stub, phone="0912345678", national_id="001099012345").account
        reply = stub.GetAccount(account_service_pb2.GetAccountRequest(account_id=created.account_id), metadata=RM)
        assert reply.account == created

    def test_masks_pii_without_pii_read(self, api: LiveService, stub: AccountServiceStub) -> None:
        created = resolve(stub, phone="0912345678", national_id="001099012345").account
        reply = stub.GetAccount(account_service_pb2.GetAccountRequest(account_id=created.account_id), metadata=TELESALES)
        assert (reply.account.phone.e164, reply.account.national_id) == ("+849*****678", "********2345")
        assert reply.account.full_name == NAME

    def test_unknown_id_is_not_found_with_resource_info(self, api: LiveService, stub: AccountServiceStub) -> None:
        missing = new_id()
        error = rpc_error(stub.GetAccount, account_service_pb2.GetAccountRequest(account_id=missing), metadata=RM)
        assert error.code() == grpc.StatusCode.NOT_FOUND
        assert resource_info(error) == ("account", missing)

    @pytest.mark.parametrize(("account_id", "description"), [("", "required"), ("not-an-id", "not a valid account id")])
    def test_malformed_id_is_invalid(self, api: LiveService, stub: AccountServiceStub, account_id: str, description: str) -> None:
        error = rpc_error(stub.GetAccount, account_service_pb2.GetAccountRequest(account_id=account_id), metadata=RM)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field_violations(error) == [("account_id", description)]


class TestSearch:
    def search(self, stub: AccountServiceStub, metadata: list[tuple[str, str]] = RM, **fields: Any) -> account_service_pb2.SearchAccountsResponse:
        reply: account_service_pb2.SearchAccountsResponse = stub.SearchAccounts(
            account_service_pb2.SearchAccountsRequest(**fields), metadata=metadata
        )
        return reply

    def test_finds_by_each_key_normalised_like_the_store(self, api: LiveService, stub: AccountServiceStub) -> None:
        created = resolve(stub, phone="0912345678", email="an@example.com", national_id="001099012345").account
        resolve(stub, phone="0987654321")
        queries: list[dict[str, Any]] = [{"phone": "+84 912-345-678"}, {"email": "AN@example.com"}, {"national_id": "001.099.012.345"}]
        for query in queries:
            reply = self.search(stub, **query)
            assert [a.account_id for a in reply.accounts] == [created.account_id], query
            assert reply.page.next_page_token == ""

    def test_all_given_keys_must_match(self, api: LiveService, stub: AccountServiceStub) -> None:
        resolve(stub, phone="0912345678", email="an@example.com")
        assert list(self.search(stub, phone="0912345678", email="other@example.com").accounts) == []

    def test_masks_pii_without_pii_read(self, api: LiveService, stub: AccountServiceStub) -> None:
        resolve(stub, phone="0912345678")
        [account] = self.search(stub, metadata=TELESALES, phone="0912345678").accounts
        assert account.phone.e164 == "+849*****678"

    def test_needs_a_key(self, api: LiveService, stub: AccountServiceStub) -> None:
        error = rpc_error(self.search, stub)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        needed = "one of phone, email, national_id or name is required"
        assert field_violations(error) == [("phone", needed), ("email", needed), ("national_id", needed), ("name", needed)]

    def test_bad_key_is_invalid(self, api: LiveService, stub: AccountServiceStub) -> None:
        error = rpc_error(self.search, stub, phone="12", email="x@")
        assert [f for f, _ in field_violations(error)] == ["phone", "email"]

    @pytest.mark.parametrize(
        ("page", "field"),
        [
            (common_pb2.PageRequest(page_token="not-a-token"), "page.page_token"),
            (common_pb2.PageRequest(page_token="eyJ4IjoxfQ=="), "page.page_token"),  # {"x":1}: no position
            (common_pb2.PageRequest(page_size=-1), "page.page_size"),
            (common_pb2.PageRequest(page_size=501), "page.page_size"),
        ],
    )
    def test_bad_page_is_invalid(self, api: LiveService, stub: AccountServiceStub, page: common_pb2.PageRequest, field: str) -> None:
        error = rpc_error(self.search, stub, phone="0912345678", page=page)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert [f for f, _ in field_violations(error)] == [field]

    def test_keyset_pages_cover_every_row_once(self, api: LiveService, stub: AccountServiceStub) -> None:
        ids = {resolve(stub, phone=f"091200000{i}").account.account_id for i in range(5)}
        seen: list[str] = []
        after = None
        with api.engine.connect() as conn:
            repository = AccountRepository(conn, PiiCodec(*load_pii(api.settings.pii_keys, api.settings.pii_index_key)))
            for _ in range(5):
                page, after = repository.search(ContactKeys(), "", Page(size=2, after=after), DataScope.bank_wide())
                seen.extend(a.account_id for a in page)
                if after is None:
                    break
        assert sorted(seen) == sorted(ids) and len(seen) == 5


class TestAccess:
    def test_no_token_is_unauthenticated(self, api: LiveService, stub: AccountServiceStub) -> None:
        error = rpc_error(stub.GetAccount, account_service_pb2.GetAccountRequest(account_id=new_id()))
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED

    def test_bad_token_is_unauthenticated(self, api: LiveService, stub: AccountServiceStub) -> None:
        error = rpc_error(resolve, stub, metadata=[("authorization", "Bearer nope")], phone="0912345678")
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED

    @pytest.mark.parametrize(
        ("method", "request_message", "metadata"),
        [
            ("ResolvePersonAccount", account_service_pb2.ResolvePersonAccountRequest(request_id="r", full_name="An", phone="0912345678"), TELESALES),
            ("ResolvePersonAccount", account_service_pb2.ResolvePersonAccountRequest(request_id="r", full_name="An", phone="0912345678"), MARKETING),
            ("GetAccount", account_service_pb2.GetAccountRequest(account_id=new_id()), MARKETING),
            ("SearchAccounts", account_service_pb2.SearchAccountsRequest(phone="0912345678"), MARKETING),
        ],
    )
    def test_missing_permission_is_denied(
        self, api: LiveService, stub: AccountServiceStub, method: str, request_message: object, metadata: list[tuple[str, str]]
    ) -> None:
        error = rpc_error(getattr(stub, method), request_message, metadata=metadata)
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
        assert api.count("accounts") == 0
