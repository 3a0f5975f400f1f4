"""Activities and the RM's worklist through the real gRPC API over SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from nameko.testing.services import worker_factory

from crm.account.v1 import events_pb2 as account_events
from crm.common.v1 import common_pb2
from crm.opportunity.v1 import events_pb2, opportunity_pb2, opportunity_service_pb2
from crm.opportunity.v1.opportunity_service_pb2_grpc import OpportunityServiceStub
from crm_common.db import new_id
from crm_common.events.envelope import new_event
from crm_common.grpc.status import field_violations
from crm_common.testing import LiveService, bearer, delivery
from crm_opportunity.entrypoints.worker import OpportunityWorker

RM = bearer("rm-1", ["rm"])
S = opportunity_service_pb2
OPP = opportunity_pb2


def at(days: float) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(datetime.now(UTC) + timedelta(days=days))
    return stamp


def opportunity(stub: OpportunityServiceStub) -> OPP.Opportunity:
    request = S.CreateOpportunityRequest(request_id=new_id(), account_id=new_id(), product=common_pb2.PRODUCT_TYPE_MORTGAGE)
    return stub.CreateOpportunity(request, metadata=RM).opportunity


def activity(stub: OpportunityServiceStub, kind: int, subject: str, **fields: Any) -> OPP.Activity:
    request = S.CreateActivityRequest(request_id=new_id(), kind=kind, subject=subject, **fields)  # type: ignore[arg-type]
    reply: S.CreateActivityResponse = stub.CreateActivity(request, metadata=RM)
    return reply.activity


def rpc_error(call: Callable[..., object], *args: Any, **kwargs: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(*args, **kwargs)
    return caught.value


def test_the_worklist_puts_overdue_first_and_completion_is_announced(api: LiveService, stub: OpportunityServiceStub) -> None:
    deal = opportunity(stub)
    later = activity(stub, OPP.ACTIVITY_KIND_MEETING, "Gặp khách xem nhà", opportunity_id=deal.opportunity_id, due_time=at(3))
    late = activity(stub, OPP.ACTIVITY_KIND_CALL, "Gọi nhắc hồ sơ thu nhập", opportunity_id=deal.opportunity_id, due_time=at(-1))
    undated = activity(stub, OPP.ACTIVITY_KIND_TASK, "Chuẩn bị bảng so sánh lãi suất", account_id=deal.account_id)
    note = activity(stub, OPP.ACTIVITY_KIND_NOTE, "Khách muốn vay 20 năm", opportunity_id=deal.opportunity_id)
    assert (late.account_id, late.overdue, note.status) == (deal.account_id, True, OPP.ACTIVITY_STATUS_COMPLETED)

    worklist = stub.GetWorklist(S.GetWorklistRequest(), metadata=RM)
    assert [a.activity_id for a in worklist.activities] == [late.activity_id, later.activity_id, undated.activity_id]
    assert worklist.overdue_count == 1

    done = stub.CompleteActivity(
        S.CompleteActivityRequest(request_id=new_id(), activity_id=late.activity_id, outcome="đã gửi bảng lương"), metadata=RM
    )
    assert (done.activity.status, done.activity.outcome, done.activity.overdue) == (OPP.ACTIVITY_STATUS_COMPLETED, "đã gửi bảng lương", False)
    [event] = api.events(events_pb2.ActivityCompleted)
    assert event.activity.activity_id == late.activity_id
    stub.CancelActivity(S.CancelActivityRequest(request_id=new_id(), activity_id=undated.activity_id), metadata=RM)
    assert [a.activity_id for a in stub.GetWorklist(S.GetWorklistRequest(), metadata=RM).activities] == [later.activity_id]
    again = S.CompleteActivityRequest(request_id=new_id(), activity_id=late.activity_id, outcome="x")
    assert rpc_error(stub.CompleteActivity, again, metadata=RM).code() == grpc.StatusCode.FAILED_PRECONDITION

    listed = stub.ListActivities(S.ListActivitiesRequest(opportunity_id=deal.opportunity_id), metadata=RM).activities
    assert {a.activity_id for a in listed} == {later.activity_id, late.activity_id, note.activity_id}


@pytest.mark.parametrize(
    ("fields", "violations"),
    [
        ({"kind": 0, "subject": "x", "account_id": new_id()}, ["kind"]),
        ({"kind": OPP.ACTIVITY_KIND_CALL, "subject": " ", "account_id": new_id()}, ["subject"]),
        ({"kind": OPP.ACTIVITY_KIND_NOTE, "subject": "x", "account_id": new_id(), "due_time": at(1)}, ["due_time"]),
        ({"kind": OPP.ACTIVITY_KIND_CALL, "subject": "x"}, ["opportunity_id", "account_id"]),
    ],
)
def test_bad_activities_are_invalid(api: LiveService, stub: OpportunityServiceStub, fields: dict[str, Any], violations: list[str]) -> None:
    error = rpc_error(stub.CreateActivity, S.CreateActivityRequest(request_id=new_id(), **fields), metadata=RM)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in field_violations(error)] == violations


def test_completion_needs_an_outcome_and_an_unknown_opportunity_is_not_found(api: LiveService, stub: OpportunityServiceStub) -> None:
    open_call = activity(stub, OPP.ACTIVITY_KIND_CALL, "Gọi", account_id=new_id())
    error = rpc_error(stub.CompleteActivity, S.CompleteActivityRequest(request_id=new_id(), activity_id=open_call.activity_id), metadata=RM)
    assert [f for f, _ in field_violations(error)] == ["outcome"]
    assert rpc_error(activity, stub, OPP.ACTIVITY_KIND_CALL, "Gọi", opportunity_id=new_id()).code() == grpc.StatusCode.NOT_FOUND


def test_merges_relink_and_erasures_blank_activities(api: LiveService, stub: OpportunityServiceStub) -> None:
    merged_id, survivor_id = new_id(), new_id()
    note = activity(stub, OPP.ACTIVITY_KIND_NOTE, "Anh Hùng, 0912 345 678, thích gặp buổi tối", account_id=merged_id)
    worker: OpportunityWorker = worker_factory(OpportunityWorker, use_cases=api.app.use_cases)
    merged = new_event(account_events.AccountsMerged, "account", "", datetime.now(UTC), survivor_id=survivor_id, merged_id=merged_id)
    assert worker.on_accounts_merged(delivery(merged, "opportunity.on_accounts_merged")) == "0 opportunity(ies) and 1 activity(ies) relinked"
    erased = new_event(account_events.ErasureRequested, "account", "", datetime.now(UTC), erasure_id=new_id(), account_id=survivor_id)
    assert worker.on_erasure_requested(delivery(erased, "opportunity.on_erasure_requested")) == "1 activity(ies) anonymised"
    [kept] = stub.ListActivities(S.ListActivitiesRequest(account_id=survivor_id), metadata=RM).activities
    assert (kept.activity_id, kept.subject, kept.notes) == (note.activity_id, "(erased)", "")
