"""A loan goes to the loan origination system and its approval arrives as an event: the
opportunity is won and the account gets the loan; reopened, it announces the clawback. Real
processes, PostgreSQL and RabbitMQ (the LOS publishes on its own exchange, los.events)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pika
from google.protobuf.timestamp_pb2 import Timestamp
from test_conversion_flow import RM, sql_lead

from crm.account.v1 import account_service_pb2 as account_svc
from crm.common.v1 import common_pb2
from crm.lead.v1 import lead_service_pb2 as lead_svc
from crm.opportunity.v1 import events_pb2, opportunity_pb2
from crm.opportunity.v1 import opportunity_service_pb2 as opp_svc
from crm_common.events.envelope import new_event
from crm_common.events.publisher import BatchPublisher, OutgoingEvent
from crm_common.testing import wait_until


def rid() -> str:
    return str(uuid.uuid4())


def test_a_loan_approved_by_the_los_event_is_won_and_a_reopening_is_announced(suite) -> None:  # type: ignore[no-untyped-def]
    connection = pika.BlockingConnection(pika.URLParameters(suite.amqp_uri))
    channel = connection.channel()
    channel.exchange_declare("opportunity.events", "topic", durable=True)
    queue = channel.queue_declare("", exclusive=True).method.queue
    for routing_key in ("ApplicationSubmitted", "OpportunityReopened"):
        channel.queue_bind(queue, "opportunity.events", routing_key)

    lead = sql_lead(suite, "0912 555 050", "loan.los@example.com", name="Mai Anh Tuấn")
    close = Timestamp()
    close.FromDatetime(datetime.now(UTC) + timedelta(days=15))
    convert = lead_svc.ConvertLeadRequest(
        request_id=rid(), lead_id=lead.lead_id, product=common_pb2.PRODUCT_TYPE_UNSECURED_LOAN, expected_close_time=close
    )
    conversion = suite.lead.ConvertLead(convert, metadata=RM).conversion
    documents = ["credit_check_consent_signed", "id_document_verified", "income_documents_collected"]
    for stage, items in (("needs_analysis", []), ("documents_collected", documents)):
        suite.opportunity.MoveStage(
            opp_svc.MoveStageRequest(request_id=rid(), opportunity_id=conversion.opportunity_id, stage=stage, completed_items=items), metadata=RM
        )
    submitted = suite.opportunity.SubmitApplication(
        opp_svc.SubmitApplicationRequest(request_id=rid(), opportunity_id=conversion.opportunity_id), metadata=RM
    ).opportunity
    assert submitted.stage == "submitted_to_los" and submitted.application_id

    decision = new_event(
        events_pb2.LosDecisionReported,
        "los",
        "los-case-1",
        datetime.now(UTC),
        application_id=submitted.application_id,
        decision=opportunity_pb2.LOS_DECISION_APPROVED,
        approved_amount=common_pb2.Money(currency_code="VND", amount_minor=45_000_000),
    )
    publisher = BatchPublisher(suite.amqp_uri, "los")
    publisher.publish([OutgoingEvent(decision.metadata.event_id, "LosDecisionReported", decision.SerializeToString())])
    publisher.close()

    def opportunity() -> opportunity_pb2.Opportunity:
        return suite.opportunity.GetOpportunity(opp_svc.GetOpportunityRequest(opportunity_id=conversion.opportunity_id), metadata=RM).opportunity

    wait_until(lambda: opportunity().status == opportunity_pb2.OPPORTUNITY_STATUS_WON, what="the worker to apply the LOS's approval")
    assert opportunity().amount.amount_minor == 45_000_000

    def loan_opened() -> bool:
        holdings = suite.account.ListHoldings(account_svc.ListHoldingsRequest(account_id=conversion.account_id), metadata=RM).holdings
        return [(h.product_type, h.balance.amount_minor) for h in holdings] == [(common_pb2.PRODUCT_TYPE_UNSECURED_LOAN, 45_000_000)]

    wait_until(loan_opened, what="the account worker to open the loan from OpportunityWon")

    reopen = opp_svc.ReopenOpportunityRequest(request_id=rid(), opportunity_id=conversion.opportunity_id, reason="disbursement cancelled")
    assert suite.opportunity.ReopenOpportunity(reopen, metadata=RM).opportunity.stage == "submitted_to_los"

    seen: dict[str, bytes] = {}

    def announced() -> bool:
        method, _props, body = channel.basic_get(queue, auto_ack=True)
        if method is not None:
            seen[method.routing_key] = body
        return {"ApplicationSubmitted", "OpportunityReopened"} <= set(seen)

    wait_until(announced, what="ApplicationSubmitted and OpportunityReopened on opportunity.events")
    reopened = events_pb2.OpportunityReopened.FromString(seen["OpportunityReopened"])
    assert (reopened.previous_status, reopened.reason) == (opportunity_pb2.OPPORTUNITY_STATUS_WON, "disbursement cancelled")
    connection.close()
