"""UpdateOpportunity through the real gRPC API over SQLite and PostgreSQL: the forecast and the
next best actions follow every change, a probability override lasts until the next stage move."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp

from crm.common.v1 import common_pb2
from crm.opportunity.v1 import events_pb2, opportunity_pb2, opportunity_service_pb2
from crm.opportunity.v1.opportunity_service_pb2_grpc import OpportunityServiceStub
from crm_common.db import new_id
from crm_common.grpc.status import field_violations
from crm_common.testing import LiveService, bearer

RM = bearer("rm-1", ["rm"])
# rm-1's manager: reassigns between the teams it manages (opportunities.reassign).
MANAGER = bearer("sm-1", ["sales_manager"], teams=["team-a", "team-b"])
READER = bearer("agent-1", ["telesales"])  # reads leads and accounts, not opportunities
S = opportunity_service_pb2
OPP = opportunity_pb2
NOW = datetime.now(UTC)
THIS_MONTH = NOW.strftime("%Y-%m")


def at(when: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(when)
    return stamp


def open_deposit(stub: OpportunityServiceStub, amount: int = 1_000_000_000) -> OPP.Opportunity:
    """A term deposit of rm-1's, closing this month, at qualification (10 %)."""
    request = S.CreateOpportunityRequest(
        request_id=new_id(),
        account_id=new_id(),
        product=common_pb2.PRODUCT_TYPE_TERM_DEPOSIT,
        amount=common_pb2.Money(amount_minor=amount),
        expected_close_time=at(NOW),
        team_id="team-a",
        territory_id="HCM-Q1",
    )
    return stub.CreateOpportunity(request, metadata=RM).opportunity


def update(
    stub: OpportunityServiceStub, opportunity_id: str, *paths: str, request_id: str = "", metadata: Any = RM, **values: Any
) -> OPP.Opportunity:
    request = S.UpdateOpportunityRequest(
        request_id=request_id or new_id(), opportunity_id=opportunity_id, update_mask=FieldMask(paths=list(paths)), **values
    )
    reply: S.UpdateOpportunityResponse = stub.UpdateOpportunity(request, metadata=metadata)
    return reply.opportunity


def figures(stub: OpportunityServiceStub, **scope: str) -> tuple[int, int, int]:
    """(open count, open pipeline, weighted pipeline) of a scope this month."""
    reply = stub.GetForecast(S.GetForecastRequest(from_month=THIS_MONTH, to_month=THIS_MONTH, **scope), metadata=RM)
    total = reply.total
    return total.open_count, total.open_pipeline.amount_minor, total.weighted_pipeline.amount_minor


