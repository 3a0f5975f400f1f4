"""The territory worker's handlers over the real database: accounts evaluated on their own change
events, leads routed from LeadCaptured/LeadQualified, open opportunities counted, redeliveries
ignored."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from nameko.testing.services import worker_factory
from territory_bank import OPS, day, plan, set_up_bank, today

from crm.account.v1 import account_pb2
from crm.account.v1 import events_pb2 as account_events
from crm.common.v1 import common_pb2
from crm.lead.v1 import events_pb2 as lead_events
from crm.lead.v1 import lead_pb2
from crm.opportunity.v1 import events_pb2 as opportunity_events
from crm.opportunity.v1 import opportunity_pb2
from crm.territory.v1 import events_pb2
from crm.territory.v1 import territory_service_pb2 as pb
from crm.territory.v1.territory_service_pb2_grpc import TerritoryServiceStub
from crm_common.auth import Principal, use_principal
from crm_common.events.envelope import new_event
from crm_common.testing import LiveService, delivery
from crm_territory.entrypoints.worker import TerritoryWorker


@pytest.fixture
def worker(api: LiveService) -> TerritoryWorker:
    set_up_bank(TerritoryServiceStub(api.channel))
    return worker_factory(TerritoryWorker, use_cases=api.app.use_cases)  # type: ignore[no-any-return]


def account_event(cls: type, account_id: str, province: str, tier: int = 0, **fields: object) -> object:
    account = account_pb2.Account(
        account_id=account_id, type=account_pb2.ACCOUNT_TYPE_PERSON, value_tier=tier, branch_id="", preferred_language="vi-VN"
    )
    account.address.province_code = province
    return new_event(cls, "account", "", datetime.now(UTC), account=account, **fields)


def test_each_account_is_evaluated_on_its_own_change_event(api: LiveService, worker: TerritoryWorker) -> None:
    with use_principal(Principal("service:territory", ("service",))):
        created = account_event(account_events.AccountCreated, "acc-1", "01")
        assert worker.on_account_created(delivery(created, "territory-quota.on_account_created")) == "assigned to VN.NORTH.HN.HN01"
        assert worker.on_account_created(delivery(created, "territory-quota.on_account_created")) == "duplicate"
        richer = account_event(account_events.AccountUpdated, "acc-1", "01", account_pb2.VALUE_TIER_AFFLUENT, changed_fields=["value_tier"])
        assert worker.on_account_updated(delivery(richer, "territory-quota.on_account_updated")) == "assigned to VN.NORTH.HN.HNAFF"
        recorded = account_event(account_events.AccountUpdated, "acc-1", "01", changed_fields=["owner_id", "territory_id"])
        assert worker.on_account_updated(delivery(recorded, "territory-quota.on_account_updated")) == "nothing the rules read changed"
        elsewhere = account_event(account_events.AccountCreated, "acc-2", "48")
        assert worker.on_account_created(delivery(elsewhere, "territory-quota.on_account_created")) == "unassigned: no rule matched"
    assigned = api.events(events_pb2.AccountTerritoryAssigned)
    assert [(e.assignment.account_id, e.assignment.territory_id, e.assignment.owner_id) for e in assigned] == [
        ("acc-1", "VN.NORTH.HN.HN01", "rm-a"),
        ("acc-1", "VN.NORTH.HN.HNAFF", "rm-p"),
    ]
    assert "rule R-AFF matched" in assigned[1].assignment.reason


def test_leads_are_routed_when_captured_for_sales_or_qualified_later(api: LiveService, worker: TerritoryWorker) -> None:
    def captured(lead_id: str, status: int, province: str) -> object:
        lead = lead_pb2.Lead(lead_id=lead_id, status=status, product_interest=common_pb2.PRODUCT_TYPE_CREDIT_CARD, score=40)
        lead.contact.province_code = province
        return new_event(lead_events.LeadCaptured, "lead", "", datetime.now(UTC), lead=lead)

    with use_principal(Principal("service:territory", ("service",))):
        assert worker.on_lead_captured(delivery(captured("l-1", lead_pb2.LEAD_STATUS_MQL, "79"), "territory-quota.on_lead_captured")) == (
            "routed to rm-s in VN.SOUTH.HCM.HCM01"
        )
        assert (
            worker.on_lead_captured(delivery(captured("l-2", lead_pb2.LEAD_STATUS_NEW, "01"), "territory-quota.on_lead_captured"))
            == "kept: not for sales yet"
        )
        scored = new_event(lead_events.LeadScored, "lead", "", datetime.now(UTC), lead_id="l-2", score=75)
        assert worker.on_lead_scored(delivery(scored, "territory-quota.on_lead_scored")) == "score kept"
        qualified = new_event(lead_events.LeadQualified, "lead", "", datetime.now(UTC), lead_id="l-2", status=lead_pb2.LEAD_STATUS_MQL)
        assert worker.on_lead_qualified(delivery(qualified, "territory-quota.on_lead_qualified")) == "routed to rm-a in VN.NORTH.HN.HN01"
        again = new_event(lead_events.LeadQualified, "lead", "", datetime.now(UTC), lead_id="l-2", status=lead_pb2.LEAD_STATUS_SQL)
        assert worker.on_lead_qualified(delivery(again, "territory-quota.on_lead_qualified")) == "already routed to rm-a"
        unknown = new_event(lead_events.LeadQualified, "lead", "", datetime.now(UTC), lead_id="l-9", status=lead_pb2.LEAD_STATUS_SQL)
        assert worker.on_lead_qualified(delivery(unknown, "territory-quota.on_lead_qualified")).startswith("unknown lead")
    routed = api.events(events_pb2.LeadRouted)
    assert [(e.lead_id, e.decision.owner_id, e.trigger) for e in routed] == [
        ("l-1", "rm-s", events_pb2.ROUTING_TRIGGER_LEAD_CAPTURED),
        ("l-2", "rm-a", events_pb2.ROUTING_TRIGGER_LEAD_QUALIFIED),
    ]


def test_open_opportunities_count_in_a_realignment_preview(api: LiveService, worker: TerritoryWorker) -> None:
    stub = TerritoryServiceStub(api.channel)
    with use_principal(Principal("service:territory", ("service",))):
        worker.on_account_created(delivery(account_event(account_events.AccountCreated, "acc-1", "01"), "territory-quota.on_account_created"))
        for opportunity_id in ("o-1", "o-2", "o-3"):
            opportunity = opportunity_pb2.Opportunity(opportunity_id=opportunity_id, account_id="acc-1")
            created = new_event(opportunity_events.OpportunityCreated, "opportunity", "", datetime.now(UTC), opportunity=opportunity)
            assert worker.track_opportunity_created(delivery(created, "territory-quota.track_opportunity_created")) == "open"
        lost = new_event(
            opportunity_events.OpportunityLost, "opportunity", "", datetime.now(UTC), opportunity=opportunity_pb2.Opportunity(opportunity_id="o-3")
        )
        assert worker.track_opportunity_lost(delivery(lost, "territory-quota.track_opportunity_lost")) == "closed"
    from datetime import timedelta

    from territory_bank import rule

    moved = plan(stub, rules=[rule("R-ALL", 1, "VN.SOUTH.HCM.HCM01", "T-HCM01")], effective_date=day(today() + timedelta(days=3)))
    preview = stub.PreviewModelVersion(pb.PreviewModelVersionRequest(version=moved.version.version), metadata=OPS, timeout=30).realignment
    assert (preview.accounts_moved, preview.opportunities_moved) == (1, 2)
    assert {c.key: (c.opportunities_in, c.opportunities_out) for c in preview.by_owner} == {"rm-a": (0, 2), "rm-s": (2, 0)}
