"""Qualification use cases over in-memory fakes: a refused transition writes and publishes
nothing, and a repeated request answers with its first result."""

from __future__ import annotations

import copy

import pytest
from lead_fakes import NOW, LeadService, branch_scope, lead_service, make_lead

from crm_common.auth import Principal, use_data_scope, use_principal
from crm_common.errors import FailedPrecondition, InvalidArgument
from crm_common.testing_fakes import caller_key
from crm_common.unit_of_work import Idempotent
from crm_lead.domain.model import ContactAttempt, ContactOutcome, Status
from crm_lead.service_layer import commands


@pytest.fixture(autouse=True)
def caller():  # type: ignore[no-untyped-def]
    with use_principal(Principal("agent-1", ("telesales",))) as principal, use_data_scope(branch_scope(principal)):
        yield principal


@pytest.fixture
def service() -> LeadService:
    return lead_service()


def key(request_id: str = "req-1", fingerprint: str = "fp-1") -> Idempotent:
    return caller_key(request_id, fingerprint)


def reached(lead_id: str) -> ContactAttempt:
    return ContactAttempt("att-1", lead_id, "PHONE", ContactOutcome.REACHED, "", "agent-1", NOW)


def assert_nothing_written(service: LeadService, before: object) -> None:
    assert service.store.commits == 0
    assert service.store.published == []
    assert service.store.results == {}
    assert service.store.state == before


@pytest.mark.parametrize(
    ("status", "why"),
    [(Status.NEW, "needs a product interest"), (Status.MQL, "no contact attempt that reached"), (Status.DISQUALIFIED, "cannot become SQL")],
)
def test_a_refused_qualification_writes_and_publishes_nothing(service: LeadService, status: Status, why: str) -> None:
    service.add(make_lead(status=status))
    before = copy.deepcopy(service.store.state)
    with pytest.raises(FailedPrecondition, match=why):
        service.use_cases.qualification.qualify_lead(commands.QualifyLead(key(), "lead-1", "talked"))
    assert_nothing_written(service, before)


def test_qualifying_after_reaching_the_customer_moves_to_sql_and_says_so_once(service: LeadService) -> None:
    service.add(make_lead(status=Status.CONTACTED, owner_id="agent-1"))
    service.store.state.attempts.append(reached("lead-1"))
    lead = service.use_cases.qualification.qualify_lead(commands.QualifyLead(key(), "lead-1", "wants a card"))
    assert (lead.status, lead.status_note, lead.updated_by) == (Status.SQL, "wants a card", "agent-1")
    assert service.stored("lead-1").status == Status.SQL
    assert service.store.event_types() == ["LeadQualified"]
    # Kept under the caller-scoped key, as the idempotency_keys table holds it.
    assert service.store.results == {("QualifyLead", key().stored_id): ("fp-1", "lead-1")}


def test_a_repeated_request_returns_the_first_result_and_changes_nothing(service: LeadService) -> None:
    service.add(make_lead(status=Status.SQL))
    first = service.use_cases.qualification.disqualify_lead(commands.DisqualifyLead(key(), "lead-1", "NOT_INTERESTED", "no"))
    service.clock.advance(minutes=5)
    again = service.use_cases.qualification.disqualify_lead(commands.DisqualifyLead(key(), "lead-1", "NOT_INTERESTED", "no"))
    assert again == first
    assert service.store.event_types() == ["LeadDisqualified"]
    assert service.store.commits == 1
    with pytest.raises(InvalidArgument, match="already used for a different request"):
        service.use_cases.qualification.disqualify_lead(commands.DisqualifyLead(key(fingerprint="fp-other"), "lead-1", "DUPLICATE"))


def test_a_repeat_answers_as_before_even_when_the_lead_moved_on_since(service: LeadService) -> None:
    service.add(make_lead(status=Status.SQL, owner_id="agent-1"))
    service.use_cases.qualification.return_to_nurture(commands.ReturnToNurture(key("nurture-1"), "lead-1", "later"))
    service.use_cases.qualification.disqualify_lead(commands.DisqualifyLead(key("dq-1"), "lead-1", "NOT_INTERESTED"))
    # Run again, the first request would move the lead back to NURTURE (allowed from
    # DISQUALIFIED); as a repeat it is answered from its idempotency record instead.
    service.use_cases.qualification.return_to_nurture(commands.ReturnToNurture(key("nurture-1"), "lead-1", "later"))
    assert service.store.event_types() == ["LeadReturnedToNurture", "LeadDisqualified"]
    assert service.stored("lead-1").status == Status.DISQUALIFIED


def test_returning_to_nurture_reports_who_had_it_and_frees_it(service: LeadService) -> None:
    service.add(make_lead(status=Status.CONTACTED, owner_id="agent-9", team_id="team-hn"))
    lead = service.use_cases.qualification.return_to_nurture(commands.ReturnToNurture(key(), "lead-1", "not now"))
    assert (lead.status, lead.owner_id, lead.team_id, lead.status_note) == (Status.NURTURE, "", "", "not now")
    [event] = service.store.published
    assert (type(event).__name__, event.previous_owner_id) == ("LeadReturnedToNurture", "agent-9")


def test_interest_behaviour_promotes_a_nurtured_lead_and_is_rescored(service: LeadService) -> None:
    service.add(make_lead(status=Status.NURTURE))
    lead = service.use_cases.qualification.record_behaviour(commands.RecordBehaviour(key(), "lead-1", "PRICING_VIEW", None))
    assert lead.status == Status.MQL
    assert service.store.state.behaviours == [("lead-1", "PRICING_VIEW")]
    assert service.store.event_types()[-1] == "LeadQualified"


def test_behaviour_on_a_converted_lead_is_refused_without_a_trace(service: LeadService) -> None:
    service.add(make_lead(status=Status.CONVERTED))
    before = copy.deepcopy(service.store.state)
    with pytest.raises(FailedPrecondition, match="belongs to its account"):
        service.use_cases.qualification.record_behaviour(commands.RecordBehaviour(key(), "lead-1", "PRICING_VIEW", None))
    assert_nothing_written(service, before)
