"""Concurrent ConvertLead calls for one lead, from different callers, through the real gRPC API
on SQLite and PostgreSQL: every caller gets the one account and opportunity, and each step of
the saga runs once (the peers' idempotency is scoped to the caller, so a step run for two
callers would create two opportunities)."""

from __future__ import annotations

import threading

import grpc
import pytest
from test_sales_flow import BRANCH, capture, rid, to_sql

from crm.lead.v1 import lead_pb2
from crm.lead.v1 import lead_service_pb2 as svc
from crm_common.testing import bearer

CALLERS = 8


def caller(n: int) -> list[tuple[str, str]]:
    """RMs who reach the lead through its branch (data scopes), each its own caller."""
    return bearer(f"rm-{n}", ["rm", "branch_manager"], branches=[BRANCH])


def test_concurrent_conversions_of_one_lead_all_answer_the_one_conversion(app) -> None:
    manager = bearer("head-of-sales", ["sales_manager", "branch_manager"], teams=["telesales-hcm"], branches=[BRANCH])
    lead = to_sql(app, manager, capture(app).lead_id)
    app.accounts.delay = app.opportunities.delay = 0.2  # peers slow enough for every call to overlap
    start = threading.Barrier(CALLERS)
    requests = [svc.ConvertLeadRequest(request_id=rid(), lead_id=lead.lead_id) for _ in range(CALLERS)]
    replies: dict[int, svc.ConvertLeadResponse] = {}
    errors: dict[int, grpc.RpcError] = {}

    def convert(n: int) -> None:
        start.wait()
        try:
            replies[n] = app.stub.ConvertLead(requests[n], metadata=caller(n), timeout=30)
        except grpc.RpcError as exc:
            errors[n] = exc

    threads = [threading.Thread(target=convert, args=(n,)) for n in range(CALLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert {n: (e.code(), e.details()) for n, e in errors.items()} == {}
    assert len(replies) == CALLERS
    assert len({(r.conversion.account_id, r.conversion.opportunity_id) for r in replies.values()}) == 1
    assert all(r.lead.status == lead_pb2.LEAD_STATUS_CONVERTED for r in replies.values())
    assert [request_id for _, request_id in app.accounts.calls] == [f"convert:{lead.lead_id}:account"]
    assert [request_id for _, request_id in app.opportunities.calls] == [f"convert:{lead.lead_id}:opportunity"]
    assert app.outbox_types().count("LeadConverted") == 1

    # Each caller's retry is answered from its first call; a conversion asked for later is refused.
    again = app.stub.ConvertLead(requests[3], metadata=caller(3))
    assert again.conversion == replies[3].conversion
    with pytest.raises(grpc.RpcError) as later:
        app.stub.ConvertLead(svc.ConvertLeadRequest(request_id=rid(), lead_id=lead.lead_id), metadata=caller(1))
    assert later.value.code() == grpc.StatusCode.FAILED_PRECONDITION
