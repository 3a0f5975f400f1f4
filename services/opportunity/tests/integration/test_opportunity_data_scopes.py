"""Who reaches which opportunity: a matrix generated from the servicer's declarations (every RPC
declared Scope.RECORD × every reach × an opportunity in scope, out of scope, and with the caller's
claim missing), through the real gRPC API on SQLite and PostgreSQL; and the issue's regression
cases (OWASP API1): another RM's opportunity, forecast, book and worklist."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp

from crm.common.v1 import common_pb2
from crm.opportunity.v1 import opportunity_pb2 as OPP
from crm.opportunity.v1 import opportunity_service_pb2 as S
from crm_common.db import new_id
from crm_common.testing import ScopeCase, bearer, reached, scope_matrix, scoped_rpcs
from crm_opportunity.entrypoints.grpc_api import PERMISSIONS

ADMIN = bearer("admin-1", ["admin"])
# Opportunities carry owner, team and territory (no branch).
CASES = scope_matrix(PERMISSIONS, {"team", "territory"})
NOW = datetime.now(UTC)
MONTH = NOW.strftime("%Y-%m")


def at(when: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(when)
    return stamp


def new_deal(placement: dict[str, str]) -> S.CreateOpportunityRequest:
    return S.CreateOpportunityRequest(
        request_id=new_id(),
        account_id=new_id(),
        product=common_pb2.PRODUCT_TYPE_TERM_DEPOSIT,
        amount=common_pb2.Money(amount_minor=1_000_000),
        expected_close_time=at(NOW),
        owner_id=placement["owner"],
        team_id=placement.get("team", ""),
        territory_id=placement.get("territory", ""),
    )


class Deal:
    """An opportunity placed where the case says, with an open task of its owner's on it."""

    def __init__(self, stub: Any, placement: dict[str, str]) -> None:
        self.placement = placement
        self.owner = placement["owner"]
        self.id = stub.CreateOpportunity(new_deal(placement), metadata=ADMIN).opportunity.opportunity_id
        task = S.CreateActivityRequest(
            request_id=new_id(), opportunity_id=self.id, kind=OPP.ACTIVITY_KIND_TASK, subject="gọi lại", owner_id=self.owner, due_time=at(NOW)
        )
        self.activity_id = stub.CreateActivity(task, metadata=ADMIN).activity.activity_id


def answered(call: Callable[[], Any]) -> bool:
    """True when the call reached the record (any answer but NOT_FOUND)."""
    return reached(call, (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.INVALID_ARGUMENT))


def created(stub: Any, deal: Deal, who: Any) -> bool:
    """CreateOpportunity in the deal's place: allowed within the caller's scope only."""
    try:
        stub.CreateOpportunity(new_deal(deal.placement), metadata=who)
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.PERMISSION_DENIED, exc
        return False
    return True


def on(stub: Any, method: str, request: Any, who: Any) -> Callable[[], Any]:
    return lambda: getattr(stub, method)(request, metadata=who)


# RPC → does the caller reach the deal? (one probe per RPC declared Scope.RECORD)
PROBES: dict[str, Callable[[Any, Deal, Any], bool]] = {
    "CreateOpportunity": created,
    "GetOpportunity": lambda s, d, w: answered(on(s, "GetOpportunity", S.GetOpportunityRequest(opportunity_id=d.id), w)),
    "ListOpportunities": lambda s, d, w: (
        d.id in {o.opportunity_id for o in s.ListOpportunities(S.ListOpportunitiesRequest(owner_id=d.owner), metadata=w).opportunities}
    ),
    "WinOpportunity": lambda s, d, w: answered(on(s, "WinOpportunity", S.WinOpportunityRequest(request_id=new_id(), opportunity_id=d.id), w)),
    "LoseOpportunity": lambda s, d, w: answered(
        on(s, "LoseOpportunity", S.LoseOpportunityRequest(request_id=new_id(), opportunity_id=d.id, reason_code="NO_SUCH_REASON"), w)
    ),
    "UpdateOpportunity": lambda s, d, w: answered(
        on(
            s,
            "UpdateOpportunity",
            S.UpdateOpportunityRequest(request_id=new_id(), opportunity_id=d.id, next_step="gọi", update_mask=FieldMask(paths=["next_step"])),
            w,
        )
    ),
    "MoveStage": lambda s, d, w: answered(on(s, "MoveStage", S.MoveStageRequest(request_id=new_id(), opportunity_id=d.id, stage="no_such_stage"), w)),
    "ListStageHistory": lambda s, d, w: answered(on(s, "ListStageHistory", S.ListStageHistoryRequest(opportunity_id=d.id), w)),
    "ReopenOpportunity": lambda s, d, w: answered(
        on(s, "ReopenOpportunity", S.ReopenOpportunityRequest(request_id=new_id(), opportunity_id=d.id, reason="again"), w)
    ),
    "SubmitApplication": lambda s, d, w: answered(
        on(s, "SubmitApplication", S.SubmitApplicationRequest(request_id=new_id(), opportunity_id=d.id), w)
    ),
    "CreateActivity": lambda s, d, w: answered(
        on(s, "CreateActivity", S.CreateActivityRequest(request_id=new_id(), opportunity_id=d.id, kind=OPP.ACTIVITY_KIND_NOTE, subject="ghi chú"), w)
    ),
    "CompleteActivity": lambda s, d, w: answered(
        on(s, "CompleteActivity", S.CompleteActivityRequest(request_id=new_id(), activity_id=d.activity_id, outcome="xong"), w)
    ),
    "CancelActivity": lambda s, d, w: answered(on(s, "CancelActivity", S.CancelActivityRequest(request_id=new_id(), activity_id=d.activity_id), w)),
    "ListActivities": lambda s, d, w: (
        d.activity_id in {a.activity_id for a in s.ListActivities(S.ListActivitiesRequest(opportunity_id=d.id), metadata=w).activities}
    ),
    "GetWorklist": lambda s, d, w: (
        d.activity_id in {a.activity_id for a in s.GetWorklist(S.GetWorklistRequest(owner_id=d.owner), metadata=w).activities}
    ),
    "GetForecast": lambda s, d, w: (
        s.GetForecast(S.GetForecastRequest(owner_id=d.owner, from_month=MONTH, to_month=MONTH), metadata=w).total.open_count == 1
    ),
    "GetStageMetrics": lambda s, d, w: any(
        m.entered
        for m in s.GetStageMetrics(S.GetStageMetricsRequest(product=common_pb2.PRODUCT_TYPE_TERM_DEPOSIT, owner_id=d.owner), metadata=w).stages
    ),
    "GetNextBestActions": lambda s, d, w: answered(on(s, "GetNextBestActions", S.GetNextBestActionsRequest(opportunity_id=d.id), w)),
    "GetBookActions": lambda s, d, w: s.GetBookActions(S.GetBookActionsRequest(owner_id=d.owner), metadata=w).open_opportunities == 1,
}


