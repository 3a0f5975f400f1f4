"""Leads assigned from the territory service's LeadRouted: the first-contact SLA starts at that
assignment; a manual AssignLead is an override that routing leaves in place."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from nameko.testing.services import worker_factory

from crm.lead.v1 import lead_pb2
from crm.lead.v1 import lead_service_pb2 as svc
from crm.territory.v1 import events_pb2 as territory_events
from crm.territory.v1 import territory_pb2
from crm_common.auth import Principal, use_principal
from crm_common.events.envelope import new_event
from crm_common.testing import bearer, delivery
from crm_lead.entrypoints.worker import LeadWorker

CONSUMER = "lead.on_lead_routed"
MARKETING = bearer("mkt", ["marketing"])
# Reads and manual assignment bank-wide: the data scopes are not what these tests are about.
ADMIN = bearer("admin-1", ["admin"])


def routed(lead_id: str, owner_id: str = "rm-a") -> territory_events.LeadRouted:
    decision = territory_pb2.AssignmentDecision(territory_id="VN.NORTH.HN.HN01", owner_id=owner_id, team_id="T-HN01", rule_id="R-HN")
    return new_event(
        territory_events.LeadRouted, "territory-quota", "", datetime.now(UTC), lead_id=lead_id, decision=decision,
        trigger=territory_events.ROUTING_TRIGGER_LEAD_CAPTURED,
    )  # fmt: skip


def capture(app, **overrides) -> lead_pb2.Lead:  # type: ignore[no-untyped-def]
    request = svc.CreateLeadRequest(request_id=str(uuid.uuid4()), lead=app.lead_input(**overrides))
    return app.stub.CreateLead(request, metadata=MARKETING).lead  # type: ignore[no-any-return]


def test_a_routed_lead_is_assigned_and_its_sla_starts(app) -> None:  # type: ignore[no-untyped-def]
    lead = capture(app)
    assert lead.status == lead_pb2.LEAD_STATUS_MQL and not lead.assignment.owner_id
    worker: LeadWorker = worker_factory(LeadWorker, use_cases=app.use_cases)
    event = routed(lead.lead_id)
    with use_principal(Principal("service:territory-quota", ("service",))):
        assert worker.on_lead_routed(delivery(event, CONSUMER)) == "assigned to rm-a"
        assert worker.on_lead_routed(delivery(event, CONSUMER)) == "duplicate"
        assert worker.on_lead_routed(delivery(routed(lead.lead_id), CONSUMER)) == "already with rm-a"
    assigned = app.stub.GetLead(svc.GetLeadRequest(lead_id=lead.lead_id), metadata=ADMIN).lead.assignment
    assert (assigned.owner_id, assigned.team_id, assigned.source) == ("rm-a", "T-HN01", lead_pb2.ASSIGNMENT_SOURCE_ROUTED)
    assert (assigned.routing_rule_id, assigned.territory_id) == ("R-HN", "VN.NORTH.HN.HN01")
    assert assigned.first_contact_due_time.ToDatetime(tzinfo=UTC) > assigned.assign_time.ToDatetime(tzinfo=UTC)


def test_a_manual_assignment_is_an_override_routing_leaves_alone(app) -> None:  # type: ignore[no-untyped-def]
    lead = capture(app)
    manual = app.stub.AssignLead(svc.AssignLeadRequest(request_id=str(uuid.uuid4()), lead_id=lead.lead_id, owner_id="agent-7"), metadata=ADMIN)
    assert manual.lead.assignment.source == lead_pb2.ASSIGNMENT_SOURCE_MANUAL
    worker: LeadWorker = worker_factory(LeadWorker, use_cases=app.use_cases)
    with use_principal(Principal("service:territory-quota", ("service",))):
        assert worker.on_lead_routed(delivery(routed(lead.lead_id), CONSUMER)) == "kept the manual assignment to agent-7"
    assert app.stub.GetLead(svc.GetLeadRequest(lead_id=lead.lead_id), metadata=ADMIN).lead.assignment.owner_id == "agent-7"


def test_routing_without_an_owner_changes_nothing(app) -> None:  # type: ignore[no-untyped-def]
    lead = capture(app)
    worker: LeadWorker = worker_factory(LeadWorker, use_cases=app.use_cases)
    with use_principal(Principal("service:territory-quota", ("service",))):
        assert worker.on_lead_routed(delivery(routed(lead.lead_id, owner_id=""), CONSUMER)) == "no owner: the rules left it unassigned"
    assert not app.stub.GetLead(svc.GetLeadRequest(lead_id=lead.lead_id), metadata=ADMIN).lead.assignment.owner_id
