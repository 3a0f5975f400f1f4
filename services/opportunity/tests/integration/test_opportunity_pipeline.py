"""Pipelines and stage moves through the real gRPC API over SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from crm.common.v1 import common_pb2
from crm.opportunity.v1 import events_pb2, opportunity_pb2, opportunity_service_pb2
from crm.opportunity.v1.opportunity_service_pb2_grpc import OpportunityServiceStub
from crm_common.db import new_id
from crm_common.grpc.status import field_violations
from crm_common.testing import LiveService, bearer

RM = bearer("rm-1", ["rm"])
S = opportunity_service_pb2
CARD_STAGES = ["qualification", "needs_analysis", "documents_collected", "submitted_to_los", "approved"]


def open_one(stub: OpportunityServiceStub, product: int = common_pb2.PRODUCT_TYPE_CREDIT_CARD, **fields: Any) -> opportunity_pb2.Opportunity:
    close = Timestamp()
    close.FromDatetime(datetime.now(UTC) + timedelta(days=30))
    fields.setdefault("amount", common_pb2.Money(amount_minor=80_000_000))
    fields.setdefault("expected_close_time", close)
    request = S.CreateOpportunityRequest(request_id=new_id(), account_id=new_id(), product=product, **fields)  # type: ignore[arg-type]
    reply: S.CreateOpportunityResponse = stub.CreateOpportunity(request, metadata=RM)
    return reply.opportunity


def move(stub: OpportunityServiceStub, opportunity_id: str, stage: str, *items: str) -> opportunity_pb2.Opportunity:
    request = S.MoveStageRequest(request_id=new_id(), opportunity_id=opportunity_id, stage=stage, completed_items=list(items))
    reply: S.MoveStageResponse = stub.MoveStage(request, metadata=RM)
    return reply.opportunity


def rpc_error(call: Callable[..., object], *args: Any, **kwargs: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(*args, **kwargs)
    return caught.value


def test_the_seeded_credit_card_pipeline(api: LiveService, stub: OpportunityServiceStub) -> None:
    pipeline = stub.GetPipeline(S.GetPipelineRequest(product=common_pb2.PRODUCT_TYPE_CREDIT_CARD), metadata=RM).pipeline
    assert [s.name for s in pipeline.stages] == CARD_STAGES and pipeline.version == 1 and not pipeline.allow_skip
    documents = pipeline.stages[2]
    assert (documents.probability_percent, documents.forecast_category) == (50, opportunity_pb2.FORECAST_CATEGORY_BEST_CASE)
    assert list(documents.checklist) == ["id_document_verified", "income_documents_collected"]
    error = rpc_error(stub.GetPipeline, S.GetPipelineRequest(), metadata=RM)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and field_violations(error) == [("product", "required")]


def test_through_every_stage_to_won_with_the_history(api: LiveService, stub: OpportunityServiceStub) -> None:
    opportunity = open_one(stub)
    assert (opportunity.stage, opportunity.pipeline_version) == ("qualification", 1)
    move(stub, opportunity.opportunity_id, "needs_analysis")
    move(stub, opportunity.opportunity_id, "documents_collected")
    blocked = rpc_error(move, stub, opportunity.opportunity_id, "submitted_to_los", "id_document_verified")
    assert blocked.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert blocked.details() == "cannot leave documents_collected for submitted_to_los: checklist item income_documents_collected is not done"
    # A refused move records nothing (its items neither): the RM ticks both when moving.
    moved = move(stub, opportunity.opportunity_id, "submitted_to_los", "id_document_verified", "income_documents_collected")
    assert (moved.probability_percent, sorted(moved.checklist)) == (70, ["id_document_verified", "income_documents_collected"])
    move(stub, opportunity.opportunity_id, "approved")
    win = S.WinOpportunityRequest(request_id=new_id(), opportunity_id=opportunity.opportunity_id, completed_items=["card_delivered"])
    stub.WinOpportunity(win, metadata=RM)

    visits = stub.ListStageHistory(S.ListStageHistoryRequest(opportunity_id=opportunity.opportunity_id), metadata=RM).visits
    assert [v.stage for v in visits] == [*CARD_STAGES, "closed_won"]
    assert all(v.HasField("leave_time") for v in visits[:-1]) and not visits[-1].HasField("leave_time")
    assert all(v.seconds_in_stage >= 0 for v in visits)
    changes = api.events(events_pb2.OpportunityStageChanged)
    assert [(e.previous_stage, e.opportunity.stage) for e in changes] == list(itertools.pairwise(CARD_STAGES))


def test_required_fields_and_skips(api: LiveService, stub: OpportunityServiceStub) -> None:
    bare = open_one(stub, amount=common_pb2.Money(amount_minor=0))
    move(stub, bare.opportunity_id, "needs_analysis")
    error = rpc_error(move, stub, bare.opportunity_id, "documents_collected")
    assert error.details() == "cannot leave needs_analysis for documents_collected: field amount is not set"
    skip = rpc_error(move, stub, open_one(stub).opportunity_id, "documents_collected")
    assert skip.code() == grpc.StatusCode.FAILED_PRECONDITION and "cannot skip from qualification to documents_collected" in (skip.details() or "")
    deposit = open_one(stub, common_pb2.PRODUCT_TYPE_TERM_DEPOSIT)  # deposits may skip, exit criteria still hold
    assert move(stub, deposit.opportunity_id, "negotiation", "rate_offer_sent").stage == "negotiation"


def test_backward_moves_are_allowed_and_closed_ones_do_not_move(api: LiveService, stub: OpportunityServiceStub) -> None:
    opportunity = open_one(stub)
    move(stub, opportunity.opportunity_id, "needs_analysis")
    assert move(stub, opportunity.opportunity_id, "qualification").probability_percent == 10
    lose = S.LoseOpportunityRequest(request_id=new_id(), opportunity_id=opportunity.opportunity_id, reason=opportunity_pb2.LOST_REASON_PRICE)
    stub.LoseOpportunity(lose, metadata=RM)
    error = rpc_error(move, stub, opportunity.opportunity_id, "needs_analysis")
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "LOST" in (error.details() or "")


def test_bad_moves(api: LiveService, stub: OpportunityServiceStub) -> None:
    opportunity = open_one(stub)
    unknown = rpc_error(move, stub, opportunity.opportunity_id, "signed")
    assert unknown.code() == grpc.StatusCode.FAILED_PRECONDITION and "has no stage 'signed'" in (unknown.details() or "")
    item = rpc_error(move, stub, opportunity.opportunity_id, "needs_analysis", "coffee_served")
    assert item.code() == grpc.StatusCode.INVALID_ARGUMENT and [f for f, _ in field_violations(item)] == ["completed_items"]
    same = rpc_error(move, stub, opportunity.opportunity_id, "qualification")
    assert same.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert rpc_error(move, stub, new_id(), "needs_analysis").code() == grpc.StatusCode.NOT_FOUND
