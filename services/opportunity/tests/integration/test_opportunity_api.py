"""The opportunity gRPC API end to end: a real server on loopback over SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from crm.common.v1 import common_pb2
from crm.opportunity.v1 import events_pb2, opportunity_pb2, opportunity_service_pb2
from crm.opportunity.v1.opportunity_service_pb2_grpc import OpportunityServiceStub
from crm_common.db import new_id
from crm_common.grpc.status import field_violations, resource_info
from crm_common.testing import LiveService, bearer

RM = bearer("rm-1", ["rm"])  # opportunities.read/write
SERVICE = bearer("service:lead", ["service"])  # lead conversion calls as a service
TELESALES = bearer("ts-1", ["telesales"])  # no opportunity permission
# A reporting client: reads every opportunity (marketing's bank-wide reach) and writes none.
READER = bearer("bi-1", ["marketing"], scope="opportunities.read")
# Head office: reaches every opportunity, whoever owns it (data scopes: test_opportunity_data_scopes.py).
HEAD_OFFICE = bearer("head-office", ["admin"])

ACCOUNT = "3f2b8c1e-5d4a-4b7e-9c2d-1a2b3c4d5e6f"
CLOSE = datetime(2027, 1, 31, 17, 0, tzinfo=UTC)


def request(request_id: str | None = None, **fields: Any) -> opportunity_service_pb2.CreateOpportunityRequest:
    fields.setdefault("account_id", ACCOUNT)
    fields.setdefault("product", common_pb2.PRODUCT_TYPE_CREDIT_CARD)
    return opportunity_service_pb2.CreateOpportunityRequest(request_id=request_id or new_id(), **fields)


def create(
    stub: OpportunityServiceStub, request_id: str | None = None, metadata: list[tuple[str, str]] = RM, **fields: Any
) -> opportunity_pb2.Opportunity:
    reply: opportunity_service_pb2.CreateOpportunityResponse = stub.CreateOpportunity(request(request_id, **fields), metadata=metadata, timeout=10)
    return reply.opportunity


def rpc_error(call: Callable[..., object], *args: Any, **kwargs: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(*args, **kwargs)
    return caught.value


class TestCreate:
    def test_opens_at_the_pipeline_entry_and_publishes_the_event(self, api: LiveService, stub: OpportunityServiceStub) -> None:
        opportunity = create(
            stub,
            "convert:lead-1:opportunity",
            metadata=SERVICE,
            product=common_pb2.PRODUCT_TYPE_UNSECURED_LOAN,
            amount=common_pb2.Money(currency_code="VND", amount_minor=150_000_000),
            expected_close_time=Timestamp(seconds=int(CLOSE.timestamp())),
            owner_id="rm-7",
            team_id="team-hn",
            source_lead_id="lead-1",
            campaign_id="camp-1",
        )
        assert opportunity.account_id == ACCOUNT
        assert opportunity.product == common_pb2.PRODUCT_TYPE_UNSECURED_LOAN
        assert (opportunity.amount.currency_code, opportunity.amount.amount_minor) == ("VND", 150_000_000)
        assert opportunity.expected_close_time.ToDatetime(tzinfo=UTC) == CLOSE
        assert (opportunity.owner_id, opportunity.team_id, opportunity.source_lead_id, opportunity.campaign_id) == (
            "rm-7",
            "team-hn",
            "lead-1",
            "camp-1",
        )
        assert (opportunity.status, opportunity.stage, opportunity.probability_percent) == (
            opportunity_pb2.OPPORTUNITY_STATUS_OPEN,
            "qualification",
            10,
        )
        assert (opportunity.audit.created_by, opportunity.audit.updated_by) == ("service:lead", "service:lead")

        [event] = api.events(events_pb2.OpportunityCreated)
        assert event.opportunity == opportunity
        assert (event.metadata.producer, event.metadata.correlation_id) == ("opportunity", "convert:lead-1:opportunity")

    def test_defaults_amount_currency_and_owner(self, api: LiveService, stub: OpportunityServiceStub) -> None:
        opportunity = create(stub, amount=common_pb2.Money(amount_minor=0))
        assert (opportunity.amount.currency_code, opportunity.amount.amount_minor) == ("VND", 0)
        assert opportunity.owner_id == "rm-1"
        assert not opportunity.HasField("expected_close_time")
        assert create(stub).amount == common_pb2.Money(currency_code="VND", amount_minor=0)

    def test_a_service_caller_is_never_the_default_owner(self, api: LiveService, stub: OpportunityServiceStub) -> None:
        opportunity = create(stub, metadata=SERVICE)
        assert (opportunity.owner_id, opportunity.audit.created_by) == ("", "service:lead")

    def test_repeat_returns_the_first_result_without_a_second_row_or_event(self, api: LiveService, stub: OpportunityServiceStub) -> None:
        first = create(stub, "req-1", source_lead_id="lead-1")
        again = create(stub, "req-1", source_lead_id="lead-1")
        assert again == first
        assert api.count("opportunities") == 1
        assert api.outbox_types() == ["OpportunityCreated"]

    def test_request_id_reused_for_another_request_is_refused(self, api: LiveService, stub: OpportunityServiceStub) -> None:
        create(stub, "req-1")
        error = rpc_error(create, stub, "req-1", product=common_pb2.PRODUCT_TYPE_MORTGAGE)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field_violations(error) == [("request_id", "already used for a different request")]
        assert api.count("opportunities") == 1

    def test_a_lead_converts_into_one_open_opportunity(self, api: LiveService, stub: OpportunityServiceStub) -> None:
        first = create(stub, "req-1", source_lead_id="lead-1")
        error = rpc_error(create, stub, "req-2", source_lead_id="lead-1", product=common_pb2.PRODUCT_TYPE_MORTGAGE)
        assert error.code() == grpc.StatusCode.ALREADY_EXISTS
        assert resource_info(error) == ("opportunity", first.opportunity_id)
        assert api.count("opportunities") == 1 and api.outbox_types() == ["OpportunityCreated"]

    def test_opportunities_without_a_lead_are_not_limited(self, api: LiveService, stub: OpportunityServiceStub) -> None:
        create(stub)
        create(stub)
        assert api.count("opportunities") == 2

    def test_concurrent_creates_for_one_lead_open_one_opportunity(self, api: LiveService, stub: OpportunityServiceStub) -> None:
        start = threading.Barrier(8)

        def one(i: int) -> str:
            start.wait()
            try:
                return create(stub, f"concurrent-{i}", source_lead_id="lead-1").opportunity_id
            except grpc.RpcError as exc:
                assert exc.code() == grpc.StatusCode.ALREADY_EXISTS, exc
                info = resource_info(exc)
                assert info is not None
                return "exists:" + info[1]

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(one, range(8)))
        created = [r for r in results if not r.startswith("exists:")]
        assert len(created) == 1
        assert sorted(results) == sorted(created + [f"exists:{created[0]}"] * 7)
        assert api.count("opportunities") == 1 and api.outbox_types() == ["OpportunityCreated"]

    def test_every_violation_is_reported_at_once(self, api: LiveService, stub: OpportunityServiceStub) -> None:
        error = rpc_error(stub.CreateOpportunity, opportunity_service_pb2.CreateOpportunityRequest(), metadata=RM)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field_violations(error) == [
            ("request_id", "required: a unique key per intended change (idempotency)"),
            ("account_id", "required"),
            ("product", "required"),
        ]

    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"account_id": "acc-1"}, "account_id"),
            ({"product": 99}, "product"),
            ({"amount": common_pb2.Money(amount_minor=-1)}, "amount.amount_minor"),
            ({"amount": common_pb2.Money(currency_code="VN", amount_minor=1)}, "amount.currency_code"),
            ({"amount": common_pb2.Money(currency_code="€UR", amount_minor=1)}, "amount.currency_code"),
            ({"owner_id": "x" * 101}, "owner_id"),
            ({"team_id": "x" * 101}, "team_id"),
            ({"source_lead_id": "x" * 101}, "source_lead_id"),
            ({"campaign_id": "x" * 101}, "campaign_id"),
            ({"expected_close_time": Timestamp(seconds=300_000_000_000)}, "expected_close_time"),
        ],
    )
    def test_bad_input_names_its_field(self, api: LiveService, stub: OpportunityServiceStub, fields: dict[str, Any], field: str) -> None:
        error = rpc_error(create, stub, **fields)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert [f for f, _ in field_violations(error)] == [field]
        assert api.count("opportunities") == 0 and api.outbox_types() == []


class TestGet:
    def test_returns_the_opportunity(self, api: LiveService, stub: OpportunityServiceStub) -> None:
        created = create(stub, amount=common_pb2.Money(currency_code="USD", amount_minor=1_000))
        reply = stub.GetOpportunity(opportunity_service_pb2.GetOpportunityRequest(opportunity_id=created.opportunity_id), metadata=READER)
        assert reply.opportunity == created

    def test_unknown_id_is_not_found_with_resource_info(self, api: LiveService, stub: OpportunityServiceStub) -> None:
        missing = new_id()
        error = rpc_error(stub.GetOpportunity, opportunity_service_pb2.GetOpportunityRequest(opportunity_id=missing), metadata=RM)
        assert error.code() == grpc.StatusCode.NOT_FOUND
        assert resource_info(error) == ("opportunity", missing)

    @pytest.mark.parametrize(("opportunity_id", "description"), [("", "required"), ("opp-1", "not a valid opportunity id")])
    def test_malformed_id_is_invalid(self, api: LiveService, stub: OpportunityServiceStub, opportunity_id: str, description: str) -> None:
        error = rpc_error(stub.GetOpportunity, opportunity_service_pb2.GetOpportunityRequest(opportunity_id=opportunity_id), metadata=RM)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field_violations(error) == [("opportunity_id", description)]


class TestList:
    def list(self, stub: OpportunityServiceStub, **fields: Any) -> opportunity_service_pb2.ListOpportunitiesResponse:
        reply: opportunity_service_pb2.ListOpportunitiesResponse = stub.ListOpportunities(
            opportunity_service_pb2.ListOpportunitiesRequest(**fields),
            metadata=HEAD_OFFICE,
        )
        return reply

    def test_filters_by_account_owner_and_lead(self, api: LiveService, stub: OpportunityServiceStub) -> None:
        other_account = new_id()
        a = create(stub, metadata=HEAD_OFFICE, owner_id="rm-a", source_lead_id="lead-a")
        b = create(stub, metadata=HEAD_OFFICE, owner_id="rm-b", account_id=other_account)
        c = create(stub, metadata=HEAD_OFFICE, owner_id="rm-a", account_id=other_account)
        ids = lambda reply: [o.opportunity_id for o in reply.opportunities]  # noqa: E731
        assert ids(self.list(stub)) == [c.opportunity_id, b.opportunity_id, a.opportunity_id]
        assert ids(self.list(stub, account_id=other_account)) == [c.opportunity_id, b.opportunity_id]
        assert ids(self.list(stub, owner_id="rm-a")) == [c.opportunity_id, a.opportunity_id]
        assert ids(self.list(stub, source_lead_id="lead-a")) == [a.opportunity_id]
        assert ids(self.list(stub, owner_id="rm-b", account_id=other_account)) == [b.opportunity_id]
        assert ids(self.list(stub, owner_id="nobody")) == []

    def test_pages_newest_first_until_the_last(self, api: LiveService, stub: OpportunityServiceStub) -> None:
        created = [create(stub, metadata=HEAD_OFFICE, owner_id="rm-p").opportunity_id for _ in range(5)]
        seen: list[str] = []
        token = ""
        for _ in range(5):
            reply = self.list(stub, owner_id="rm-p", page=common_pb2.PageRequest(page_size=2, page_token=token))
            seen.extend(o.opportunity_id for o in reply.opportunities)
            token = reply.page.next_page_token
            if not token:
                break
        assert seen == list(reversed(created))

    def test_default_page_size_is_fifty(self, api: LiveService, stub: OpportunityServiceStub) -> None:
        for _ in range(51):
            create(stub)
        reply = self.list(stub)
        assert len(reply.opportunities) == 50 and reply.page.next_page_token
        rest = self.list(stub, page=common_pb2.PageRequest(page_token=reply.page.next_page_token))
        assert len(rest.opportunities) == 1 and not rest.page.next_page_token

    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"page": common_pb2.PageRequest(page_token="garbage!")}, "page.page_token"),
            ({"page": common_pb2.PageRequest(page_token="eyJ0IjoiMjAyNi0xMS0yMyJ9")}, "page.page_token"),  # {"t":"2026-11-23"}
            ({"page": common_pb2.PageRequest(page_size=-1)}, "page.page_size"),
            ({"page": common_pb2.PageRequest(page_size=501)}, "page.page_size"),
            ({"account_id": "acc-1"}, "account_id"),
        ],
    )
    def test_bad_query_is_invalid(self, api: LiveService, stub: OpportunityServiceStub, fields: dict[str, Any], field: str) -> None:
        error = rpc_error(self.list, stub, **fields)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert [f for f, _ in field_violations(error)] == [field]


class TestAccess:
    def test_no_token_is_unauthenticated(self, api: LiveService, stub: OpportunityServiceStub) -> None:
        error = rpc_error(stub.CreateOpportunity, request())
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED

    @pytest.mark.parametrize(
        ("method", "request_message", "metadata"),
        [
            ("CreateOpportunity", request("r"), TELESALES),
            ("CreateOpportunity", request("r"), READER),
            ("GetOpportunity", opportunity_service_pb2.GetOpportunityRequest(opportunity_id=new_id()), TELESALES),
            ("ListOpportunities", opportunity_service_pb2.ListOpportunitiesRequest(), TELESALES),
        ],
    )
    def test_missing_permission_is_denied(
        self, api: LiveService, stub: OpportunityServiceStub, method: str, request_message: object, metadata: list[tuple[str, str]]
    ) -> None:
        error = rpc_error(getattr(stub, method), request_message, metadata=metadata)
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
        assert api.count("opportunities") == 0
