"""Product holdings over SQLite and PostgreSQL: core-banking snapshots through the real gRPC API,
won opportunities through the worker's handler, and the totals and tier they drive."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest
from nameko.testing.services import worker_factory
from sqlalchemy import text

from crm.account.v1 import account_pb2, account_service_pb2, events_pb2
from crm.account.v1.account_service_pb2_grpc import AccountServiceStub
from crm.common.v1 import common_pb2
from crm.opportunity.v1 import events_pb2 as opportunity_events
from crm.opportunity.v1 import opportunity_pb2
from crm_account.adapters.holding_repository import ANALYZE_MIN_ROWS, HoldingRepository
from crm_account.entrypoints.worker import AccountWorker
from crm_account.service_layer.use_cases import AccountUseCases
from crm_common.auth import Principal, use_principal
from crm_common.db import new_id
from crm_common.errors import FailedPrecondition, NotFound
from crm_common.events.envelope import new_event
from crm_common.grpc.status import field_violations
from crm_common.testing import LiveService, bearer, delivery

RM = bearer("rm-1", ["rm"])
CORE_BANKING = bearer("core-banking", ["service"])
R = account_service_pb2
BILLION = 1_000_000_000


def vnd(amount: int) -> common_pb2.Money:
    return common_pb2.Money(currency_code="VND", amount_minor=amount)


def row(account_id: str, core_ref: str, product: int = common_pb2.PRODUCT_TYPE_TERM_DEPOSIT, balance: int = 0, **fields: Any) -> R.HoldingRecord:
    fields.setdefault("status", account_pb2.HOLDING_STATUS_OPEN)
    return R.HoldingRecord(account_id=account_id, core_ref=core_ref, product_type=product, balance=vnd(balance), **fields)


def load(stub: AccountServiceStub, *rows: R.HoldingRecord, request_id: str | None = None) -> R.ImportHoldingsResponse:
    request = R.ImportHoldingsRequest(request_id=request_id or new_id(), rows=list(rows))
    reply: R.ImportHoldingsResponse = stub.ImportHoldings(request, metadata=CORE_BANKING, timeout=30)
    return reply


def holdings(stub: AccountServiceStub, account_id: str) -> R.ListHoldingsResponse:
    reply: R.ListHoldingsResponse = stub.ListHoldings(R.ListHoldingsRequest(account_id=account_id), metadata=RM)
    return reply


def rpc_error(call: Callable[..., object], *args: Any, **kwargs: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(*args, **kwargs)
    return caught.value


def new_account(stub: AccountServiceStub, phone: str = "0912345678") -> str:
    account = account_pb2.AccountInput(full_name="Đỗ Minh Khôi", phones=[phone])
    return str(stub.CreateAccount(R.CreateAccountRequest(request_id=new_id(), account=account), metadata=RM).account.account_id)


@pytest.fixture
def account_id(api: LiveService, stub: AccountServiceStub) -> str:
    return new_account(stub)


def outcomes(reply: R.ImportHoldingsResponse) -> list[int]:
    return [r.outcome for r in reply.results]


class TestImport:
    def test_a_snapshot_opens_updates_and_closes_and_keeps_the_totals(self, api: LiveService, stub: AccountServiceStub, account_id: str) -> None:
        reply = load(
            stub,
            row(account_id, "TD-001", balance=600_000_000),
            row(account_id, "CASA-001", common_pb2.PRODUCT_TYPE_CASA, balance=50_000_000),
            row(account_id, "CC-001", common_pb2.PRODUCT_TYPE_CREDIT_CARD, balance=3_000_000, limit=vnd(50_000_000)),
        )
        assert (reply.applied, reply.rejected) == (3, 0) and set(outcomes(reply)) == {R.HOLDING_ROW_OUTCOME_OPENED}
        totals = holdings(stub, account_id).totals
        assert (totals.deposits.amount_minor, totals.loans.amount_minor, totals.aum.amount_minor, totals.open_holdings) == (
            650_000_000,
            3_000_000,
            650_000_000,
            3,
        )

        reply = load(
            stub,
            row(account_id, "TD-001", balance=600_000_000),  # unchanged
            row(account_id, "CASA-001", common_pb2.PRODUCT_TYPE_CASA, balance=80_000_000),
            row(account_id, "CC-001", common_pb2.PRODUCT_TYPE_CREDIT_CARD, status=account_pb2.HOLDING_STATUS_CLOSED, limit=vnd(50_000_000)),
        )
        assert outcomes(reply) == [R.HOLDING_ROW_OUTCOME_UNCHANGED, R.HOLDING_ROW_OUTCOME_UPDATED, R.HOLDING_ROW_OUTCOME_CLOSED]
        listed = holdings(stub, account_id)
        assert [(h.core_ref, h.status) for h in listed.holdings][-1] == ("CC-001", account_pb2.HOLDING_STATUS_CLOSED)  # open ones first
        assert listed.holdings[-1].close_date.year == datetime.now(UTC).year
        assert (listed.totals.deposits.amount_minor, listed.totals.loans.amount_minor, listed.totals.open_holdings) == (680_000_000, 0, 2)
        assert [e.holding.core_ref for e in api.events(events_pb2.HoldingOpened)] == ["TD-001", "CASA-001", "CC-001"]
        assert [e.holding.core_ref for e in api.events(events_pb2.HoldingClosed)] == ["CC-001"]

    def test_aum_moves_the_derived_tier_and_announces_it(self, api: LiveService, stub: AccountServiceStub, account_id: str) -> None:
        load(stub, row(account_id, "TD-1", balance=900_000_000))
        assert stub.GetAccount(R.GetAccountRequest(account_id=account_id), metadata=RM).account.value_tier == account_pb2.VALUE_TIER_MASS
        load(
            stub, row(account_id, "TD-2", balance=200_000_000), row(account_id, "INS-1", common_pb2.PRODUCT_TYPE_BANCASSURANCE, balance=30 * BILLION)
        )
        account = stub.GetAccount(R.GetAccountRequest(account_id=account_id), metadata=RM).account
        assert (account.derived_value_tier, account.totals.aum.amount_minor) == (account_pb2.VALUE_TIER_PRIVATE, 31_100_000_000)
        [updated] = api.events(events_pb2.AccountUpdated)
        assert list(updated.changed_fields) == ["derived_value_tier"]

    def test_bad_rows_are_reported_and_the_rest_applied(self, api: LiveService, stub: AccountServiceStub, account_id: str) -> None:
        other = new_account(stub, "0987654321")
        load(stub, row(other, "TD-OTHER", balance=1))
        reply = load(
            stub,
            row(account_id, "TD-1", balance=1_000),
            row(account_id, "TD-1", balance=2_000),  # twice in one import
            row(new_id(), "TD-2", balance=1),  # no such account
            row(account_id, "TD-OTHER", balance=5),  # another account's arrangement
            row(account_id, "bad ref!", balance=1),
            R.HoldingRecord(
                account_id=account_id,
                core_ref="USD-1",
                product_type=common_pb2.PRODUCT_TYPE_CASA,
                status=account_pb2.HOLDING_STATUS_OPEN,
                balance=common_pb2.Money(currency_code="USD", amount_minor=10),
            ),
            row(account_id, "TD-3", balance=1, limit=vnd(5)),  # a deposit has no limit
            row(account_id, "TD-4", balance=-1),
            row("", "TD-5", product=0, status=0),
        )
        assert (reply.applied, reply.rejected) == (1, 8)
        violations = [[(v.field, v.description) for v in r.violations] for r in reply.results]
        assert violations[0] == []
        assert violations[1] == [("core_ref", "also in row 0 of this import")]
        assert violations[2] == [("account_id", "no such account")]
        assert violations[3] == [("account_id", "this core_ref belongs to another account")]
        assert [f for f, _ in violations[4]] == ["core_ref"]
        assert violations[5] == [("balance.currency_code", "only VND holdings are accepted")]
        assert violations[6] == [("limit", "only cards and loans have a limit")]
        assert [f for f, _ in violations[7]] == ["balance.amount_minor"]
        assert [f for f, _ in violations[8]] == ["account_id", "product_type", "status"]
        assert holdings(stub, account_id).totals.deposits.amount_minor == 1_000

    def test_a_retried_old_snapshot_does_not_undo_a_newer_one(self, stub: AccountServiceStub, account_id: str) -> None:
        load(stub, row(account_id, "TD-1", balance=100), request_id="snapshot-monday")
        load(stub, row(account_id, "TD-1", balance=200), request_id="snapshot-tuesday")
        again = load(stub, row(account_id, "TD-1", balance=100), request_id="snapshot-monday")
        assert outcomes(again) == [R.HOLDING_ROW_OUTCOME_UNCHANGED]
        assert holdings(stub, account_id).totals.deposits.amount_minor == 200

    @pytest.mark.parametrize(("rows", "description"), [(0, "required"), (10_001, "at most 10000 rows per call")])
    def test_row_count_is_bounded(self, stub: AccountServiceStub, account_id: str, rows: int, description: str) -> None:
        request = R.ImportHoldingsRequest(request_id=new_id(), rows=[row(account_id, f"R{i}") for i in range(rows)])
        error = rpc_error(stub.ImportHoldings, request, metadata=CORE_BANKING)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field_violations(error) == [("rows", description)]

    def test_an_rm_may_not_import(self, stub: AccountServiceStub, account_id: str) -> None:
        request = R.ImportHoldingsRequest(request_id=new_id(), rows=[row(account_id, "TD-1")])
        assert rpc_error(stub.ImportHoldings, request, metadata=RM).code() == grpc.StatusCode.PERMISSION_DENIED


class TestPlanStability:
    def test_a_snapshot_past_the_threshold_is_analysed_in_its_transaction(self, api: LiveService, stub: AccountServiceStub) -> None:
        accounts = [new_account(stub, f"091234{n:04d}") for n in range(3)]
        count = ANALYZE_MIN_ROWS + 200
        reply = load(stub, *[row(accounts[n % 3], f"BIG-{n}", balance=n) for n in range(count)])
        assert (reply.applied, reply.rejected) == (count, 0) and set(outcomes(reply)) == {R.HOLDING_ROW_OUTCOME_OPENED}
        assert [holdings(stub, a).totals.open_holdings for a in accounts] == [400, 400, 400]
        assert holdings(stub, accounts[0]).totals.deposits.amount_minor == sum(range(0, count, 3))
        if api.backend == "postgresql":  # the planner now knows the table's size
            with api.engine.connect() as conn:
                assert conn.scalar(text("SELECT reltuples FROM pg_class WHERE oid = 'holdings'::regclass")) >= count

    def test_statistics_are_refreshed_only_when_off_from_the_size(self, api: LiveService) -> None:
        with api.engine.begin() as conn:
            repository = HoldingRepository(conn)
            first = repository.refresh_statistics({"holdings": 10 * ANALYZE_MIN_ROWS})
            again = repository.refresh_statistics({"holdings": 0})
        assert first == (["holdings"] if api.backend == "postgresql" else [])  # SQLite plans without them
        assert again == []


class TestWonOpportunity:
    CONSUMER = "account.on_opportunity_won"

    def won(self, account_id: str, opportunity_id: str, product: int, amount: int) -> Any:
        opportunity = opportunity_pb2.Opportunity(opportunity_id=opportunity_id, account_id=account_id, product=product)  # type: ignore[arg-type]
        event = new_event(
            opportunity_events.OpportunityWon, "opportunity", "close-1", datetime.now(UTC), opportunity=opportunity, won_amount=vnd(amount)
        )
        return delivery(event, self.CONSUMER)

    def test_opens_a_holding_once_and_core_banking_adopts_it(
        self, api: LiveService, stub: AccountServiceStub, use_cases: AccountUseCases, account_id: str
    ) -> None:
        worker: AccountWorker = worker_factory(AccountWorker, use_cases=use_cases)
        message = self.won(account_id, "opp-1", common_pb2.PRODUCT_TYPE_CREDIT_CARD, 80_000_000)
        with use_principal(Principal("service:account", ("service",))):
            assert worker.on_opportunity_won(message) == "ok"
            assert worker.on_opportunity_won(message) == "duplicate"
            assert worker.on_opportunity_won(self.won(account_id, "opp-1", common_pb2.PRODUCT_TYPE_CREDIT_CARD, 80_000_000)) == "already open"
        [card] = holdings(stub, account_id).holdings
        assert (card.source, card.core_ref, card.opportunity_id, card.limit.amount_minor, card.balance.amount_minor) == (
            account_pb2.HOLDING_SOURCE_OPPORTUNITY,
            "",
            "opp-1",
            80_000_000,
            0,
        )
        [opened] = api.events(events_pb2.HoldingOpened)
        assert opened.holding.holding_id == card.holding_id and opened.metadata.correlation_id == "close-1"

        reply = load(stub, row(account_id, "CC-778", common_pb2.PRODUCT_TYPE_CREDIT_CARD, balance=2_500_000, limit=vnd(80_000_000)))
        assert reply.results[0].holding_id == card.holding_id and reply.results[0].outcome == R.HOLDING_ROW_OUTCOME_UPDATED
        [adopted] = holdings(stub, account_id).holdings
        assert (adopted.core_ref, adopted.opportunity_id, adopted.balance.amount_minor) == ("CC-778", "opp-1", 2_500_000)

    def test_reopening_the_won_opportunity_closes_its_holding_for_clawback(
        self, api: LiveService, stub: AccountServiceStub, use_cases: AccountUseCases, account_id: str
    ) -> None:
        worker: AccountWorker = worker_factory(AccountWorker, use_cases=use_cases)
        opportunity = opportunity_pb2.Opportunity(opportunity_id="opp-9", account_id=account_id, product=common_pb2.PRODUCT_TYPE_TERM_DEPOSIT)
        event = new_event(
            opportunity_events.OpportunityReopened,
            "opportunity",
            "reopen-1",
            datetime.now(UTC),
            opportunity=opportunity,
            previous_status=opportunity_pb2.OPPORTUNITY_STATUS_WON,
            reason="khách rút tiền gửi",
        )
        reversal = delivery(event, "account.on_opportunity_reopened")
        with use_principal(Principal("service:account", ("service",))):
            with pytest.raises(FailedPrecondition):  # the win not applied yet: retried, not lost
                worker.on_opportunity_reopened(reversal)
            assert worker.on_opportunity_won(self.won(account_id, "opp-9", common_pb2.PRODUCT_TYPE_TERM_DEPOSIT, 2 * BILLION)) == "ok"
            assert holdings(stub, account_id).totals.deposits.amount_minor == 2 * BILLION
            assert worker.on_opportunity_reopened(reversal) == "reversed"
            assert worker.on_opportunity_reopened(reversal) == "duplicate"
        [deposit] = holdings(stub, account_id).holdings
        assert (deposit.status, deposit.close_reason, deposit.close_date.year > 0) == (
            account_pb2.HOLDING_STATUS_CLOSED,
            account_pb2.HOLDING_CLOSE_REASON_OPPORTUNITY_REVERSED,
            True,
        )
        assert holdings(stub, account_id).totals.deposits.amount_minor == 0
        [closed] = api.events(events_pb2.HoldingClosed)
        assert (closed.holding.holding_id, closed.holding.opportunity_id, closed.reason, closed.detail, closed.metadata.correlation_id) == (
            deposit.holding_id,
            "opp-9",
            account_pb2.HOLDING_CLOSE_REASON_OPPORTUNITY_REVERSED,
            "khách rút tiền gửi",
            "reopen-1",
        )

    def test_an_unknown_account_raises_so_the_event_is_retried(self, api: LiveService, use_cases: AccountUseCases) -> None:
        worker: AccountWorker = worker_factory(AccountWorker, use_cases=use_cases)
        with use_principal(Principal("service:account", ("service",))), pytest.raises(NotFound):
            worker.on_opportunity_won(self.won(new_id(), "opp-2", common_pb2.PRODUCT_TYPE_MORTGAGE, 1))
        assert api.count("inbox") == 0 and api.count("holdings") == 0
