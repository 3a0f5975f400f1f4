"""The conversion saga over in-memory fakes: a peer that is down leaves the lead SQL with its
saga recorded, and the recovery loop picks up only the stalled conversions and finishes them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from lead_fakes import NOW, LeadService, branch_scope, lead_service, make_lead

from crm_common.auth import Principal, use_data_scope, use_principal
from crm_common.errors import FailedPrecondition, Unavailable
from crm_common.testing_fakes import caller_key
from crm_lead.domain.model import Status
from crm_lead.service_layer import commands


@pytest.fixture(autouse=True)
def caller():  # type: ignore[no-untyped-def]
    with use_principal(Principal("rm-1", ("rm",))) as principal, use_data_scope(branch_scope(principal)):
        yield principal


@pytest.fixture
def service() -> LeadService:
    return lead_service()


def convert(service: LeadService, lead_id: str, request_id: str = "conv-1"):  # type: ignore[no-untyped-def]
    return service.use_cases.conversion.convert_lead(commands.ConvertLead(caller_key(request_id, "fp"), lead_id))


def stall(service: LeadService, lead_id: str) -> None:
    """A conversion whose account step failed: the caller got UNAVAILABLE and left."""
    service.add(make_lead(lead_id=lead_id, status=Status.SQL, owner_id="rm-1"))
    service.accounts.down = True
    with pytest.raises(Unavailable, match="pending"):
        convert(service, lead_id, f"conv-{lead_id}")
    service.accounts.down = False


def test_a_peer_down_leaves_the_lead_sql_with_its_saga_and_the_error(service: LeadService) -> None:
    stall(service, "lead-1")
    assert service.stored("lead-1").status == Status.SQL
    saga = service.store.state.conversions["lead-1"]
    assert (saga.state, saga.account_id, saga.attempts, saga.product) == ("STARTED", "", 1, "CREDIT_CARD")
    assert "UNAVAILABLE" in saga.last_error
    assert service.store.published == []


def test_recovery_resumes_only_conversions_stalled_long_enough(service: LeadService) -> None:
    stall(service, "lead-old")
    service.clock.advance(minutes=2)
    stall(service, "lead-fresh")
    service.add(make_lead(lead_id="lead-done", status=Status.SQL))
    convert(service, "lead-done", "conv-done")
    service.clock.advance(seconds=30)  # lead-fresh stalled 30 s ago, lead-old 2.5 min ago
    assert service.use_cases.conversion.resume_stalled_conversions(older_than=timedelta(minutes=1)) == 1
    assert service.stored("lead-old").status == Status.CONVERTED
    assert service.stored("lead-fresh").status == Status.SQL
    assert service.accounts.calls.count("convert:lead-done:account") == 1
    assert service.store.event_types() == ["LeadConverted", "LeadConverted"]


def test_a_resumed_conversion_completes_with_the_derived_request_ids_and_answers_its_caller(service: LeadService) -> None:
    stall(service, "lead-1")
    service.clock.advance(minutes=5)
    assert service.use_cases.conversion.resume_stalled_conversions() == 1
    lead = service.stored("lead-1")
    assert (lead.status, lead.account_id, lead.opportunity_id) == (
        Status.CONVERTED,
        "acc-for-convert:lead-1:account",
        "opp-for-convert:lead-1:opportunity",
    )
    assert service.store.state.conversions["lead-1"].state == "COMPLETED"
    assert service.store.state.opportunities["opp-for-convert:lead-1:opportunity"]["status"] == "OPEN"
    # The caller who gave up retries: answered as done, nothing converted twice.
    assert convert(service, "lead-1", "conv-lead-1").status == Status.CONVERTED
    assert service.store.event_types() == ["LeadConverted"]
    assert list(service.opportunities.created) == ["convert:lead-1:opportunity"]


def test_a_conversion_still_failing_is_left_for_the_next_round(service: LeadService) -> None:
    stall(service, "lead-1")
    service.clock.advance(minutes=5)
    service.accounts.down = True
    assert service.use_cases.conversion.resume_stalled_conversions() == 0
    saga = service.store.state.conversions["lead-1"]
    assert (saga.attempts, saga.updated_at) == (2, NOW + timedelta(minutes=5))
    assert service.stored("lead-1").status == Status.SQL


def test_the_saga_answers_only_the_caller_who_started_it(service: LeadService) -> None:
    """The saga keeps the starter's caller-scoped key: recovery records the answer for that caller
    alone, and another caller's reuse of the request_id is a new request (refused: converted)."""
    stall(service, "lead-1")
    assert service.store.state.conversions["lead-1"].request_id == caller_key("conv-lead-1", "fp").stored_id
    service.clock.advance(minutes=5)
    assert service.use_cases.conversion.resume_stalled_conversions() == 1
    with use_principal(Principal("rm-2", ("rm",))), pytest.raises(FailedPrecondition, match="already converted"):
        convert(service, "lead-1", "conv-lead-1")
    assert convert(service, "lead-1", "conv-lead-1").status == Status.CONVERTED
