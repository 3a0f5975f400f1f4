"""Closing and reopening over in-memory fakes: the reopening says what the opportunity was (a
won one means a clawback) and puts it back at the stage it closed from."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from opportunity_fakes import ACCOUNT, NOW, OpportunityService, opportunity_service, winnable_from_every_stage

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
    """Most wins here test what a win does, from whatever stage; the shipped pipelines' rules
    (when a win is allowed) are tested with `shipped` below."""
    return opportunity_service(winnable_from_every_stage())


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


@pytest.fixture
def shipped() -> OpportunityService:
    """The shipped pipelines: a card is won from approved, a term deposit (which may skip) from
    funds_committed or any stage before it with every exit criterion on the way met."""
    return opportunity_service()


def test_a_card_is_not_won_from_needs_analysis_with_no_amount(shipped: OpportunityService) -> None:
    """The reported case: won straight from needs analysis with amount 0, opening a holding."""
    card = at_needs_analysis(shipped, amount_minor=0)
    with pytest.raises(FailedPrecondition, match=r"a CREDIT_CARD opportunity is won from approved \(pipeline v1\); this one is at needs_analysis"):
        shipped.use_cases.closing.win_opportunity(commands.WinOpportunity(caller_key("win-1", "fp"), card.opportunity_id, None))
    assert shipped.stored(card.opportunity_id).status is Status.OPEN
    assert "OpportunityWon" not in {type(e).__name__ for e in shipped.store.published}


def test_a_card_is_won_from_approved_once_its_exit_criteria_hold(shipped: OpportunityService) -> None:
    card = at_needs_analysis(shipped)
    steps = [("documents_collected", ()), ("submitted_to_los", ("id_document_verified", "income_documents_collected")), ("approved", ())]
    shipped.use_cases.updates.update_opportunity(
        commands.UpdateOpportunity(
            caller_key("upd-1", "fp"), card.opportunity_id, ("expected_close_time",), expected_close_at=NOW + timedelta(days=9)
        )
    )
    for n, (stage, items) in enumerate(steps):
        shipped.use_cases.pipeline.move_stage(commands.MoveStage(caller_key(f"m-{n}", "fp"), card.opportunity_id, stage, items))
    win = commands.WinOpportunity(caller_key("win-1", "fp"), card.opportunity_id, None)
    with pytest.raises(FailedPrecondition, match="cannot win from approved: approved needs checklist item card_delivered is not done"):
        shipped.use_cases.closing.win_opportunity(win)
    with pytest.raises(InvalidArgument, match="not on the CREDIT_CARD pipeline's checklists"):
        shipped.use_cases.closing.win_opportunity(commands.WinOpportunity(caller_key("win-2", "fp"), card.opportunity_id, None, ("keys_handed",)))
    won = shipped.use_cases.closing.win_opportunity(
        commands.WinOpportunity(caller_key("win-3", "fp"), card.opportunity_id, None, ("card_delivered",))
    )
    assert (won.status, won.stage, "card_delivered" in won.checklist) == (Status.WON, "closed_won", True)


def test_a_pipeline_that_may_skip_is_won_early_only_with_every_criterion_on_the_way(shipped: OpportunityService) -> None:
    draft = OpportunityDraft(account_id=ACCOUNT, product="TERM_DEPOSIT", amount_minor=0)
    deposit = shipped.use_cases.pipeline.create_opportunity(commands.CreateOpportunity(caller_key("create-1", "fp"), draft))
    win = commands.WinOpportunity(caller_key("win-1", "fp"), deposit.opportunity_id, (500_000_000, "VND"), ("rate_offer_sent",))
    with pytest.raises(FailedPrecondition, match="cannot win from qualification: negotiation needs field expected_close_at is not set"):
        shipped.use_cases.closing.win_opportunity(win)
    shipped.use_cases.updates.update_opportunity(
        commands.UpdateOpportunity(
            caller_key("upd-1", "fp"), deposit.opportunity_id, ("expected_close_time",), expected_close_at=NOW + timedelta(days=3)
        )
    )
    items = ("rate_offer_sent", "source_of_funds_declared")
    won = shipped.use_cases.closing.win_opportunity(
        commands.WinOpportunity(caller_key("win-2", "fp"), deposit.opportunity_id, (500_000_000, "VND"), items)
    )
    assert (won.status, won.amount.amount_minor) == (Status.WON, 500_000_000)  # the final amount counts as the amount
