"""The forecast over in-memory fakes: each change moves the opportunity's contribution in the
rollup, so the forecast of every scope follows without reading the opportunities."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from opportunity_fakes import ACCOUNT, OpportunityService, opportunity_service, winnable_from_every_stage

from crm_common.auth import Principal, role_permissions, use_principal
from crm_common.testing_fakes import caller_key
from crm_common.unit_of_work import Idempotent
from crm_opportunity.domain.drafting import OpportunityDraft
from crm_opportunity.domain.forecast import Figures
from crm_opportunity.service_layer import commands

DECEMBER = datetime(2026, 12, 15, tzinfo=UTC)
JANUARY = datetime(2027, 1, 15, tzinfo=UTC)


@pytest.fixture(autouse=True)
def caller():  # type: ignore[no-untyped-def]
    # The card's owner manages its team: moving the card to rm-2 is a reassignment (a manager's
    # permission), and the team's forecast is read whole (the rollup).
    manager = Principal("rm-1", ("sales_manager",), role_permissions()["sales_manager"], teams=("team-hn",))
    with use_principal(manager) as principal:
        yield principal


@pytest.fixture
def service() -> OpportunityService:
    """Wins here test what a win does, from whatever stage (test_closing_use_cases covers when one is allowed)."""
    return opportunity_service(winnable_from_every_stage())


def forecast(service: OpportunityService, month: str = "2026-12", **scope: str) -> Figures:
    return service.use_cases.forecast.forecast(commands.GetForecast(**(scope or {"owner_id": "rm-1"}), from_month=month, to_month=month)).total


class Card:
    """One opportunity changed step by step, each step under its own request id."""

    def __init__(self, service: OpportunityService) -> None:
        self.service, self.steps = service, 0
        draft = OpportunityDraft(ACCOUNT, "CREDIT_CARD", 100_000_000, "VND", DECEMBER, "rm-1", "team-hn")
        self.id = service.use_cases.pipeline.create_opportunity(commands.CreateOpportunity(self.key(), draft)).opportunity_id

    def key(self) -> Idempotent:
        self.steps += 1
        return caller_key(f"step-{self.steps}", "fp")

    def update(self, **fields: Any) -> None:
        mask = tuple("expected_close_time" if f == "expected_close_at" else f for f in fields)
        self.service.use_cases.updates.update_opportunity(commands.UpdateOpportunity(self.key(), self.id, mask, **fields))


def test_opening_counts_in_the_owner_and_team_forecast_at_the_stage_weight(service: OpportunityService) -> None:
    Card(service)
    opened = Figures(open_count=1, open_pipeline=100_000_000, weighted_pipeline=10_000_000)
    assert forecast(service) == opened
    assert forecast(service, team_id="team-hn") == opened
    assert forecast(service, territory_id="HCM-Q1") == Figures()


def test_updates_move_the_contribution_between_amounts_weights_months_and_owners(service: OpportunityService) -> None:
    card = Card(service)
    card.update(amount=(200_000_000, "VND"))
    assert forecast(service) == Figures(open_count=1, open_pipeline=200_000_000, weighted_pipeline=20_000_000)
    card.update(probability_percent=55)
    assert forecast(service).weighted_pipeline == 110_000_000
    card.update(expected_close_at=JANUARY)
    assert (forecast(service), forecast(service, "2027-01").open_count) == (Figures(), 1)
    card.update(owner_id="rm-2")
    assert (forecast(service, "2027-01"), forecast(service, "2027-01", owner_id="rm-2").weighted_pipeline) == (Figures(), 110_000_000)
    assert forecast(service, "2027-01", team_id="team-hn").open_pipeline == 200_000_000  # the team kept it throughout


def test_a_stage_move_reweights_and_a_win_counts_in_the_month_it_closed(service: OpportunityService) -> None:
    card = Card(service)
    card.update(probability_percent=90)
    service.use_cases.pipeline.move_stage(commands.MoveStage(card.key(), card.id, "needs_analysis"))
    assert forecast(service).weighted_pipeline == 25_000_000  # the override went with the move
    service.use_cases.closing.win_opportunity(commands.WinOpportunity(card.key(), card.id, (120_000_000, "VND")))
    assert forecast(service) == Figures()
    won = Figures(commit=120_000_000, best_case=120_000_000, won_count=1, won=120_000_000)
    assert forecast(service, "2026-11") == won  # closed on NOW, in November
    # Every delta sums back to one opportunity: no row is left counting it twice.
    assert sum(n for (kind, *_rest), (n, _, _) in service.store.state.rollup.items() if kind == "owner_id") == 1
