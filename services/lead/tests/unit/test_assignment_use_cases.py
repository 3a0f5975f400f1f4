"""Assignment use cases over in-memory fakes: the first-contact SLA starts when a lead is
assigned, hot leads get the shorter one, and a team takes leads in turn."""

from __future__ import annotations

from datetime import timedelta

import pytest
from lead_fakes import NOW, LeadService, branch_scope, lead_service, make_lead

from crm_common.auth import Principal, use_data_scope, use_principal
from crm_common.errors import FailedPrecondition, NotFound
from crm_common.testing_fakes import caller_key
from crm_lead.domain.model import Status
from crm_lead.service_layer import commands


@pytest.fixture(autouse=True)
def caller():  # type: ignore[no-untyped-def]
    with use_principal(Principal("manager-1", ("sales_manager",))) as principal, use_data_scope(branch_scope(principal)):
        yield principal


@pytest.fixture
def service() -> LeadService:
    return lead_service()


def assign(service: LeadService, request_id: str, owner_id: str = "", team_id: str = "", lead_id: str = "lead-1"):  # type: ignore[no-untyped-def]
    return service.use_cases.assignment.assign_lead(commands.AssignLead(caller_key(request_id, request_id), lead_id, owner_id, team_id))


def contact(service: LeadService, request_id: str, outcome: str = "NO_ANSWER"):  # type: ignore[no-untyped-def]
    cmd = commands.RecordContactAttempt(caller_key(request_id, request_id), "lead-1", "PHONE", outcome, "", None)
    return service.use_cases.assignment.record_contact_attempt(cmd)


@pytest.mark.parametrize(("score", "minutes"), [(59, 240), (60, 30), (95, 30)])
def test_assignment_starts_the_first_contact_clock(service: LeadService, score: int, minutes: int) -> None:
    service.add(make_lead(score=score))
    lead = assign(service, "a-1", owner_id="agent-1")
    assert (lead.owner_id, lead.assigned_at, lead.first_contact_due_at) == ("agent-1", NOW, NOW + timedelta(minutes=minutes))
    assert service.stored("lead-1").first_contact_due_at == NOW + timedelta(minutes=minutes)
    [event] = service.store.published
    assert type(event).__name__ == "LeadAssigned"
    assert event.assignment.owner_id == "agent-1"


def test_a_reassignment_before_first_contact_restarts_the_clock_and_after_it_does_not(service: LeadService) -> None:
    service.add(make_lead())
    assign(service, "a-1", owner_id="agent-1")
    service.clock.advance(minutes=100)
    assert assign(service, "a-2", owner_id="agent-2").first_contact_due_at == NOW + timedelta(minutes=100 + 240)
    contact(service, "c-1")
    service.clock.advance(minutes=10)
    assert assign(service, "a-3", owner_id="agent-3").first_contact_due_at == NOW + timedelta(minutes=100 + 240)


def test_a_late_first_contact_is_reported_as_breaching_the_sla(service: LeadService) -> None:
    service.add(make_lead())
    assign(service, "a-1", owner_id="agent-1")
    service.clock.advance(minutes=241)
    lead, attempt = contact(service, "c-1", "REACHED")
    assert (lead.status, lead.first_contact_at, attempt.contacted_at) == (Status.CONTACTED, service.clock.now, service.clock.now)
    contacted = service.store.published[-1]
    assert (contacted.first_contact_sla_breached, contacted.minutes_to_first_contact) == (True, 241)
    # A later attempt is not a first contact: it carries no first-contact facts.
    service.clock.advance(minutes=5)
    contact(service, "c-2")
    assert service.store.published[-1].minutes_to_first_contact == 0


def test_a_first_contact_within_the_first_minute_says_it_is_one(service: LeadService) -> None:
    """Minute 0 is a first contact too: the event says so (first_contact), and a later attempt,
    with the same zero minutes, says it is not."""
    service.add(make_lead())
    assign(service, "a-1", owner_id="agent-1")
    service.clock.advance(seconds=40)
    contact(service, "c-1", "REACHED")
    first = service.store.published[-1]
    assert (first.first_contact, first.minutes_to_first_contact, first.first_contact_sla_breached) == (True, 0, False)
    contact(service, "c-2")
    later = service.store.published[-1]
    assert (later.first_contact, later.minutes_to_first_contact) == (False, 0)


def test_a_team_takes_leads_in_turn(service: LeadService) -> None:
    service.use_cases.assignment.set_team_members(commands.SetTeamMembers(caller_key("t-1", "t-1"), "team-hn", [" agent-1", "agent-2 "]))
    owners = []
    for n in range(3):
        service.add(make_lead(lead_id=f"lead-{n}"))
        owners.append(assign(service, f"a-{n}", team_id="team-hn", lead_id=f"lead-{n}").owner_id)
    assert owners == ["agent-1", "agent-2", "agent-1"]


def test_an_unknown_team_or_a_marketing_lead_is_refused_without_a_trace(service: LeadService) -> None:
    service.add(make_lead(status=Status.NURTURE))
    with pytest.raises(NotFound):
        assign(service, "a-1", team_id="team-none")
    with pytest.raises(FailedPrecondition, match="only MQL, CONTACTED or SQL"):
        assign(service, "a-2", owner_id="agent-1")
    assert (service.store.commits, service.store.published, service.stored("lead-1").owner_id) == (0, [], "")
