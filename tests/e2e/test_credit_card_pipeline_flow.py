"""Issue 5's flow end to end: a converted lead becomes a credit-card opportunity, which its RM
updates (amount, probability override, next step: the forecast follows) and moves through every
stage of the pipeline to won; the account gets the holding and the forecast shows
the win. Real processes, PostgreSQL and RabbitMQ."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp
from test_conversion_flow import MANAGER, sql_lead

from crm.account.v1 import account_pb2
from crm.account.v1 import account_service_pb2 as account_svc
from crm.common.v1 import common_pb2
from crm.lead.v1 import lead_service_pb2 as lead_svc
from crm.opportunity.v1 import opportunity_pb2
from crm.opportunity.v1 import opportunity_service_pb2 as opp_svc
from crm_common.testing import bearer, wait_until

# The card RM who converts and works the opportunity (an RM reaches its own book: data scopes).
RM = bearer("rm-e2e-card", ["rm"])
CARD_STAGES = ["needs_analysis", "documents_collected", "submitted_to_los", "approved"]
CHECKLIST = {"documents_collected": ["id_document_verified", "income_documents_collected"], "approved": ["card_delivered"]}


def test_a_credit_card_goes_through_every_stage_to_won_and_into_the_forecast(suite) -> None:  # type: ignore[no-untyped-def]
    lead = sql_lead(suite, "0912 555 040", "card.pipeline@example.com", name="Lâm Quốc Việt")
    suite.lead.AssignLead(lead_svc.AssignLeadRequest(request_id=str(uuid.uuid4()), lead_id=lead.lead_id, owner_id="rm-e2e-card"), metadata=MANAGER)
    close = Timestamp()
    close.FromDatetime(datetime.now(UTC) + timedelta(days=10))
    convert = lead_svc.ConvertLeadRequest(
        request_id=str(uuid.uuid4()), lead_id=lead.lead_id, expected_close_time=close, opportunity_owner_id="rm-e2e-card"
    )
    conversion = suite.lead.ConvertLead(convert, metadata=RM).conversion

    # The RM sets the card limit asked for, a probability of their own and the next step.
    update = opp_svc.UpdateOpportunityRequest(
        request_id=str(uuid.uuid4()),
        opportunity_id=conversion.opportunity_id,
        amount=common_pb2.Money(amount_minor=80_000_000),
        probability_percent=60,
        next_step="Hẹn khách ký hồ sơ",
        update_mask=FieldMask(paths=["amount", "probability_percent", "next_step"]),
    )
    updated = suite.opportunity.UpdateOpportunity(update, metadata=RM).opportunity
    assert (updated.probability_overridden, updated.next_step) == (True, "Hẹn khách ký hồ sơ")
    close_month = close.ToDatetime().strftime("%Y-%m")
    weighted = suite.opportunity.GetForecast(
        opp_svc.GetForecastRequest(owner_id="rm-e2e-card", from_month=close_month, to_month=close_month), metadata=RM
    ).total.weighted_pipeline
    assert weighted.amount_minor == 48_000_000

    for stage in CARD_STAGES:
        items = CHECKLIST.get(stage, [])
        move = opp_svc.MoveStageRequest(request_id=str(uuid.uuid4()), opportunity_id=conversion.opportunity_id, stage=stage, completed_items=items)
        moved = suite.opportunity.MoveStage(move, metadata=RM).opportunity
        assert (moved.stage, moved.probability_overridden) == (stage, False)
    # (the approved stage's own checklist item is ticked when moving into it, ready for the win)
    won = suite.opportunity.WinOpportunity(
        opp_svc.WinOpportunityRequest(request_id=str(uuid.uuid4()), opportunity_id=conversion.opportunity_id), metadata=RM
    ).opportunity
    assert won.status == opportunity_pb2.OPPORTUNITY_STATUS_WON

    visits = suite.opportunity.ListStageHistory(opp_svc.ListStageHistoryRequest(opportunity_id=conversion.opportunity_id), metadata=RM).visits
    assert [v.stage for v in visits] == ["qualification", *CARD_STAGES, "closed_won"]

    def holding_opened() -> bool:
        listing = suite.account.ListHoldings(account_svc.ListHoldingsRequest(account_id=conversion.account_id), metadata=RM)
        return [(h.product_type, h.opportunity_id) for h in listing.holdings] == [(common_pb2.PRODUCT_TYPE_CREDIT_CARD, conversion.opportunity_id)]

    wait_until(holding_opened, what="the account worker to open the card from OpportunityWon")
    holding = suite.account.ListHoldings(account_svc.ListHoldingsRequest(account_id=conversion.account_id), metadata=RM).holdings[0]
    assert holding.status == account_pb2.HOLDING_STATUS_OPEN

    month = datetime.now(UTC).strftime("%Y-%m")
    forecast = suite.opportunity.GetForecast(opp_svc.GetForecastRequest(owner_id="rm-e2e-card", from_month=month, to_month=month), metadata=RM)
    assert (forecast.total.won_count, forecast.total.won.amount_minor) == (1, won.amount.amount_minor)
    assert forecast.total.commit.amount_minor == won.amount.amount_minor
