"""Closing opportunities as won or lost through the real gRPC API over SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from crm.common.v1 import common_pb2
from crm.opportunity.v1 import events_pb2, opportunity_pb2, opportunity_service_pb2
from crm.opportunity.v1.opportunity_service_pb2_grpc import OpportunityServiceStub
from crm_common.db import new_id
from crm_common.grpc.status import field_violations
from crm_common.testing import LiveService, bearer

RM = bearer("rm-1", ["rm"])
S = opportunity_service_pb2
OPP = opportunity_pb2


def open_one(stub: OpportunityServiceStub, amount: int = 80_000_000, product: int = common_pb2.PRODUCT_TYPE_CREDIT_CARD) -> OPP.Opportunity:
    request = S.CreateOpportunityRequest(
        request_id=new_id(),
        account_id=new_id(),
        product=product,  # type: ignore[arg-type]
        amount=common_pb2.Money(amount_minor=amount),
    )
    reply: S.CreateOpportunityResponse = stub.CreateOpportunity(request, metadata=RM)
    return reply.opportunity


def approved_card(stub: OpportunityServiceStub, amount: int = 80_000_000) -> OPP.Opportunity:
    """A card taken through its pipeline to approved, where it is won (with card_delivered ticked)."""
    card = open_one(stub, amount)
    update = S.UpdateOpportunityRequest(
        request_id=new_id(),
        opportunity_id=card.opportunity_id,
        expected_close_time=card.audit.create_time,
        update_mask=FieldMask(paths=["expected_close_time"]),
    )
    stub.UpdateOpportunity(update, metadata=RM)
    steps = [
        ("needs_analysis", []),
        ("documents_collected", []),
        ("submitted_to_los", ["id_document_verified", "income_documents_collected"]),
        ("approved", []),
    ]
    for stage, items in steps:
        card = stub.MoveStage(
            S.MoveStageRequest(request_id=new_id(), opportunity_id=card.opportunity_id, stage=stage, completed_items=items), metadata=RM
        ).opportunity
    return card


def win(stub: OpportunityServiceStub, opportunity_id: str, request_id: str | None = None, **fields: Any) -> OPP.Opportunity:
    fields.setdefault("completed_items", ["card_delivered"])
    reply: S.WinOpportunityResponse = stub.WinOpportunity(
        S.WinOpportunityRequest(request_id=request_id or new_id(), opportunity_id=opportunity_id, **fields), metadata=RM
    )
    return reply.opportunity


def lose(stub: OpportunityServiceStub, opportunity_id: str, reason: int | str, competitor: str = "", **fields: Any) -> OPP.Opportunity:
    """reason: a code of the pipeline's list, or a value of the older LostReason enum."""
    given = {"reason_code": reason} if isinstance(reason, str) else {"reason": reason}
    request = S.LoseOpportunityRequest(request_id=new_id(), opportunity_id=opportunity_id, competitor=competitor, **given, **fields)  # type: ignore[arg-type]
    reply: S.LoseOpportunityResponse = stub.LoseOpportunity(request, metadata=RM)
    return reply.opportunity


