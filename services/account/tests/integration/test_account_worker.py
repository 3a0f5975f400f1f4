"""The account worker's reaction to LeadConverted, on a real database without a broker.

The nameko worker class is instantiated with its real use cases (nameko's worker_factory), so
the event → command translation, the inbox and the outbox are all exercised.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from nameko.testing.services import worker_factory

from crm.account.v1 import account_service_pb2, events_pb2
from crm.account.v1.account_service_pb2_grpc import AccountServiceStub
from crm.common.v1 import common_pb2
from crm.lead.v1 import events_pb2 as lead_events
from crm.lead.v1 import lead_pb2
from crm_account.entrypoints.worker import AccountWorker
from crm_account.service_layer.use_cases import AccountUseCases
from crm_common.auth import Principal, use_principal
from crm_common.db import new_id
from crm_common.errors import InvalidArgument, NotFound
from crm_common.events.dead_letters import consumer_queues
from crm_common.testing import LiveService, bearer, delivery

RM = bearer("rm-1", ["rm"])
CONSUMER = "account.on_lead_converted"
CONVERTED_AT = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)


def converted(
    account_id: str, lead_id: str = "lead-1", channel: lead_pb2.Channel.ValueType = lead_pb2.CHANNEL_LANDING_PAGE, campaign: str = "camp-9"
) -> lead_events.LeadConverted:
    event = lead_events.LeadConverted(
        metadata=common_pb2.EventMetadata(event_id=new_id(), producer="lead", actor="rm-1", correlation_id="convert-req-1"),
        lead_id=lead_id,
        conversion=lead_pb2.Conversion(account_id=account_id, opportunity_id=new_id(), convert_time=Timestamp(seconds=int(CONVERTED_AT.timestamp()))),
        source=lead_pb2.LeadSource(channel=channel, campaign_id=campaign, utm=lead_pb2.Utm(source="facebook", medium="cpc", campaign="tet-2027")),
        product=common_pb2.PRODUCT_TYPE_CREDIT_CARD,
    )
    event.metadata.occur_time.GetCurrentTime()
    return event


@pytest.fixture(autouse=True)
def as_the_worker() -> Iterator[None]:
    """Handlers run as the service itself, as the consumer runs them (crm_common.events.consumer)."""
    with use_principal(Principal("service:account", ("service",))):
        yield


@pytest.fixture
def worker(use_cases: AccountUseCases) -> AccountWorker:
    service: AccountWorker = worker_factory(AccountWorker, use_cases=use_cases)
    return service


@pytest.fixture
def account_id(stub: AccountServiceStub) -> str:
    request = account_service_pb2.ResolvePersonAccountRequest(request_id=new_id(), full_name="Trần Thị Bình", phone="0912345678")
    return str(stub.ResolvePersonAccount(request, metadata=RM).account.account_id)


def get(stub: AccountServiceStub, account_id: str) -> account_service_pb2.GetAccountResponse:
    reply: account_service_pb2.GetAccountResponse = stub.GetAccount(account_service_pb2.GetAccountRequest(account_id=account_id), metadata=RM)
    return reply


def test_records_first_touch_acquisition_and_publishes_account_updated(
    api: LiveService, stub: AccountServiceStub, worker: AccountWorker, account_id: str
) -> None:
    with use_principal(Principal("service:account", ("service",))):
        assert worker.on_lead_converted(delivery(converted(account_id), CONSUMER)) == "ok"

    account = get(stub, account_id).account
    acquisition = account.acquisition
    assert (acquisition.lead_id, acquisition.channel, acquisition.campaign_id) == ("lead-1", "LANDING_PAGE", "camp-9")
    assert (acquisition.utm_source, acquisition.utm_medium, acquisition.utm_campaign) == ("facebook", "cpc", "tet-2027")
    assert acquisition.acquire_time.ToDatetime(tzinfo=UTC) == CONVERTED_AT
    assert account.audit.updated_by == "service:account"

    [event] = api.events(events_pb2.AccountUpdated)
    assert event.account.acquisition == account.acquisition and event.account.version == account.version
    assert (list(event.changed_fields), event.account.phone.e164) == (["acquisition"], "+849*****678")
    assert event.metadata.correlation_id == "convert-req-1"


def test_a_redelivered_event_has_one_effect(api: LiveService, stub: AccountServiceStub, worker: AccountWorker, account_id: str) -> None:
    event = converted(account_id)
    assert worker.on_lead_converted(delivery(event, CONSUMER)) == "ok"
    assert worker.on_lead_converted(delivery(event, CONSUMER)) == "duplicate"
    assert api.outbox_types() == ["AccountCreated", "AccountUpdated"]
    assert api.count("inbox") == 1


def test_a_later_conversion_keeps_the_first_touch(api: LiveService, stub: AccountServiceStub, worker: AccountWorker, account_id: str) -> None:
    worker.on_lead_converted(delivery(converted(account_id, "lead-1"), CONSUMER))
    assert worker.on_lead_converted(delivery(converted(account_id, "lead-2", lead_pb2.CHANNEL_BRANCH), CONSUMER)) == "ok"
    assert get(stub, account_id).account.acquisition.lead_id == "lead-1"
    assert api.outbox_types() == ["AccountCreated", "AccountUpdated"]
    assert api.count("inbox") == 2


def test_unspecified_channel_is_recorded_empty(api: LiveService, stub: AccountServiceStub, worker: AccountWorker, account_id: str) -> None:
    worker.on_lead_converted(delivery(converted(account_id, channel=lead_pb2.CHANNEL_UNSPECIFIED), CONSUMER))
    assert get(stub, account_id).account.acquisition.channel == ""


def test_unknown_account_raises_so_the_event_is_retried(api: LiveService, worker: AccountWorker) -> None:
    with pytest.raises(NotFound):
        worker.on_lead_converted(delivery(converted(new_id()), CONSUMER))
    # Rolled back: a retry of the same event is not taken for a duplicate.
    assert api.count("inbox") == 0 and api.outbox_types() == []


def test_event_without_account_id_raises(api: LiveService, worker: AccountWorker) -> None:
    with pytest.raises(InvalidArgument):
        worker.on_lead_converted(delivery(converted(""), CONSUMER))
    assert api.count("inbox") == 0


def test_each_consumed_event_has_its_own_queue() -> None:
    assert sorted(consumer_queues(AccountWorker)) == [
        "evt-lead-ErasureConfirmed--account.on_lead_erasure_confirmed",
        "evt-lead-LeadConverted--account.on_lead_converted",
        "evt-onboarding-KycOutcomeReported--account.on_kyc_outcome_reported",
        "evt-opportunity-ErasureConfirmed--account.on_opportunity_erasure_confirmed",
        "evt-opportunity-OpportunityReopened--account.on_opportunity_reopened",
        "evt-opportunity-OpportunityWon--account.on_opportunity_won",
        "evt-territory-quota-AccountTerritoryAssigned--account.on_account_territory_assigned",
    ]