def rpc_error(call: Any, *args: Any, **kwargs: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(*args, **kwargs)
    return caught.value


def test_a_new_amount_moves_the_forecast_and_is_announced(api: LiveService, stub: OpportunityServiceStub) -> None:
    deal = open_deposit(stub)
    assert figures(stub, territory_id="HCM-Q1") == (1, 1_000_000_000, 100_000_000)
    changed = update(
        stub, deal.opportunity_id, "amount", "next_step", amount=common_pb2.Money(amount_minor=1_500_000_001), next_step=" Gọi lại thứ Hai "
    )
    assert (changed.amount.amount_minor, changed.next_step, changed.audit.updated_by) == (1_500_000_001, "Gọi lại thứ Hai", "rm-1")
    assert figures(stub, territory_id="HCM-Q1") == (1, 1_500_000_001, 150_000_000)  # weighted rounds down
    [event] = api.events(events_pb2.OpportunityUpdated)
    assert list(event.changed_fields) == ["amount", "next_step"]
    assert event.opportunity.amount.amount_minor == 1_500_000_001


def test_a_probability_override_lasts_until_the_next_stage_move(api: LiveService, stub: OpportunityServiceStub) -> None:
    deal = open_deposit(stub)
    overridden = update(stub, deal.opportunity_id, "probability_percent", probability_percent=65)
    assert (overridden.probability_percent, overridden.probability_overridden) == (65, True)
    assert figures(stub, owner_id="rm-1")[2] == 650_000_000
    move = S.MoveStageRequest(request_id=new_id(), opportunity_id=deal.opportunity_id, stage="proposal")
    moved = stub.MoveStage(move, metadata=RM).opportunity
    stage = next(s for s in stub.GetPipeline(S.GetPipelineRequest(product=deal.product), metadata=RM).pipeline.stages if s.name == "proposal")
    assert (moved.probability_percent, moved.probability_overridden) == (stage.probability_percent, False)
    assert figures(stub, owner_id="rm-1")[2] == 1_000_000_000 * stage.probability_percent // 100


def test_an_override_to_the_stages_own_figure_is_still_an_override(api: LiveService, stub: OpportunityServiceStub) -> None:
    deal = open_deposit(stub)
    same = update(stub, deal.opportunity_id, "probability_percent", probability_percent=deal.probability_percent)
    assert same.probability_overridden
    [event] = api.events(events_pb2.OpportunityUpdated)
    assert list(event.changed_fields) == ["probability_percent"]


def test_a_new_owner_takes_the_forecast_and_the_next_actions(api: LiveService, stub: OpportunityServiceStub) -> None:
    deal = open_deposit(stub)
    update(stub, deal.opportunity_id, "expected_close_time", expected_close_time=at(NOW - timedelta(days=40)))  # overdue
    handed = update(stub, deal.opportunity_id, "owner_id", "team_id", owner_id="rm-2", team_id="team-b", metadata=MANAGER)
    assert (handed.owner_id, handed.team_id) == ("rm-2", "team-b")
    assert figures(stub, owner_id="rm-1")[0] == 0 and figures(stub, team_id="team-a")[0] == 0
    old_book = stub.GetBookActions(S.GetBookActionsRequest(owner_id="rm-1"), metadata=RM)
    new_book = stub.GetBookActions(S.GetBookActionsRequest(owner_id="rm-2"), metadata=MANAGER)
    assert old_book.open_opportunities == 0 and not old_book.actions
    assert new_book.open_opportunities == 1
    assert OPP.SUGGESTED_ACTION_UPDATE_CLOSE_DATE in {a.action for a in new_book.actions}


def test_a_new_close_date_moves_the_forecast_month_and_clears_the_overdue_action(api: LiveService, stub: OpportunityServiceStub) -> None:
    deal = open_deposit(stub)
    update(stub, deal.opportunity_id, "expected_close_time", expected_close_time=at(NOW - timedelta(days=40)))
    actions = stub.GetNextBestActions(S.GetNextBestActionsRequest(opportunity_id=deal.opportunity_id), metadata=RM).actions
    assert OPP.SUGGESTED_ACTION_UPDATE_CLOSE_DATE in {a.action for a in actions}
    update(stub, deal.opportunity_id, "expected_close_time", expected_close_time=at(NOW + timedelta(days=5)))
    actions = stub.GetNextBestActions(S.GetNextBestActionsRequest(opportunity_id=deal.opportunity_id), metadata=RM).actions
    assert OPP.SUGGESTED_ACTION_UPDATE_CLOSE_DATE not in {a.action for a in actions}


def test_an_unchanged_value_writes_and_announces_nothing(api: LiveService, stub: OpportunityServiceStub) -> None:
    deal = open_deposit(stub)
    same = update(stub, deal.opportunity_id, "team_id", team_id="team-a")
    assert same.audit.update_time == deal.audit.update_time
    assert api.events(events_pb2.OpportunityUpdated) == []


def test_a_repeated_request_is_answered_from_the_first(api: LiveService, stub: OpportunityServiceStub) -> None:
    deal = open_deposit(stub)
    first = update(stub, deal.opportunity_id, "next_step", request_id="upd-1", next_step="Gửi bảng lãi suất")
    again = update(stub, deal.opportunity_id, "next_step", request_id="upd-1", next_step="Gửi bảng lãi suất")
    assert again == first
    assert len(api.events(events_pb2.OpportunityUpdated)) == 1


def test_a_closed_opportunity_is_reopened_before_it_changes(api: LiveService, stub: OpportunityServiceStub) -> None:
    deal = open_deposit(stub)
    items = ["rate_offer_sent", "source_of_funds_declared"]  # a deposit may skip to the win with every exit criterion met
    stub.WinOpportunity(S.WinOpportunityRequest(request_id=new_id(), opportunity_id=deal.opportunity_id, completed_items=items), metadata=RM)
    error = rpc_error(update, stub, deal.opportunity_id, "amount", amount=common_pb2.Money(amount_minor=1))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "reopen" in (error.details() or "")


def test_a_reader_cannot_update(api: LiveService, stub: OpportunityServiceStub) -> None:
    deal = open_deposit(stub)
    request = S.UpdateOpportunityRequest(request_id=new_id(), opportunity_id=deal.opportunity_id, update_mask=FieldMask(paths=["next_step"]))
    error = rpc_error(stub.UpdateOpportunity, request, metadata=READER)
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize(
    ("paths", "values", "fields"),
    [
        ((), {}, ["update_mask"]),
        (("stage",), {}, ["update_mask"]),
        (("probability_percent",), {"probability_percent": 101}, ["probability_percent"]),
        (("probability_percent",), {"probability_percent": -1}, ["probability_percent"]),
        (("next_step",), {"next_step": "x" * 301}, ["next_step"]),
        (("owner_id",), {"owner_id": "x" * 101}, ["owner_id"]),
        (("amount",), {"amount": common_pb2.Money(amount_minor=-5)}, ["amount.amount_minor"]),
        (("amount",), {"amount": common_pb2.Money(amount_minor=5, currency_code="đồng")}, ["amount.currency_code"]),
        (("next_step", "probability_percent"), {"next_step": "x" * 301, "probability_percent": 200}, ["probability_percent", "next_step"]),
    ],
)
def test_bad_input_is_invalid_and_changes_nothing(
    api: LiveService, stub: OpportunityServiceStub, paths: tuple[str, ...], values: dict[str, Any], fields: list[str]
) -> None:
    deal = open_deposit(stub)
    error = rpc_error(update, stub, deal.opportunity_id, *paths, **values)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in field_violations(error)] == fields
    assert stub.GetOpportunity(S.GetOpportunityRequest(opportunity_id=deal.opportunity_id), metadata=RM).opportunity == deal


def test_an_unknown_opportunity_is_not_found(api: LiveService, stub: OpportunityServiceStub) -> None:
    assert rpc_error(update, stub, new_id(), "next_step", next_step="x").code() == grpc.StatusCode.NOT_FOUND
