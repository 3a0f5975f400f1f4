"""The quota half of the gRPC API: plans (seeded, allocated, adjusted, approved maker-checker,
versioned), attainment, coverage, pacing and leaderboards."""

from __future__ import annotations

from crm_common.auth import Access, Scope
from crm_territory.service import QUOTA_APPROVE, QUOTA_PLAN, QUOTA_READ

# Quotas and attainment are figures per territory, team or RM: no customer records.
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
    """Servicer methods of the RPCs above (a method not written yet answers UNIMPLEMENTED)."""
