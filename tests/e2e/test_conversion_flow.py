"""Capture → qualify → convert across the real services, broker and databases."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import grpc
import pika
import pytest
from sqlalchemy import create_engine, text

from crm.account.v1 import account_service_pb2 as account_svc
from crm.common.v1 import common_pb2
from crm.lead.v1 import events_pb2 as lead_events
from crm.lead.v1 import lead_pb2
from crm.lead.v1 import lead_service_pb2 as lead_svc
from crm.opportunity.v1 import opportunity_service_pb2 as opp_svc
from crm_common.events.publisher import BatchPublisher, OutgoingEvent
from crm_common.grpc.status import field_violations
from crm_common.testing import bearer, scrape_metric, wait_until

MARKETING = bearer("mkt-1", ["marketing"])
# The sales floor's branch manager: reaches the branch's leads and the unassigned queue (data scopes).
MANAGER = bearer("head-of-sales", ["branch_manager"], branches=["HCM-01"])
AGENT = bearer("agent-7", ["telesales"])
RM = bearer("rm-1", ["rm"])


def rid() -> str:
    return str(uuid.uuid4())


def sql_lead(suite, phone: str, email: str, name: str = "Nguyễn Văn An", national_id: str = "") -> lead_pb2.Lead:
    lead = suite.lead.CreateLead(
        lead_svc.CreateLeadRequest(
            request_id=rid(),
            lead=lead_pb2.LeadInput(
                contact=lead_pb2.ContactInput(full_name=name, phone=phone, email=email, national_id=national_id),
                product_interest=common_pb2.PRODUCT_TYPE_CREDIT_CARD,
                source=lead_pb2.LeadSource(
                    channel=lead_pb2.CHANNEL_LANDING_PAGE, campaign_id="cmp-tet", utm=lead_pb2.Utm(source="facebook", medium="cpc")
                ),
                requested_amount=common_pb2.Money(currency_code="VND", amount_minor=50_000_000),
            ),
        ),
        metadata=MARKETING,
    ).lead
    to_agent = lead_svc.AssignLeadRequest(request_id=rid(), lead_id=lead.lead_id, owner_id="agent-7", branch_id="HCM-01")
    suite.lead.AssignLead(to_agent, metadata=MANAGER)
    suite.lead.RecordContactAttempt(
        lead_svc.RecordContactAttemptRequest(
            request_id=rid(), lead_id=lead.lead_id, channel=lead_pb2.CONTACT_CHANNEL_PHONE, outcome=lead_pb2.CONTACT_OUTCOME_REACHED
        ),
        metadata=AGENT,
    )
    suite.lead.QualifyLead(lead_svc.QualifyLeadRequest(request_id=rid(), lead_id=lead.lead_id), metadata=AGENT)
    # Handed to the RM who converts it: an RM reaches the leads of its own book.
    return suite.lead.AssignLead(lead_svc.AssignLeadRequest(request_id=rid(), lead_id=lead.lead_id, owner_id="rm-1"), metadata=MANAGER).lead


def lead_db(suite):
    return create_engine(suite.specs["lead"].database_url)


def test_capture_qualify_convert_creates_account_and_opportunity_once(suite) -> None:
    lead = sql_lead(suite, "0912 000 111", "an.e2e@example.com")
    assert lead.status == lead_pb2.LEAD_STATUS_SQL
    request = lead_svc.ConvertLeadRequest(request_id=rid(), lead_id=lead.lead_id)
    converted = suite.lead.ConvertLead(request, metadata=RM)
    assert converted.lead.status == lead_pb2.LEAD_STATUS_CONVERTED
    assert converted.conversion.matched_existing_account is False
    again = suite.lead.ConvertLead(request, metadata=RM)  # an idempotent repeat
    assert again.conversion.opportunity_id == converted.conversion.opportunity_id

    accounts = suite.account.SearchAccounts(account_svc.SearchAccountsRequest(phone="+84912000111"), metadata=RM).accounts
    assert [a.account_id for a in accounts] == [converted.conversion.account_id]
    opportunities = suite.opportunity.ListOpportunities(opp_svc.ListOpportunitiesRequest(source_lead_id=lead.lead_id), metadata=RM).opportunities
    assert [o.opportunity_id for o in opportunities] == [converted.conversion.opportunity_id]
    assert opportunities[0].campaign_id == "cmp-tet" and opportunities[0].amount.amount_minor == 50_000_000

    # Events delivered: the account learns how it was acquired (LeadConverted), and the lead
    # tracks its opportunity (OpportunityCreated).
    def acquired() -> bool:
        account = suite.account.GetAccount(account_svc.GetAccountRequest(account_id=converted.conversion.account_id), metadata=RM).account
        return account.acquisition.lead_id == lead.lead_id

    wait_until(acquired, what="the account worker to record the acquisition from LeadConverted")
    engine = lead_db(suite)
    with engine.connect() as conn:
        wait_until(
            lambda: conn.execute(text("select count(*) from lead_opportunities where lead_id = :l"), {"l": lead.lead_id}).scalar() == 1,
            what="the lead worker to record OpportunityCreated",
        )
    engine.dispose()


def test_an_existing_customer_is_matched_not_duplicated(suite) -> None:
    first = sql_lead(suite, "0933 000 222", "binh.e2e@example.com", "Trần Thị Bình")
    first_conversion = suite.lead.ConvertLead(lead_svc.ConvertLeadRequest(request_id=rid(), lead_id=first.lead_id), metadata=RM).conversion
    # The same person comes back for another product, with the phone written another way.
    second = sql_lead(suite, "+84-933-000-222", "binh.other@example.com", "Trần Thị Bình")
    conversion = suite.lead.ConvertLead(lead_svc.ConvertLeadRequest(request_id=rid(), lead_id=second.lead_id), metadata=RM).conversion
    assert conversion.matched_existing_account is True
    assert conversion.account_id == first_conversion.account_id
    assert conversion.opportunity_id != first_conversion.opportunity_id
    assert len(suite.account.SearchAccounts(account_svc.SearchAccountsRequest(phone="0933000222"), metadata=RM).accounts) == 1


def test_a_redelivered_event_has_no_second_effect(suite) -> None:
    # Listen beside the account worker to capture the real LeadConverted as published.
    tap = pika.BlockingConnection(pika.URLParameters(suite.amqp_uri))
    channel = tap.channel()
    channel.exchange_declare("lead.events", "topic", durable=True)
    queue = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(queue, "lead.events", "LeadConverted")
    lead = sql_lead(suite, "0944 000 333", "cuong.e2e@example.com", "Lê Văn Cường")
    conversion = suite.lead.ConvertLead(lead_svc.ConvertLeadRequest(request_id=rid(), lead_id=lead.lead_id), metadata=RM).conversion

    def captured():
        method, props, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            return None
        event = lead_events.LeadConverted.FromString(body)
        return (event, props, body) if event.lead_id == lead.lead_id else None

    event, props, body = wait_until(captured, what="LeadConverted on the broker")
    tap.close()
    # The event carries its id and the trace of the ConvertLead call that caused it.
    assert props.headers["x-event-id"] == event.metadata.event_id == props.message_id
    assert props.headers["traceparent"].startswith("00-") and props.content_type == "application/x-protobuf"
    port = suite.specs["account"].worker_metrics_port

    def consumed(outcome: str) -> float:
        return scrape_metric(port, "crm_events_consumed_total", event_type="LeadConverted", outcome=outcome)

    account_request = account_svc.GetAccountRequest(account_id=conversion.account_id)
    wait_until(
        lambda: suite.account.GetAccount(account_request, metadata=RM).account.acquisition.lead_id == lead.lead_id, what="the first delivery's effect"
    )
    before = suite.account.GetAccount(account_request, metadata=RM).account
    duplicates = consumed("duplicate")
    # Deliver the very same message twice more, as a broker redelivery or a relay retry would.
    publisher = BatchPublisher(suite.amqp_uri, "lead")
    again = OutgoingEvent(event.metadata.event_id, "LeadConverted", body, {k: str(v) for k, v in (props.headers or {}).items()})
    publisher.publish([again, again])
    publisher.close()
    wait_until(lambda: consumed("duplicate") >= duplicates + 2, what="both redeliveries to be recognised as duplicates")
    assert suite.account.GetAccount(account_request, metadata=RM).account == before


def test_a_poison_message_is_dead_lettered_and_can_be_replayed(suite) -> None:
    publisher = BatchPublisher(suite.amqp_uri, "opportunity")
    publisher.publish([OutgoingEvent("poison-e2e", "OpportunityCreated", b"\x0a\xff\xffnot protobuf")])
    publisher.close()
    cli = str(Path(sys.executable).with_name("crm-lead"))

    def dead_letters() -> str:
        listed = subprocess.run([cli, "dlq", "list"], env=suite.env("lead"), capture_output=True, text=True, timeout=60)
        return listed.stdout if "poison-e2e" in listed.stdout else ""

    listing = wait_until(dead_letters, timeout=30, what="the poison message to reach the dead-letter queue")
    assert "evt-opportunity-OpportunityCreated--lead.on_opportunity_created" in listing
    assert "undecodable" in listing
    replay = subprocess.run([cli, "dlq", "replay", "--event-id", "poison-e2e"], env=suite.env("lead"), capture_output=True, text=True, timeout=60)
    assert "replayed 1" in replay.stdout
    # Replayed, it is handled again; still poison, it returns to the dead-letter queue marked as replayed.
    port = suite.specs["lead"].worker_metrics_port
    wait_until(
        lambda: scrape_metric(port, "crm_events_consumed_total", event_type="OpportunityCreated", outcome="dead_letter") >= 2,
        timeout=30,
        what="the replayed message to be handled again",
    )
    assert "replayed=1" in wait_until(dead_letters, timeout=30, what="the replayed message back in the dead-letter queue")


def test_bad_input_gets_invalid_argument_with_field_violations(suite) -> None:
    with pytest.raises(grpc.RpcError) as err:
        suite.lead.CreateLead(
            lead_svc.CreateLeadRequest(
                request_id=rid(),
                lead=lead_pb2.LeadInput(
                    contact=lead_pb2.ContactInput(full_name="X", phone="12", email="nope"),
                    source=lead_pb2.LeadSource(channel=lead_pb2.CHANNEL_WEB_FORM),
                ),
            ),
            metadata=MARKETING,
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {f for f, _ in field_violations(err.value)} == {"lead.contact.phone", "lead.contact.email"}
    with pytest.raises(grpc.RpcError) as err:
        suite.account.ResolvePersonAccount(account_svc.ResolvePersonAccountRequest(request_id=rid(), full_name="X", national_id="123"), metadata=RM)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(err.value)


def test_a_failing_handler_is_retried_with_backoff_then_parked(suite) -> None:
    """LeadConverted for an account the account service does not know: each attempt fails,
    is retried through the retry queue, and after EVENT_MAX_ATTEMPTS (3 here) is parked."""
    event = lead_events.LeadConverted(lead_id="lead-unknown")
    event.metadata.event_id = rid()
    event.metadata.producer = "lead"
    event.metadata.occur_time.GetCurrentTime()
    event.conversion.account_id = str(uuid.uuid4())
    publisher = BatchPublisher(suite.amqp_uri, "lead")
    publisher.publish([OutgoingEvent(event.metadata.event_id, "LeadConverted", event.SerializeToString())])
    publisher.close()
    port = suite.specs["account"].worker_metrics_port
    wait_until(
        lambda: scrape_metric(port, "crm_events_consumed_total", event_type="LeadConverted", outcome="dead_letter") >= 1,
        timeout=30,
        what="the failing event to be parked after its retries",
    )
    assert scrape_metric(port, "crm_events_consumed_total", event_type="LeadConverted", outcome="retry") >= 2
    cli = str(Path(sys.executable).with_name("crm-account"))
    listed = subprocess.run([cli, "dlq", "list"], env=suite.env("account"), capture_output=True, text=True, timeout=60).stdout
    line = next(row for row in listed.splitlines() if event.metadata.event_id in row)
    assert "attempts=3" in line
    queue = "evt-lead-LeadConverted--account.on_lead_converted.dlq"
    wait_until(lambda: scrape_metric(port, "crm_dead_letter_queue_depth", queue=queue) >= 1, timeout=10, what="the dead-letter depth gauge")


def test_a_conversion_interrupted_by_an_outage_completes_by_itself(suite) -> None:
    """The opportunity service is down during ConvertLead: the caller gets UNAVAILABLE and the lead
    stays SQL; once the service is back, the lead API's recovery loop (acting as the lead service)
    finishes the conversion without anyone calling again, and without duplicates."""
    lead = sql_lead(suite, "0966 000 444", "dung.e2e@example.com", "Phạm Văn Dũng")
    stack, spec = suite.stack, suite.specs["opportunity"]
    stack.stop_process(stack.process("opportunity", "api"))
    try:
        with pytest.raises(grpc.RpcError) as err:
            suite.lead.ConvertLead(lead_svc.ConvertLeadRequest(request_id=rid(), lead_id=lead.lead_id), metadata=RM, timeout=20)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        assert suite.lead.GetLead(lead_svc.GetLeadRequest(lead_id=lead.lead_id), metadata=RM).lead.status == lead_pb2.LEAD_STATUS_SQL
    finally:
        stack.start_process(spec, "api")
        stack.wait_healthy(spec, 30)

    def converted() -> lead_pb2.Lead | None:
        found = suite.lead.GetLead(lead_svc.GetLeadRequest(lead_id=lead.lead_id), metadata=RM).lead
        return found if found.status == lead_pb2.LEAD_STATUS_CONVERTED else None

    done = wait_until(converted, timeout=30, what="the recovery loop to finish the conversion")
    opportunities = suite.opportunity.ListOpportunities(opp_svc.ListOpportunitiesRequest(source_lead_id=lead.lead_id), metadata=RM).opportunities
    assert [o.opportunity_id for o in opportunities] == [done.conversion.opportunity_id]
    accounts = suite.account.SearchAccounts(account_svc.SearchAccountsRequest(phone="0966000444"), metadata=RM).accounts
    assert [a.account_id for a in accounts] == [done.conversion.account_id]
