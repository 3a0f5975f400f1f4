"""Stage moves over in-memory fakes: a move the pipeline refuses says what is missing and keeps
nothing, and a move sets the new stage's probability over any override."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
from opportunity_fakes import ACCOUNT, NOW, OpportunityService, opportunity_service, winnable_from_every_stage

from crm_common.auth import Principal, use_principal
from crm_common.errors import FailedPrecondition
from crm_common.testing_fakes import caller_key
from crm_opportunity.domain.drafting import OpportunityDraft
from crm_opportunity.domain.model import Opportunity
from crm_opportunity.service_layer import commands


@pytest.fixture(autouse=True)
def caller():  # type: ignore[no-untyped-def]
    with use_principal(Principal("rm-1", ("rm",))) as principal:
        yield principal


@pytest.fixture
def service() -> OpportunityService:
    """Wins here test what a win does, from whatever stage (test_closing_use_cases covers when one is allowed)."""
    return opportunity_service(winnable_from_every_stage())


def open_card(service: OpportunityService, **draft: Any) -> Opportunity:
    fields = {"account_id": ACCOUNT, "product": "CREDIT_CARD", **draft}
    return service.use_cases.pipeline.create_opportunity(commands.CreateOpportunity(caller_key("create-1", "fp"), OpportunityDraft(**fields)))


def move(service: OpportunityService, opportunity_id: str, stage: str, *items: str, request_id: str = "") -> Opportunity:
    cmd = commands.MoveStage(caller_key(request_id or f"move-{stage}", stage), opportunity_id, stage, items)
    return service.use_cases.pipeline.move_stage(cmd)


def test_a_move_without_the_exit_criteria_names_what_is_missing_and_keeps_nothing(service: OpportunityService) -> None:
    card = open_card(service)  # no amount
    move(service, card.opportunity_id, "needs_analysis")
    before, events = copy.deepcopy(service.store.state), list(service.store.published)
    with pytest.raises(FailedPrecondition, match="cannot leave needs_analysis for documents_collected: field amount is not set"):
        move(service, card.opportunity_id, "documents_collected", "id_document_verified")
    assert service.store.state == before  # not even the ticked checklist item
    assert service.store.published == events


def test_every_unmet_criterion_is_named(service: OpportunityService) -> None:
    card = open_card(service, amount_minor=50_000_000)
    move(service, card.opportunity_id, "needs_analysis")
    move(service, card.opportunity_id, "documents_collected", "income_documents_collected")
    with pytest.raises(FailedPrecondition) as refused:
        move(service, card.opportunity_id, "submitted_to_los")
    assert "checklist item id_document_verified is not done" in refused.value.message
    assert "income_documents_collected" not in refused.value.message


def test_a_move_sets_the_stage_probability_over_an_override(service: OpportunityService) -> None:
    card = open_card(service, amount_minor=50_000_000)
    update = commands.UpdateOpportunity(caller_key("upd-1", "fp"), card.opportunity_id, ("probability_percent",), probability_percent=80)
    overridden = service.use_cases.updates.update_opportunity(update)
    assert (overridden.probability_percent, overridden.probability_overridden) == (80, True)
    moved = move(service, card.opportunity_id, "needs_analysis")
    assert (moved.probability_percent, moved.probability_overridden, moved.forecast_category) == (25, False, "PIPELINE")
    assert (service.stored(card.opportunity_id).probability_percent, service.store.event_types()) == (
        25,
        ["OpportunityCreated", "OpportunityUpdated", "OpportunityStageChanged"],
    )


def test_a_move_closes_the_stay_it_leaves_and_recomputes_the_next_best_actions(service: OpportunityService) -> None:
    card = open_card(service, amount_minor=50_000_000)
    assert [s.rule for s in service.store.state.actions[card.opportunity_id]]  # the new one already has suggestions
    service.clock.advance(days=2)
    move(service, card.opportunity_id, "needs_analysis")
    stays = service.store.state.history[card.opportunity_id]
    assert [(s.stage, s.entered_at, s.left_at) for s in stays] == [
        ("qualification", NOW, NOW + timedelta(days=2)),
        ("needs_analysis", NOW + timedelta(days=2), None),
    ]
    assert service.store.state.actions[card.opportunity_id] == service.use_cases.next_best_actions.next_best_actions(card.opportunity_id)


def test_a_closed_opportunity_no_longer_moves(service: OpportunityService) -> None:
    card = open_card(service, amount_minor=50_000_000)
    service.use_cases.closing.win_opportunity(commands.WinOpportunity(caller_key("win-1", "fp"), card.opportunity_id, None))
    with pytest.raises(FailedPrecondition, match="is WON: it no longer moves"):
        move(service, card.opportunity_id, "needs_analysis")
