"""Pipeline, forecast and stage metrics through the real gRPC API over SQLite and PostgreSQL:
exact integer đồng, kept by rollups with every change."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from crm.common.v1 import common_pb2
from crm.opportunity.v1 import opportunity_pb2, opportunity_service_pb2
from crm.opportunity.v1.opportunity_service_pb2_grpc import OpportunityServiceStub
from crm_common.db import new_id
from crm_common.grpc.status import field_violations
from crm_common.testing import LiveService, bearer
from crm_opportunity.adapters.repository import OpportunityRepository

RM = bearer("rm-1", ["rm"])
S = opportunity_service_pb2
OPP = opportunity_pb2
NOW = datetime.now(UTC)
THIS_MONTH = NOW.strftime("%Y-%m")


def closing(year: int, month: int) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(datetime(year, month, 15, tzinfo=UTC))
    return stamp


def create(
    stub: OpportunityServiceStub, amount: int, product: int = common_pb2.PRODUCT_TYPE_TERM_DEPOSIT, territory: str = "HCM-Q1", **fields: Any
) -> OPP.Opportunity:
    fields.setdefault("expected_close_time", closing(NOW.year, NOW.month))
    request = S.CreateOpportunityRequest(
        request_id=new_id(),
        account_id=new_id(),
        product=product,
        amount=common_pb2.Money(amount_minor=amount),
        territory_id=territory,
        team_id="team-a",
        **fields,
    )
    return stub.CreateOpportunity(request, metadata=RM).opportunity


def move(stub: OpportunityServiceStub, opportunity_id: str, stage: str, *items: str) -> None:
    stub.MoveStage(S.MoveStageRequest(request_id=new_id(), opportunity_id=opportunity_id, stage=stage, completed_items=list(items)), metadata=RM)


def forecast(stub: OpportunityServiceStub, **fields: Any) -> S.GetForecastResponse:
    fields.setdefault("from_month", THIS_MONTH)
    fields.setdefault("to_month", THIS_MONTH)
    reply: S.GetForecastResponse = stub.GetForecast(S.GetForecastRequest(**fields), metadata=RM)
    return reply


def money(figures: OPP.ForecastFigures) -> tuple[int, ...]:
    return (
        figures.open_count,
        figures.open_pipeline.amount_minor,
        figures.weighted_pipeline.amount_minor,
        figures.commit.amount_minor,
        figures.best_case.amount_minor,
        figures.won_count,
        figures.won.amount_minor,
    )


@pytest.fixture
def book(api: LiveService, stub: OpportunityServiceStub) -> dict[str, OPP.Opportunity]:
    """Term deposits (which may skip stages) in one territory, spread over the pipeline."""
    opened = {
        "qualifying": create(stub, 1_000_000_009),  # 10 %: weighted 100,000,000 (rounded down, not to nearest)
        "proposal": create(stub, 2_000_000_000),
        "negotiation": create(stub, 3_000_000_000),
        "won": create(stub, 500_000_000),
        "lost": create(stub, 700_000_000),
        "next_year": create(stub, 9_000_000_000, expected_close_time=closing(NOW.year + 1, NOW.month)),
        "elsewhere": create(stub, 4_000_000_000, territory="HN-BD"),
    }
    move(stub, opened["proposal"].opportunity_id, "proposal")  # 50 %, BEST_CASE
    move(stub, opened["negotiation"].opportunity_id, "negotiation", "rate_offer_sent")  # 70 %, COMMIT
    win = S.WinOpportunityRequest(
        request_id=new_id(), opportunity_id=opened["won"].opportunity_id, completed_items=["rate_offer_sent", "source_of_funds_declared"]
    )
    stub.WinOpportunity(win, metadata=RM)  # deposits may skip to the win: every exit criterion on the way is met
    lose = S.LoseOpportunityRequest(request_id=new_id(), opportunity_id=opened["lost"].opportunity_id, reason=OPP.LOST_REASON_PRICE)
    stub.LoseOpportunity(lose, metadata=RM)
    return opened


def test_the_territory_forecast_in_exact_dong(stub: OpportunityServiceStub, book: dict[str, OPP.Opportunity]) -> None:
    reply = forecast(stub, territory_id="HCM-Q1")
    open_pipeline = 1_000_000_009 + 2_000_000_000 + 3_000_000_000
    weighted = 100_000_000 + 1_000_000_000 + 2_100_000_000
    commit = 500_000_000 + 3_000_000_000
    assert money(reply.total) == (3, open_pipeline, weighted, commit, commit + 2_000_000_000, 1, 500_000_000)
    [line] = reply.by_product
    assert line.product == common_pb2.PRODUCT_TYPE_TERM_DEPOSIT and line.figures == reply.total
    stages = {(s.stage): money(s.figures) for s in reply.by_stage}
    assert stages["negotiation"] == (1, 3_000_000_000, 2_100_000_000, 3_000_000_000, 3_000_000_000, 0, 0)
    assert stages["closed_won"][5:] == (1, 500_000_000)
    assert money(forecast(stub, territory_id="HCM-Q1", to_month=f"{NOW.year + 1}-{NOW.month:02d}").total)[1] == open_pipeline + 9_000_000_000
    assert money(forecast(stub, team_id="team-a").total)[1] == open_pipeline + 4_000_000_000
    assert money(forecast(stub, owner_id="rm-1").total)[0] == 4


def test_the_rollup_equals_a_recount(api: LiveService, stub: OpportunityServiceStub, book: dict[str, OPP.Opportunity]) -> None:
    before = forecast(stub, team_id="team-a", to_month=f"{NOW.year + 1}-12")
    with api.engine.begin() as conn:
        assert OpportunityRepository(conn).rebuild_rollup() == 7
    assert forecast(stub, team_id="team-a", to_month=f"{NOW.year + 1}-12") == before


@pytest.mark.parametrize(
    ("fields", "violations"),
    [
        ({"territory_id": "HCM-Q1", "team_id": "team-a"}, ["owner_id", "team_id", "territory_id"]),
        ({}, ["owner_id", "team_id", "territory_id"]),
        ({"territory_id": "HCM-Q1", "from_month": "2026-13"}, ["from_month"]),
        ({"territory_id": "HCM-Q1", "from_month": "2026-06", "to_month": "2026-01"}, ["to_month"]),
    ],
)
def test_bad_forecast_requests(api: LiveService, stub: OpportunityServiceStub, fields: dict[str, Any], violations: list[str]) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        forecast(stub, **fields)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in field_violations(caught.value)] == violations


def test_stage_metrics(api: LiveService, stub: OpportunityServiceStub, book: dict[str, OPP.Opportunity]) -> None:
    reply = stub.GetStageMetrics(S.GetStageMetricsRequest(product=common_pb2.PRODUCT_TYPE_TERM_DEPOSIT, territory_id="HCM-Q1"), metadata=RM)
    metrics = {m.stage: m for m in reply.stages}
    assert [m.stage for m in reply.stages] == ["qualification", "needs_analysis", "proposal", "negotiation", "funds_committed"]
    qualification = metrics["qualification"]
    # 6 entered qualification here; proposal, negotiation, won and lost moved on.
    assert (qualification.entered, qualification.advanced, qualification.conversion_bp) == (6, 4, 6666)
    assert qualification.average_days_in_stage >= 0
