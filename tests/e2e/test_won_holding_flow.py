"""A converted lead's opportunity is won and the account service opens the product holding
from OpportunityWon; core banking's snapshot later adopts it. A won deal reopened (a reversal)
closes the holding its win opened, with the reason incentive clawback keys on. Real processes,
PostgreSQL and RabbitMQ."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp
from test_conversion_flow import RM, sql_lead

from crm.account.v1 import account_pb2
from crm.account.v1 import account_service_pb2 as account_svc
from crm.common.v1 import common_pb2
from crm.lead.v1 import lead_service_pb2 as lead_svc
from crm.opportunity.v1 import opportunity_pb2
from crm.opportunity.v1 import opportunity_service_pb2 as opp_svc
from crm_common.testing import bearer, wait_until

CORE_BANKING = bearer("core-banking", ["service"])


def to_approved(suite, opportunity_id: str, at: str = "qualification") -> None:  # type: ignore[no-untyped-def]
    """A card is won from approved (its pipeline's winning stage): the RM takes it there from `at`."""
    close = Timestamp()
    close.FromDatetime(datetime.now(UTC) + timedelta(days=10))
    update = opp_svc.UpdateOpportunityRequest(
        request_id=str(uuid.uuid4()), opportunity_id=opportunity_id, expected_close_time=close, update_mask=FieldMask(paths=["expected_close_time"])
    )
    suite.opportunity.UpdateOpportunity(update, metadata=RM)
    stages = [name for name, _ in STEPS]
    for stage, items in STEPS[stages.index(at) + 1 if at in stages else 0 :]:
        move = opp_svc.MoveStageRequest(request_id=str(uuid.uuid4()), opportunity_id=opportunity_id, stage=stage, completed_items=items)
        suite.opportunity.MoveStage(move, metadata=RM)


STEPS = [
    ("needs_analysis", []),
    ("documents_collected", []),
    ("submitted_to_los", ["id_document_verified", "income_documents_collected"]),
    ("approved", []),
]


def win_card(suite, opportunity_id: str, amount: int) -> None:  # type: ignore[no-untyped-def]
    win = opp_svc.WinOpportunityRequest(
        request_id=str(uuid.uuid4()),
        opportunity_id=opportunity_id,
        final_amount=common_pb2.Money(amount_minor=amount),
        completed_items=["card_delivered"],
    )
    suite.opportunity.WinOpportunity(win, metadata=RM)


def test_a_won_opportunity_becomes_a_holding(suite) -> None:  # type: ignore[no-untyped-def]
    lead = sql_lead(suite, "0912 555 030", "won.card@example.com", name="Tạ Minh Thư")
    conversion = suite.lead.ConvertLead(lead_svc.ConvertLeadRequest(request_id=str(uuid.uuid4()), lead_id=lead.lead_id), metadata=RM).conversion
    to_approved(suite, conversion.opportunity_id)
    win_card(suite, conversion.opportunity_id, 60_000_000)

    def holdings() -> list[account_pb2.Holding]:
        listing = account_svc.ListHoldingsRequest(account_id=conversion.account_id)
        return list(suite.account.ListHoldings(listing, metadata=RM).holdings)

    wait_until(lambda: len(holdings()) == 1, what="the account worker to open the holding from OpportunityWon")
    [card] = holdings()
    assert (card.product_type, card.source, card.opportunity_id) == (
        common_pb2.PRODUCT_TYPE_CREDIT_CARD,
        account_pb2.HOLDING_SOURCE_OPPORTUNITY,
        conversion.opportunity_id,
    )
    assert (card.limit.amount_minor, card.balance.amount_minor, card.status) == (60_000_000, 0, account_pb2.HOLDING_STATUS_OPEN)

    row = account_svc.HoldingRecord(
        account_id=conversion.account_id,
        core_ref="CC-E2E-030",
        product_type=common_pb2.PRODUCT_TYPE_CREDIT_CARD,
        status=account_pb2.HOLDING_STATUS_OPEN,
        balance=common_pb2.Money(amount_minor=1_500_000),
        limit=common_pb2.Money(amount_minor=60_000_000),
    )
    suite.account.ImportHoldings(account_svc.ImportHoldingsRequest(request_id=str(uuid.uuid4()), rows=[row]), metadata=CORE_BANKING)
    [adopted] = holdings()
    assert (adopted.holding_id, adopted.core_ref, adopted.balance.amount_minor) == (card.holding_id, "CC-E2E-030", 1_500_000)


def test_a_reopened_won_deal_closes_its_holding(suite) -> None:  # type: ignore[no-untyped-def]
    """Issue 12: the holding a win opened used to stay open when the deal was reopened, and a
    card could be won straight from needs analysis."""
    lead = sql_lead(suite, "0912 555 031", "reversed.card@example.com", name="Hồ Thị Diệu")
    conversion = suite.lead.ConvertLead(lead_svc.ConvertLeadRequest(request_id=str(uuid.uuid4()), lead_id=lead.lead_id), metadata=RM).conversion
    move = opp_svc.MoveStageRequest(request_id=str(uuid.uuid4()), opportunity_id=conversion.opportunity_id, stage="needs_analysis")
    suite.opportunity.MoveStage(move, metadata=RM)
    with pytest.raises(grpc.RpcError) as early:
        win_card(suite, conversion.opportunity_id, 1)
    assert early.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "won from approved" in (early.value.details() or "")

    to_approved(suite, conversion.opportunity_id, at="needs_analysis")
    win_card(suite, conversion.opportunity_id, 40_000_000)

    def holdings() -> list[account_pb2.Holding]:
        listing = account_svc.ListHoldingsRequest(account_id=conversion.account_id)
        return list(suite.account.ListHoldings(listing, metadata=RM).holdings)

    wait_until(lambda: [h.status for h in holdings()] == [account_pb2.HOLDING_STATUS_OPEN], what="the won card's holding")
    reopen = opp_svc.ReopenOpportunityRequest(request_id=str(uuid.uuid4()), opportunity_id=conversion.opportunity_id, reason="khách hủy thẻ")
    reopened = suite.opportunity.ReopenOpportunity(reopen, metadata=RM).opportunity
    assert (reopened.status, reopened.stage) == (opportunity_pb2.OPPORTUNITY_STATUS_OPEN, "approved")

    wait_until(
        lambda: [h.status for h in holdings()] == [account_pb2.HOLDING_STATUS_CLOSED], what="the account worker to close it from OpportunityReopened"
    )
    [card] = holdings()
    assert (card.opportunity_id, card.close_reason, card.close_date.year > 0) == (
        conversion.opportunity_id,
        account_pb2.HOLDING_CLOSE_REASON_OPPORTUNITY_REVERSED,
        True,
    )
    totals = suite.account.ListHoldings(account_svc.ListHoldingsRequest(account_id=conversion.account_id), metadata=RM).totals
    assert totals.open_holdings == 0
