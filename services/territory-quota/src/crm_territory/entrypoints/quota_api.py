"""The quota half of the gRPC API: plans (seeded, allocated, adjusted, approved maker-checker,
versioned), attainment, coverage, pacing and leaderboards. Thin: parse, call a use case, map."""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc

from crm.common.v1 import common_pb2
from crm.territory.v1 import territory_service_pb2 as pb
from crm_common.auth.scopes import Access, Scope
from crm_common.grpc.requests import idempotency_key
from crm_common.pagination import next_token, parse_page
from crm_territory.adapters.quota_mapping import (
    attainment_to_proto,
    coverage_to_proto,
    date_from_proto,
    leaderboard_entry_to_proto,
    measure_from_proto,
    move_policy_from_proto,
    optional_period,
    period_from_proto,
    plan_to_proto,
    scope_from_proto,
    scope_kind_from_proto,
    status_from_proto,
    value_from_proto,
)
from crm_territory.service import QUOTA_APPROVE, QUOTA_PLAN, QUOTA_READ
from crm_territory.service_layer.quotas import AdjustLine, AllocatePlan, SeedPlan

if TYPE_CHECKING:
    from crm_territory.service_layer.use_cases import TerritoryUseCases

# Who may call what. Scope.NONE: plans and attainment are sums per territory, team and RM, not
# customer records (crm_common.auth.scopes); reading them needs quotas.read.
QUOTA_PERMISSIONS: dict[str, Access] = {
    "SeedQuotaPlan": Access(QUOTA_PLAN, Scope.NONE),
    "AllocateQuota": Access(QUOTA_PLAN, Scope.NONE),
    "AdjustQuota": Access(QUOTA_PLAN, Scope.NONE),
    "SubmitQuotaPlan": Access(QUOTA_PLAN, Scope.NONE),
    "ApproveQuotaPlan": Access(QUOTA_APPROVE, Scope.NONE),
    "RejectQuotaPlan": Access(QUOTA_APPROVE, Scope.NONE),
    "ReviseQuotaPlan": Access(QUOTA_PLAN, Scope.NONE),
    "GetQuotaPlan": Access(QUOTA_READ, Scope.NONE),
    "ListQuotaPlans": Access(QUOTA_READ, Scope.NONE),
    "GetAttainment": Access(QUOTA_READ, Scope.NONE),
    "GetCoverage": Access(QUOTA_READ, Scope.NONE),
    "GetLeaderboard": Access(QUOTA_READ, Scope.NONE),
}


