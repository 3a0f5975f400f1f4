"""Closing and reopening over in-memory fakes: the reopening says what the opportunity was (a
won one means a clawback) and puts it back at the stage it closed from."""

from __future__ import annotations

from typing import Any

import pytest
from opportunity_fakes import ACCOUNT, OpportunityService, opportunity_service

from crm.opportunity.v1 import opportunity_pb2
from crm_common.auth import Principal, use_principal
from crm_common.errors import FailedPrecondition, InvalidArgument
from crm_common.testing_fakes import caller_key
from crm_opportunity.domain.drafting import OpportunityDraft
from crm_opportunity.domain.model import Opportunity, Status
from crm_opportunity.service_layer import commands


@pytest.fixture(autouse=True)
def caller():  # type: ignore[no-untyped-def]
    with use_principal(Principal("rm-1", ("rm",))) as principal:
        yield principal


@pytest.fixture
def service() -> OpportunityService:
    return opportunity_service()


def at_needs_analysis(service: OpportunityService, **draft: Any) -> Opportunity:
    fields = {"account_id": ACCOUNT, "product": "CREDIT_CARD", "amount_minor": 30_000_000, **draft}
    card = service.use_cases.pipeline.create_opportunity(commands.CreateOpportunity(caller_key("create-1", "fp"), OpportunityDraft(**fields)))
    return service.use_cases.pipeline.move_stage(commands.MoveStage(caller_key("move-1", "fp"), card.opportunity_id, "needs_analysis"))


def reopen(service: OpportunityService, opportunity_id: str, reason: str = "customer came back") -> Opportunity:
    return service.use_cases.closing.reopen_opportunity(commands.ReopenOpportunity(caller_key("reopen-1", "fp"), opportunity_id, reason))


def win(service: OpportunityService, opportunity_id: str) -> None:
    service.use_cases.closing.win_opportunity(commands.WinOpportunity(caller_key("close-1", "fp"), opportunity_id, None))


def lose(service: OpportunityService, opportunity_id: str) -> None:
    service.use_cases.closing.lose_opportunity(commands.LoseOpportunity(caller_key("close-1", "fp"), opportunity_id, "PRICE", ""))


@pytest.mark.parametrize(("close", "previous"), [(win, opportunity_pb2.OPPORTUNITY_STATUS_WON), (lose, opportunity_pb2.OPPORTUNITY_STATUS_LOST)])
def test_reopening_announces_its_previous_status_and_returns_to_the_stage_it_closed_from(
    service: OpportunityService, close: Any, previous: int
) -> None:
    card = at_needs_analysis(service)
    close(service, card.opportunity_id)
    reopened = reopen(service, card.opportunity_id)
    assert (reopened.status, reopened.stage, reopened.probability_percent, reopened.closed_at) == (Status.OPEN, "needs_analysis", 25, None)
    event = service.store.published[-1]
    assert (type(event).__name__, event.previous_status, event.reason) == ("OpportunityReopened", previous, "customer came back")
    assert [s.stage for s in service.store.state.history[card.opportunity_id]][-1] == "needs_analysis"


def test_an_open_opportunity_is_not_reopened_and_nothing_is_announced(service: OpportunityService) -> None:
    card = at_needs_analysis(service)
    published = len(service.store.published)
    with pytest.raises(FailedPrecondition, match="is open"):
        reopen(service, card.opportunity_id)
    assert len(service.store.published) == published


def test_a_lost_reason_naming_a_competitor_needs_one(service: OpportunityService) -> None:
    card = at_needs_analysis(service)
    lose = commands.LoseOpportunity(caller_key("lose-1", "fp"), card.opportunity_id, "COMPETITOR", "")
    with pytest.raises(InvalidArgument, match="competitor: required when the reason is COMPETITOR"):
        service.use_cases.closing.lose_opportunity(lose)
    mortgage_only = commands.LoseOpportunity(caller_key("lose-2", "fp"), card.opportunity_id, "PROPERTY_LEGAL_ISSUE", "")
    with pytest.raises(InvalidArgument, match="'PROPERTY_LEGAL_ISSUE' is not a lost reason of the CREDIT_CARD pipeline"):
        service.use_cases.closing.lose_opportunity(mortgage_only)
    assert service.stored(card.opportunity_id).status is Status.OPEN


def test_closing_clears_the_next_best_actions(service: OpportunityService) -> None:
    card = at_needs_analysis(service)
    assert service.store.state.actions[card.opportunity_id]
    service.use_cases.closing.win_opportunity(commands.WinOpportunity(caller_key("win-1", "fp"), card.opportunity_id, (32_000_000, "vnd")))
    assert service.store.state.actions[card.opportunity_id] == []
    assert service.stored(card.opportunity_id).amount.amount_minor == 32_000_000