def rpc_error(call: Callable[..., object], *args: Any, **kwargs: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(*args, **kwargs)
    return caught.value


def test_won_at_the_final_amount_is_announced_once(api: LiveService, stub: OpportunityServiceStub) -> None:
    opportunity = approved_card(stub)
    won = win(stub, opportunity.opportunity_id, "win-1", final_amount=common_pb2.Money(amount_minor=60_000_000))
    assert (won.status, won.stage, won.probability_percent, won.amount.amount_minor) == (OPP.OPPORTUNITY_STATUS_WON, "closed_won", 100, 60_000_000)
    assert won.close_time.seconds > 0
    again = win(stub, opportunity.opportunity_id, "win-1", final_amount=common_pb2.Money(amount_minor=60_000_000))
    assert again == won  # an idempotent repeat
    [event] = api.events(events_pb2.OpportunityWon)
    assert (event.opportunity.opportunity_id, event.won_amount.amount_minor, event.close_time) == (
        opportunity.opportunity_id,
        60_000_000,
        won.close_time,
    )


def test_won_without_a_final_amount_keeps_the_opportunitys(stub: OpportunityServiceStub, api: LiveService) -> None:
    assert win(stub, approved_card(stub, 45_000_000).opportunity_id).amount.amount_minor == 45_000_000


def test_lost_to_a_competitor(api: LiveService, stub: OpportunityServiceStub) -> None:
    lost = lose(stub, open_one(stub).opportunity_id, OPP.LOST_REASON_COMPETITOR, "Ngân hàng B")
    assert (lost.status, lost.stage, lost.probability_percent, lost.lost_reason, lost.competitor) == (
        OPP.OPPORTUNITY_STATUS_LOST,
        "closed_lost",
        0,
        "COMPETITOR",
        "Ngân hàng B",
    )
    assert len(api.events(events_pb2.OpportunityLost)) == 1


def test_lost_for_a_reason_of_the_products_own_list(api: LiveService, stub: OpportunityServiceStub) -> None:
    mortgage = open_one(stub, 2_000_000_000, common_pb2.PRODUCT_TYPE_MORTGAGE)
    lost = lose(stub, mortgage.opportunity_id, "PROPERTY_LEGAL_ISSUE")
    assert (lost.status, lost.lost_reason, lost.competitor) == (OPP.OPPORTUNITY_STATUS_LOST, "PROPERTY_LEGAL_ISSUE", "")
    [event] = api.events(events_pb2.OpportunityLost)
    assert event.opportunity.lost_reason == "PROPERTY_LEGAL_ISSUE"


def test_the_pipeline_lists_its_lost_reasons_with_their_labels(api: LiveService, stub: OpportunityServiceStub) -> None:
    reply = stub.GetPipeline(S.GetPipelineRequest(product=common_pb2.PRODUCT_TYPE_MORTGAGE), metadata=RM)
    reasons = {r.code: (r.label, r.requires_competitor) for r in reply.pipeline.lost_reasons}
    assert reasons["COMPETITOR"] == ("Chọn ngân hàng khác", True)
    assert {"NOT_ELIGIBLE", "COLLATERAL_INSUFFICIENT", "PROPERTY_LEGAL_ISSUE"} <= set(reasons)
    card = stub.GetPipeline(S.GetPipelineRequest(product=common_pb2.PRODUCT_TYPE_CREDIT_CARD), metadata=RM)
    assert "PROPERTY_LEGAL_ISSUE" not in {r.code for r in card.pipeline.lost_reasons}


def test_a_reason_not_on_the_products_list_changes_nothing(api: LiveService, stub: OpportunityServiceStub) -> None:
    card = open_one(stub)
    error = rpc_error(lose, stub, card.opportunity_id, "PROPERTY_LEGAL_ISSUE")
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    [(field, description)] = field_violations(error)
    assert field == "reason_code" and "CREDIT_CARD" in description and "CIC_BAD_DEBT" in description
    reply = stub.GetOpportunity(S.GetOpportunityRequest(opportunity_id=card.opportunity_id), metadata=RM)
    assert reply.opportunity.status == OPP.OPPORTUNITY_STATUS_OPEN
    assert api.events(events_pb2.OpportunityLost) == []


def test_a_closed_opportunity_cannot_close_again(api: LiveService, stub: OpportunityServiceStub) -> None:
    opportunity = approved_card(stub)
    win(stub, opportunity.opportunity_id)
    for call in (lambda: win(stub, opportunity.opportunity_id), lambda: lose(stub, opportunity.opportunity_id, OPP.LOST_REASON_PRICE)):
        error = rpc_error(call)
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "already WON" in (error.details() or "")


def test_a_card_is_won_only_from_approved_with_its_exit_criteria(api: LiveService, stub: OpportunityServiceStub) -> None:
    """The reported case: a card won straight from needs analysis with amount 0 (a holding
    opened for nothing). GetPipeline says where a product is won from."""
    bare = open_one(stub, amount=0)
    stub.MoveStage(S.MoveStageRequest(request_id=new_id(), opportunity_id=bare.opportunity_id, stage="needs_analysis"), metadata=RM)
    error = rpc_error(win, stub, bare.opportunity_id)
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error.details() == "a CREDIT_CARD opportunity is won from approved (pipeline v1); this one is at needs_analysis"
    undelivered = rpc_error(win, stub, approved_card(stub).opportunity_id, completed_items=[])
    assert undelivered.details() == "cannot win from approved: approved needs checklist item card_delivered is not done"
    assert api.events(events_pb2.OpportunityWon) == []
    pipeline = stub.GetPipeline(S.GetPipelineRequest(product=common_pb2.PRODUCT_TYPE_CREDIT_CARD), metadata=RM).pipeline
    assert list(pipeline.win_from) == ["approved"]


@pytest.mark.parametrize(
    ("call", "fields"),
    [
        (lambda stub, oid: lose(stub, oid, 0), ["reason_code"]),
        (lambda stub, oid: lose(stub, oid, 42), ["reason"]),
        (lambda stub, oid: lose(stub, oid, OPP.LOST_REASON_COMPETITOR), ["competitor"]),
        (lambda stub, oid: lose(stub, oid, "COMPETITOR"), ["competitor"]),
        (lambda stub, oid: lose(stub, oid, "NOT_A_REASON"), ["reason_code"]),
        (lambda stub, oid: lose(stub, oid, OPP.LOST_REASON_PRICE, reason_code="OTHER"), ["reason_code"]),
        (lambda stub, oid: lose(stub, oid, "PRICE", "x" * 201), ["competitor"]),
        (lambda stub, oid: win(stub, oid, final_amount=common_pb2.Money(amount_minor=0)), ["final_amount.amount_minor"]),
        (lambda stub, oid: win(stub, "not-an-id"), ["opportunity_id"]),
    ],
)
def test_bad_input_is_invalid(api: LiveService, stub: OpportunityServiceStub, call: Callable[..., Any], fields: list[str]) -> None:
    error = rpc_error(call, stub, open_one(stub).opportunity_id)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in field_violations(error)] == fields


def test_unknown_opportunity_is_not_found(api: LiveService, stub: OpportunityServiceStub) -> None:
    assert rpc_error(win, stub, new_id()).code() == grpc.StatusCode.NOT_FOUND