class QuotaApi:
    """Servicer methods of the RPCs above."""

    use_cases: TerritoryUseCases

    def SeedQuotaPlan(self, request: pb.SeedQuotaPlanRequest, context: grpc.ServicerContext) -> pb.SeedQuotaPlanResponse:
        command = SeedPlan(
            key=idempotency_key(request),
            period=period_from_proto(request.period),
            measure=measure_from_proto(request.measure),
            root_territory_id=request.root_territory_id,
            growth_bp=request.growth_bp,
            move_policy=move_policy_from_proto(request.move_policy),
        )
        return pb.SeedQuotaPlanResponse(plan=plan_to_proto(self.use_cases.quota_plans.seed_plan(command)))

    def AllocateQuota(self, request: pb.AllocateQuotaRequest, context: grpc.ServicerContext) -> pb.AllocateQuotaResponse:
        parent = scope_from_proto(request.parent, "parent")
        total = value_from_proto(request.total, None, "total") if request.HasField("total") else None
        unit = request.total.WhichOneof("value") or ""
        command = AllocatePlan(idempotency_key(request), request.plan_id, parent, total, dict(request.weights), unit)
        return pb.AllocateQuotaResponse(plan=plan_to_proto(self.use_cases.quota_plans.allocate(command)))

    def AdjustQuota(self, request: pb.AdjustQuotaRequest, context: grpc.ServicerContext) -> pb.AdjustQuotaResponse:
        scope = scope_from_proto(request.scope, "scope")
        target = value_from_proto(request.target, None, "target")
        unit = request.target.WhichOneof("value") or ""
        command = AdjustLine(idempotency_key(request), request.plan_id, scope, target, request.note, unit)
        return pb.AdjustQuotaResponse(plan=plan_to_proto(self.use_cases.quota_plans.adjust(command)))

    def SubmitQuotaPlan(self, request: pb.SubmitQuotaPlanRequest, context: grpc.ServicerContext) -> pb.SubmitQuotaPlanResponse:
        stored = self.use_cases.quota_plans.submit(idempotency_key(request), request.plan_id, request.accept_differences)
        return pb.SubmitQuotaPlanResponse(plan=plan_to_proto(stored))

    def ApproveQuotaPlan(self, request: pb.ApproveQuotaPlanRequest, context: grpc.ServicerContext) -> pb.ApproveQuotaPlanResponse:
        return pb.ApproveQuotaPlanResponse(plan=plan_to_proto(self.use_cases.quota_plans.approve(idempotency_key(request), request.plan_id)))

    def RejectQuotaPlan(self, request: pb.RejectQuotaPlanRequest, context: grpc.ServicerContext) -> pb.RejectQuotaPlanResponse:
        stored = self.use_cases.quota_plans.reject(idempotency_key(request), request.plan_id, request.reason)
        return pb.RejectQuotaPlanResponse(plan=plan_to_proto(stored))

    def ReviseQuotaPlan(self, request: pb.ReviseQuotaPlanRequest, context: grpc.ServicerContext) -> pb.ReviseQuotaPlanResponse:
        return pb.ReviseQuotaPlanResponse(plan=plan_to_proto(self.use_cases.quota_plans.revise(idempotency_key(request), request.plan_id)))

    def GetQuotaPlan(self, request: pb.GetQuotaPlanRequest, context: grpc.ServicerContext) -> pb.GetQuotaPlanResponse:
        return pb.GetQuotaPlanResponse(plan=plan_to_proto(self.use_cases.quota_plans.get(request.plan_id, request.version)))

    def ListQuotaPlans(self, request: pb.ListQuotaPlansRequest, context: grpc.ServicerContext) -> pb.ListQuotaPlansResponse:
        page = parse_page(request.page.page_size, request.page.page_token)
        found, after = self.use_cases.quota_plans.list_plans(
            page, optional_period(request.period), measure_from_proto(request.measure), status_from_proto(request.status)
        )
        return pb.ListQuotaPlansResponse(plans=[plan_to_proto(p) for p in found], page=common_pb2.PageResponse(next_page_token=next_token(after)))

    def GetAttainment(self, request: pb.GetAttainmentRequest, context: grpc.ServicerContext) -> pb.GetAttainmentResponse:
        as_of = date_from_proto(request.as_of, "as_of") if request.HasField("as_of") else None
        figures = self.use_cases.attainment.attainment(
            scope_from_proto(request.scope, "scope"), measure_from_proto(request.measure), period_from_proto(request.period), as_of
        )
        return pb.GetAttainmentResponse(attainment=attainment_to_proto(figures))

    def GetCoverage(self, request: pb.GetCoverageRequest, context: grpc.ServicerContext) -> pb.GetCoverageResponse:
        figures = self.use_cases.attainment.coverage(
            scope_from_proto(request.scope, "scope"), measure_from_proto(request.measure), period_from_proto(request.period)
        )
        return pb.GetCoverageResponse(coverage=coverage_to_proto(figures))

    def GetLeaderboard(self, request: pb.GetLeaderboardRequest, context: grpc.ServicerContext) -> pb.GetLeaderboardResponse:
        measure = measure_from_proto(request.measure)
        ranked = scope_kind_from_proto(request.ranked, "ranked")
        entries = self.use_cases.attainment.leaderboard(request.territory_id, measure, period_from_proto(request.period), ranked, request.limit)
        assert measure is not None  # the use case refuses a missing measure
        return pb.GetLeaderboardResponse(entries=[leaderboard_entry_to_proto(e, measure) for e in entries])
