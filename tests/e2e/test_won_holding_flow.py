"""A converted lead's opportunity is won and the account service opens the product holding
from OpportunityWon; core banking's snapshot later adopts it. Real processes, PostgreSQL and
RabbitMQ."""

from __future__ import annotations

import uuid

from test_conversion_flow import RM, sql_lead

from crm.account.v1 import account_pb2
from crm.account.v1 import account_service_pb2 as account_svc
from crm.common.v1 import common_pb2
from crm.lead.v1 import lead_service_pb2 as lead_svc
from crm.opportunity.v1 import opportunity_service_pb2 as opp_svc
from crm_common.testing import bearer, wait_until

CORE_BANKING = bearer("core-banking", ["service"])


def test_a_won_opportunity_becomes_a_holding(suite) -> None:  # type: ignore[no-untyped-def]
    lead = sql_lead(suite, "0912 555 030", "won.card@example.com", name="Tạ Minh Thư")
    conversion = suite.lead.ConvertLead(lead_svc.ConvertLeadRequest(request_id=str(uuid.uuid4()), lead_id=lead.lead_id), metadata=RM).conversion
    win = opp_svc.WinOpportunityRequest(
        request_id=str(uuid.uuid4()), opportunity_id=conversion.opportunity_id, final_amount=common_pb2.Money(amount_minor=60_000_000)
    )
    suite.opportunity.WinOpportunity(win, metadata=RM)

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
