"""The quota half of the gRPC API: plans (seeded, allocated, adjusted, approved maker-checker,
versioned), attainment, coverage, pacing and leaderboards."""

from __future__ import annotations

from crm_territory.service import QUOTA_APPROVE, QUOTA_PLAN, QUOTA_READ

QUOTA_PERMISSIONS: dict[str, str | None] = {
    "SeedQuotaPlan": QUOTA_PLAN,
    "AllocateQuota": QUOTA_PLAN,
    "AdjustQuota": QUOTA_PLAN,
    "SubmitQuotaPlan": QUOTA_PLAN,
    "ApproveQuotaPlan": QUOTA_APPROVE,
    "RejectQuotaPlan": QUOTA_APPROVE,
    "ReviseQuotaPlan": QUOTA_PLAN,
    "GetQuotaPlan": QUOTA_READ,
    "ListQuotaPlans": QUOTA_READ,
    "GetAttainment": QUOTA_READ,
    "GetCoverage": QUOTA_READ,
    "GetLeaderboard": QUOTA_READ,
}


class QuotaApi:
    """Servicer methods of the RPCs above (a method not written yet answers UNIMPLEMENTED)."""
