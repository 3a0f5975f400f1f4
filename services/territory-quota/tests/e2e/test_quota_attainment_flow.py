"""A won deal moves its RM's attainment and reopening it moves it back, driven through the real
opportunity API (create, move through the stages, win, reopen) with the territory-quota worker
consuming the opportunity service's events. Real processes, PostgreSQL and RabbitMQ."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from google.protobuf.timestamp_pb2 import Timestamp

from crm.common.v1 import common_pb2
from crm.opportunity.v1 import opportunity_pb2
from crm.opportunity.v1 import opportunity_service_pb2 as opp_svc
from crm.territory.v1 import territory_pb2
from crm.territory.v1 import territory_service_pb2 as territory_svc
from crm_common.testing import bearer, wait_until
from crm_common.testing_e2e import Suite

CARD_STAGES = ["needs_analysis", "documents_collected", "submitted_to_los", "approved"]
CHECKLIST = {"documents_collected": ["id_document_verified", "income_documents_collected"], "approved": ["card_delivered"]}


def test_a_won_deal_moves_the_rms_attainment_and_reopening_moves_it_back(suite: Suite) -> None:
    rm, territory = f"rm-quota-{uuid.uuid4().hex[:8]}", f"VN.E2E{uuid.uuid4().hex[:6].upper()}"
    caller = bearer(rm, ["rm"])
    close = Timestamp()
    close.FromDatetime(datetime.now(UTC) + timedelta(days=1))
    create = opp_svc.CreateOpportunityRequest(
        request_id=str(uuid.uuid4()),
        account_id=str(uuid.uuid4()),
        product=common_pb2.PRODUCT_TYPE_CREDIT_CARD,
        amount=common_pb2.Money(amount_minor=50_000_000),
        expected_close_time=close,
        owner_id=rm,
        team_id="T-E2E",
        territory_id=territory,
    )
    opportunity_id = suite.opportunity.CreateOpportunity(create, metadata=caller).opportunity.opportunity_id
    for stage in CARD_STAGES:
        move = opp_svc.MoveStageRequest(
            request_id=str(uuid.uuid4()), opportunity_id=opportunity_id, stage=stage, completed_items=CHECKLIST.get(stage, [])
        )
        suite.opportunity.MoveStage(move, metadata=caller)
    won = suite.opportunity.WinOpportunity(
        opp_svc.WinOpportunityRequest(request_id=str(uuid.uuid4()), opportunity_id=opportunity_id), metadata=caller
    )
    assert won.opportunity.status == opportunity_pb2.OPPORTUNITY_STATUS_WON
    closed = won.opportunity.close_time.ToDatetime()
    month = territory_pb2.Period(kind=territory_pb2.PERIOD_KIND_MONTH, year=closed.year, index=closed.month)

    def new_cards(kind: int, scope_id: str) -> int:
        request = territory_svc.GetAttainmentRequest(
            scope=territory_pb2.QuotaScope(kind=kind, id=scope_id), measure=territory_pb2.QUOTA_MEASURE_NEW_CARDS, period=month
        )
        return int(suite.stubs["territory-quota"].GetAttainment(request, metadata=caller).attainment.actual.count)

    wait_until(lambda: new_cards(territory_pb2.QUOTA_SCOPE_KIND_RM, rm) == 1, what="the territory-quota worker to credit the win")
    assert new_cards(territory_pb2.QUOTA_SCOPE_KIND_TEAM, "T-E2E") == 1
    assert new_cards(territory_pb2.QUOTA_SCOPE_KIND_TERRITORY, territory) == 1

    reopen = opp_svc.ReopenOpportunityRequest(request_id=str(uuid.uuid4()), opportunity_id=opportunity_id, reason="card returned undelivered")
    suite.opportunity.ReopenOpportunity(reopen, metadata=caller)
    wait_until(lambda: new_cards(territory_pb2.QUOTA_SCOPE_KIND_RM, rm) == 0, what="the territory-quota worker to subtract the reopened win")
    assert new_cards(territory_pb2.QUOTA_SCOPE_KIND_TERRITORY, territory) == 0