def test_every_rpc_declared_record_scoped_has_a_probe() -> None:
    assert set(PROBES) == set(scoped_rpcs(PERMISSIONS))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_matrix(api, stub, case: ScopeCase) -> None:
    deal = Deal(stub, case.placement)
    assert PROBES[case.rpc](stub, deal, case.caller(PERMISSIONS[case.rpc].permission)) is case.expect_reached


RM_A, RM_B = bearer("rm-a", ["rm"]), bearer("rm-b", ["rm"])


def test_rm_a_cannot_take_rm_b_s_opportunity(api, stub) -> None:
    """UpdateOpportunity owner_id=rm-a on rm-b's: NOT_FOUND, nothing changed; on their own, moving
    it to someone else needs opportunities.reassign."""
    theirs = Deal(stub, {"owner": "rm-b"})
    take = S.UpdateOpportunityRequest(request_id=new_id(), opportunity_id=theirs.id, owner_id="rm-a", update_mask=FieldMask(paths=["owner_id"]))
    with pytest.raises(grpc.RpcError) as err:
        stub.UpdateOpportunity(take, metadata=RM_A)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert stub.GetOpportunity(S.GetOpportunityRequest(opportunity_id=theirs.id), metadata=RM_B).opportunity.owner_id == "rm-b"
    give = S.UpdateOpportunityRequest(request_id=new_id(), opportunity_id=theirs.id, owner_id="rm-a", update_mask=FieldMask(paths=["owner_id"]))
    with pytest.raises(grpc.RpcError) as err:
        stub.UpdateOpportunity(give, metadata=RM_B)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED and "opportunities.reassign" in err.value.details()
    assert api.count("outbox", api.metadata.tables["outbox"].c.event_type == "OpportunityUpdated") == 0


def test_a_manager_reassigns_within_the_team_only(api, stub) -> None:
    manager = bearer("sm-1", ["sales_manager"], teams=["team-a"])
    deal = Deal(stub, {"owner": "rm-b", "team": "team-a"})
    move = S.UpdateOpportunityRequest(request_id=new_id(), opportunity_id=deal.id, owner_id="rm-a", update_mask=FieldMask(paths=["owner_id"]))
    assert stub.UpdateOpportunity(move, metadata=manager).opportunity.owner_id == "rm-a"
    away = S.UpdateOpportunityRequest(request_id=new_id(), opportunity_id=deal.id, team_id="team-z", update_mask=FieldMask(paths=["team_id"]))
    with pytest.raises(grpc.RpcError) as err:
        stub.UpdateOpportunity(away, metadata=manager)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_forecast_book_and_worklist_of_another_owner_or_territory_are_empty(api, stub) -> None:
    Deal(stub, {"owner": "rm-b", "territory": "VN.NORTH.HN"})
    Deal(stub, {"owner": "rm-a", "territory": "VN.SOUTH.HCM"})

    def forecast(who: Any, **scope: str) -> int:
        return int(stub.GetForecast(S.GetForecastRequest(from_month=MONTH, to_month=MONTH, **scope), metadata=who).total.open_count)

    assert (forecast(RM_A, owner_id="rm-b"), forecast(RM_A, territory_id="VN.NORTH.HN"), forecast(RM_A, owner_id="rm-a")) == (0, 0, 1)
    assert forecast(RM_B, owner_id="rm-b") == 1
    book = stub.GetBookActions(S.GetBookActionsRequest(owner_id="rm-b"), metadata=RM_A)
    assert (book.open_opportunities, list(book.actions)) == (0, [])
    assert list(stub.GetWorklist(S.GetWorklistRequest(owner_id="rm-b"), metadata=RM_A).activities) == []
    # A regional head reaches its territory and everything below it, not the next one's.
    north = bearer("head-north", ["regional_head"], territories=["VN.NORTH"])
    assert (forecast(north, owner_id="rm-b"), forecast(north, owner_id="rm-a"), forecast(north, territory_id="VN.NORTH.HN")) == (1, 0, 1)
    assert stub.GetBookActions(S.GetBookActionsRequest(owner_id="rm-b"), metadata=north).open_opportunities == 1
