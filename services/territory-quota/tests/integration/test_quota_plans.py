"""Quota plans on a real server and database (both backends): seeded from last year's actuals kept
from events, allocated exactly, adjusted with differences shown, maker-checker, versions, and
every RPC's bad input answered with its precise status."""

from __future__ import annotations

from datetime import date

import grpc
import pytest
from quota_helpers import BOTH, CHECKER, PLANNER, RM, assign, holding_opened, worker

from crm.common.v1 import common_pb2
from crm.territory.v1 import events_pb2, territory_pb2
from crm.territory.v1 import territory_service_pb2 as pb
from crm.territory.v1.territory_service_pb2_grpc import TerritoryServiceStub
from crm_common.db import new_id
from crm_common.testing import LiveService

LOANS = territory_pb2.QUOTA_MEASURE_LOAN_DISBURSED
Q3_2026 = territory_pb2.Period(kind=territory_pb2.PERIOD_KIND_QUARTER, year=2026, index=3)
TERRITORY = territory_pb2.QUOTA_SCOPE_KIND_TERRITORY
TEAM = territory_pb2.QUOTA_SCOPE_KIND_TEAM
RM_KIND = territory_pb2.QUOTA_SCOPE_KIND_RM
LOAN = common_pb2.PRODUCT_TYPE_UNSECURED_LOAN


def money(amount: int) -> territory_pb2.MeasureValue:
    return territory_pb2.MeasureValue(money=common_pb2.Money(currency_code="VND", amount_minor=amount))


def scope(kind: int, scope_id: str) -> territory_pb2.QuotaScope:
    return territory_pb2.QuotaScope(kind=kind, id=scope_id)


def last_year_book(api: LiveService) -> None:
    """Three RMs in two branches of the north, with loans disbursed in Q3 2025 (core banking)."""
    w = worker(api)
    places = [
        ("acc-1", "VN.NORTH.HN.HN01", "rm-a", "T-HN01"),
        ("acc-2", "VN.NORTH.HN.HN01", "rm-b", "T-HN01"),
        ("acc-3", "VN.NORTH.HN.HN02", "rm-c", "T-HN02"),
    ]
    for account_id, territory, owner, team in places:
        assert assign(w, account_id, territory, owner, team, date(2025, 1, 2)) == "recorded"
    for holding_id, account_id, amount in (("h-1", "acc-1", 1_000_000_000), ("h-2", "acc-2", 3_000_000_000), ("h-3", "acc-3", 2_000_000_001)):
        assert holding_opened(w, holding_id, account_id, LOAN, amount, date(2025, 8, 15)) == f"{amount} credited to 6 scope(s)"


def seed(stub: TerritoryServiceStub, request_id: str = "", growth_bp: int = 1000, root: str = "VN.NORTH") -> territory_pb2.QuotaPlan:
    request = pb.SeedQuotaPlanRequest(
        request_id=request_id or new_id(),
        period=Q3_2026,
        measure=LOANS,
        root_territory_id=root,
        growth_bp=growth_bp,
        move_policy=territory_pb2.MOVE_POLICY_PRO_RATE,
    )
    return stub.SeedQuotaPlan(request, metadata=PLANNER).plan


def lines(plan: territory_pb2.QuotaPlan) -> dict[tuple[int, str], territory_pb2.QuotaLine]:
    return {(line.scope.kind, line.scope.id): line for line in plan.lines}


def test_a_plan_is_seeded_from_last_years_actuals_times_growth_and_adds_up_exactly(api: LiveService) -> None:
    last_year_book(api)
    stub = TerritoryServiceStub(api.channel)
    plan = seed(stub)
    assert (plan.status, plan.version, plan.growth_bp, plan.root.id) == (territory_pb2.QUOTA_PLAN_STATUS_DRAFT, 1, 1000, "VN.NORTH")
    found = lines(plan)
    assert list(found) == [
        (TERRITORY, "VN.NORTH"),
        (TERRITORY, "VN.NORTH.HN"),
        (TERRITORY, "VN.NORTH.HN.HN01"),
        (TERRITORY, "VN.NORTH.HN.HN02"),
        (TEAM, "T-HN01"),
        (TEAM, "T-HN02"),
        (RM_KIND, "rm-a"),
        (RM_KIND, "rm-b"),
        (RM_KIND, "rm-c"),
    ]
    root = found[(TERRITORY, "VN.NORTH")]
    assert root.last_year_actual.money.amount_minor == 6_000_000_001
    # 6,000,000,001 × 1.1 = 6,600,000,001.1, rounded half away from zero.
    assert root.seeded.money.amount_minor == root.target.money.amount_minor == 6_600_000_001
    assert found[(RM_KIND, "rm-b")].last_year_actual.money.amount_minor == 3_000_000_000
    assert found[(RM_KIND, "rm-b")].seeded.money.amount_minor == 3_300_000_000
    # Every parent's children add up to it, to the đồng.
    for line in plan.lines:
        if line.HasField("children_total"):
            assert line.difference.money.amount_minor == 0
    hn01, hn02 = found[(TERRITORY, "VN.NORTH.HN.HN01")], found[(TERRITORY, "VN.NORTH.HN.HN02")]
    assert hn01.target.money.amount_minor + hn02.target.money.amount_minor == 6_600_000_001
    assert stub.GetQuotaPlan(pb.GetQuotaPlanRequest(plan_id=plan.plan_id), metadata=RM).plan == plan


def test_seeding_is_idempotent_per_request_id_and_one_plan_per_scope(api: LiveService) -> None:
    last_year_book(api)
    stub = TerritoryServiceStub(api.channel)
    first = seed(stub, request_id="seed-1")
    assert seed(stub, request_id="seed-1") == first
    with pytest.raises(grpc.RpcError) as refused:
        seed(stub)
    assert refused.value.code() == grpc.StatusCode.ALREADY_EXISTS


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"root_territory_id": "VN.NOWHERE"}, grpc.StatusCode.NOT_FOUND, ""),
        ({"root_territory_id": ""}, grpc.StatusCode.INVALID_ARGUMENT, "root_territory_id"),
        ({"root_territory_id": "VN..X"}, grpc.StatusCode.INVALID_ARGUMENT, "root_territory_id"),
        ({"growth_bp": -10001}, grpc.StatusCode.INVALID_ARGUMENT, "growth_bp"),
        ({"measure": 0}, grpc.StatusCode.INVALID_ARGUMENT, "measure"),
        ({"measure": 99}, grpc.StatusCode.INVALID_ARGUMENT, "measure"),
        ({"period": territory_pb2.Period(year=2026, index=3)}, grpc.StatusCode.INVALID_ARGUMENT, "period.kind"),
        (
            {"period": territory_pb2.Period(kind=territory_pb2.PERIOD_KIND_MONTH, year=2026, index=13)},
            grpc.StatusCode.INVALID_ARGUMENT,
            "period.index",
        ),
        (
            {"period": territory_pb2.Period(kind=territory_pb2.PERIOD_KIND_QUARTER, year=2026, index=5)},
            grpc.StatusCode.INVALID_ARGUMENT,
            "period.index",
        ),
        ({"period": territory_pb2.Period(kind=territory_pb2.PERIOD_KIND_YEAR, year=0)}, grpc.StatusCode.INVALID_ARGUMENT, "period.year"),
        ({"request_id": ""}, grpc.StatusCode.INVALID_ARGUMENT, "request_id"),
    ],
)
def test_bad_seed_requests_get_precise_statuses(api: LiveService, change: dict[str, object], code: grpc.StatusCode, field: str) -> None:
    last_year_book(api)
    stub = TerritoryServiceStub(api.channel)
    fields: dict[str, object] = {
        "request_id": new_id(),
        "period": Q3_2026,
        "measure": LOANS,
        "root_territory_id": "VN.NORTH",
        "growth_bp": 500,
        **change,
    }
    with pytest.raises(grpc.RpcError) as refused:
        stub.SeedQuotaPlan(pb.SeedQuotaPlanRequest(**fields), metadata=PLANNER)  # type: ignore[arg-type]
    assert refused.value.code() == code
    assert field in (refused.value.details() or "")


def test_manual_adjustments_show_differences_and_maker_checker_approves_a_frozen_version(api: LiveService) -> None:
    last_year_book(api)
    stub = TerritoryServiceStub(api.channel)
    plan = seed(stub)
    adjusted = stub.AdjustQuota(
        pb.AdjustQuotaRequest(
            request_id=new_id(), plan_id=plan.plan_id, scope=scope(RM_KIND, "rm-a"), target=money(1_500_000_000), note="new mall opens"
        ),
        metadata=PLANNER,
    ).plan
    team = lines(adjusted)[(TEAM, "T-HN01")]
    rm_a, rm_b = lines(adjusted)[(RM_KIND, "rm-a")], lines(adjusted)[(RM_KIND, "rm-b")]
    assert team.children_total.money.amount_minor == 1_500_000_000 + rm_b.target.money.amount_minor
    assert team.difference.money.amount_minor == team.target.money.amount_minor - team.children_total.money.amount_minor == -400_000_000
    assert rm_a.adjustment_note == "new mall opens"

    with pytest.raises(grpc.RpcError) as unbalanced:
        stub.SubmitQuotaPlan(pb.SubmitQuotaPlanRequest(request_id=new_id(), plan_id=plan.plan_id), metadata=PLANNER)
    assert unbalanced.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "TEAM:T-HN01" in (unbalanced.value.details() or "")

    # Or the team's line is re-split so it adds up again.
    rebalanced = stub.AllocateQuota(
        pb.AllocateQuotaRequest(request_id=new_id(), plan_id=plan.plan_id, parent=scope(TEAM, "T-HN01"), weights={"rm-a": 1, "rm-b": 3}),
        metadata=PLANNER,
    ).plan
    assert lines(rebalanced)[(TEAM, "T-HN01")].difference.money.amount_minor == 0
    assert lines(rebalanced)[(RM_KIND, "rm-a")].target.money.amount_minor == 1_100_000_000

    submitted = stub.SubmitQuotaPlan(pb.SubmitQuotaPlanRequest(request_id=new_id(), plan_id=plan.plan_id), metadata=BOTH).plan
    assert (submitted.status, submitted.maker, submitted.differences_accepted) == (territory_pb2.QUOTA_PLAN_STATUS_SUBMITTED, "planner-1", False)
    with pytest.raises(grpc.RpcError) as own:
        stub.ApproveQuotaPlan(pb.ApproveQuotaPlanRequest(request_id=new_id(), plan_id=plan.plan_id), metadata=BOTH)
    assert own.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as not_a_checker:
        stub.ApproveQuotaPlan(pb.ApproveQuotaPlanRequest(request_id=new_id(), plan_id=plan.plan_id), metadata=PLANNER)
    assert not_a_checker.value.code() == grpc.StatusCode.PERMISSION_DENIED

    approved = stub.ApproveQuotaPlan(pb.ApproveQuotaPlanRequest(request_id="approve-1", plan_id=plan.plan_id), metadata=CHECKER).plan
    assert (approved.status, approved.checker) == (territory_pb2.QUOTA_PLAN_STATUS_APPROVED, "head-1")
    assert stub.ApproveQuotaPlan(pb.ApproveQuotaPlanRequest(request_id="approve-1", plan_id=plan.plan_id), metadata=CHECKER).plan == approved
    assert [e.plan.version for e in api.events(events_pb2.QuotaPlanApproved)] == [1]
    assert len(api.events(events_pb2.QuotaPlanSubmitted)) == 1

    for frozen_call in (
        lambda: stub.AdjustQuota(
            pb.AdjustQuotaRequest(request_id=new_id(), plan_id=plan.plan_id, scope=scope(RM_KIND, "rm-a"), target=money(1), note="late"),
            metadata=PLANNER,
        ),
        lambda: stub.AllocateQuota(
            pb.AllocateQuotaRequest(request_id=new_id(), plan_id=plan.plan_id, parent=scope(TEAM, "T-HN01")), metadata=PLANNER
        ),
        lambda: stub.SubmitQuotaPlan(pb.SubmitQuotaPlanRequest(request_id=new_id(), plan_id=plan.plan_id), metadata=PLANNER),
    ):
        with pytest.raises(grpc.RpcError) as frozen:
            frozen_call()
        assert frozen.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    # The approved targets are in force.
    attainment = stub.GetAttainment(pb.GetAttainmentRequest(scope=scope(RM_KIND, "rm-a"), measure=LOANS, period=Q3_2026), metadata=RM).attainment
    assert (attainment.target.money.amount_minor, attainment.plan_version) == (1_100_000_000, 1)

    # Revising opens version 2 as a draft; v1 stays in force until v2 is approved.
    revised = stub.ReviseQuotaPlan(pb.ReviseQuotaPlanRequest(request_id=new_id(), plan_id=plan.plan_id), metadata=PLANNER).plan
    assert (revised.version, revised.status, revised.maker) == (2, territory_pb2.QUOTA_PLAN_STATUS_DRAFT, "")
    with pytest.raises(grpc.RpcError) as twice:
        stub.ReviseQuotaPlan(pb.ReviseQuotaPlanRequest(request_id=new_id(), plan_id=plan.plan_id), metadata=PLANNER)
    assert twice.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    stub.AdjustQuota(
        pb.AdjustQuotaRequest(
            request_id=new_id(), plan_id=plan.plan_id, scope=scope(TERRITORY, "VN.NORTH"), target=money(7_000_000_000), note="board"
        ),
        metadata=PLANNER,
    )
    stub.SubmitQuotaPlan(pb.SubmitQuotaPlanRequest(request_id=new_id(), plan_id=plan.plan_id, accept_differences=True), metadata=PLANNER)
    rejected = stub.RejectQuotaPlan(pb.RejectQuotaPlanRequest(request_id=new_id(), plan_id=plan.plan_id, reason="too high"), metadata=CHECKER).plan
    assert (rejected.status, rejected.reject_reason) == (territory_pb2.QUOTA_PLAN_STATUS_REJECTED, "too high")
    resubmitted = stub.SubmitQuotaPlan(
        pb.SubmitQuotaPlanRequest(request_id=new_id(), plan_id=plan.plan_id, accept_differences=True), metadata=PLANNER
    ).plan
    assert resubmitted.differences_accepted
    v2 = stub.ApproveQuotaPlan(pb.ApproveQuotaPlanRequest(request_id=new_id(), plan_id=plan.plan_id), metadata=CHECKER).plan
    assert v2.version == 2
    v1 = stub.GetQuotaPlan(pb.GetQuotaPlanRequest(plan_id=plan.plan_id, version=1), metadata=RM).plan
    assert v1.status == territory_pb2.QUOTA_PLAN_STATUS_SUPERSEDED
    region = stub.GetAttainment(pb.GetAttainmentRequest(scope=scope(TERRITORY, "VN.NORTH"), measure=LOANS, period=Q3_2026), metadata=RM).attainment
    assert (region.target.money.amount_minor, region.plan_version) == (7_000_000_000, 2)

    listed = stub.ListQuotaPlans(pb.ListQuotaPlansRequest(period=Q3_2026, status=territory_pb2.QUOTA_PLAN_STATUS_APPROVED), metadata=RM).plans
    assert [(p.plan_id, p.version) for p in listed] == [(plan.plan_id, 2)]
    everything = stub.ListQuotaPlans(pb.ListQuotaPlansRequest(page=common_pb2.PageRequest(page_size=1)), metadata=RM)
    assert len(everything.plans) == 1 and everything.page.next_page_token


def test_bad_plan_requests_get_precise_statuses(api: LiveService) -> None:
    last_year_book(api)
    stub = TerritoryServiceStub(api.channel)
    plan = seed(stub)

    def code_of(call: object) -> grpc.StatusCode:
        with pytest.raises(grpc.RpcError) as refused:
            call()  # type: ignore[operator]
        return refused.value.code()  # type: ignore[no-any-return]

    adjust = pb.AdjustQuotaRequest(request_id=new_id(), plan_id=plan.plan_id, scope=scope(RM_KIND, "rm-a"), target=money(5), note="why")
    cases = {
        "unknown plan": (lambda: stub.GetQuotaPlan(pb.GetQuotaPlanRequest(plan_id=new_id()), metadata=RM), grpc.StatusCode.NOT_FOUND),
        "unknown version": (
            lambda: stub.GetQuotaPlan(pb.GetQuotaPlanRequest(plan_id=plan.plan_id, version=9), metadata=RM),
            grpc.StatusCode.NOT_FOUND,
        ),
        "no plan id": (lambda: stub.GetQuotaPlan(pb.GetQuotaPlanRequest(), metadata=RM), grpc.StatusCode.INVALID_ARGUMENT),
        "unknown line": (
            lambda: stub.AdjustQuota(
                pb.AdjustQuotaRequest(**{**_fields(adjust), "request_id": new_id(), "scope": scope(RM_KIND, "rm-x")}), metadata=PLANNER
            ),
            grpc.StatusCode.NOT_FOUND,
        ),
        "no note": (
            lambda: stub.AdjustQuota(pb.AdjustQuotaRequest(**{**_fields(adjust), "request_id": new_id(), "note": " "}), metadata=PLANNER),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        "a count for money": (
            lambda: stub.AdjustQuota(
                pb.AdjustQuotaRequest(**{**_fields(adjust), "request_id": new_id(), "target": territory_pb2.MeasureValue(count=5)}), metadata=PLANNER
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        "negative": (
            lambda: stub.AdjustQuota(pb.AdjustQuotaRequest(**{**_fields(adjust), "request_id": new_id(), "target": money(-1)}), metadata=PLANNER),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        "dollars": (
            lambda: stub.AdjustQuota(
                pb.AdjustQuotaRequest(
                    **{
                        **_fields(adjust),
                        "request_id": new_id(),
                        "target": territory_pb2.MeasureValue(money=common_pb2.Money(currency_code="USD", amount_minor=5)),
                    }
                ),
                metadata=PLANNER,
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        "no scope kind": (
            lambda: stub.AdjustQuota(
                pb.AdjustQuotaRequest(**{**_fields(adjust), "request_id": new_id(), "scope": scope(0, "rm-a")}), metadata=PLANNER
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        "a leaf has no children": (
            lambda: stub.AllocateQuota(
                pb.AllocateQuotaRequest(request_id=new_id(), plan_id=plan.plan_id, parent=scope(RM_KIND, "rm-a")), metadata=PLANNER
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
        ),
        "weights of strangers": (
            lambda: stub.AllocateQuota(
                pb.AllocateQuotaRequest(request_id=new_id(), plan_id=plan.plan_id, parent=scope(TEAM, "T-HN01"), weights={"rm-z": 1}),
                metadata=PLANNER,
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        "negative weight": (
            lambda: stub.AllocateQuota(
                pb.AllocateQuotaRequest(request_id=new_id(), plan_id=plan.plan_id, parent=scope(TEAM, "T-HN01"), weights={"rm-a": -1, "rm-b": 1}),
                metadata=PLANNER,
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        "approve a draft": (
            lambda: stub.ApproveQuotaPlan(pb.ApproveQuotaPlanRequest(request_id=new_id(), plan_id=plan.plan_id), metadata=CHECKER),
            grpc.StatusCode.FAILED_PRECONDITION,
        ),
        "reject without reason": (
            lambda: stub.RejectQuotaPlan(pb.RejectQuotaPlanRequest(request_id=new_id(), plan_id=plan.plan_id), metadata=CHECKER),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        "revise a draft": (
            lambda: stub.ReviseQuotaPlan(pb.ReviseQuotaPlanRequest(request_id=new_id(), plan_id=plan.plan_id), metadata=PLANNER),
            grpc.StatusCode.FAILED_PRECONDITION,
        ),
        "an RM plans": (lambda: stub.SeedQuotaPlan(pb.SeedQuotaPlanRequest(request_id=new_id()), metadata=RM), grpc.StatusCode.PERMISSION_DENIED),
        "a bad page token": (
            lambda: stub.ListQuotaPlans(pb.ListQuotaPlansRequest(page=common_pb2.PageRequest(page_token="%%%")), metadata=RM),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        "a reused request id": (
            lambda: [
                stub.SubmitQuotaPlan(pb.SubmitQuotaPlanRequest(request_id="same", plan_id=plan.plan_id), metadata=PLANNER),
                stub.RejectQuotaPlan(pb.RejectQuotaPlanRequest(request_id="x", plan_id=plan.plan_id, reason="r"), metadata=CHECKER),
                stub.SubmitQuotaPlan(pb.SubmitQuotaPlanRequest(request_id="same", plan_id=plan.plan_id, accept_differences=True), metadata=PLANNER),
            ],
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
    }
    assert {name: code_of(call) for name, (call, _) in cases.items()} == {name: code for name, (_, code) in cases.items()}


def _fields(message: object) -> dict[str, object]:
    return {field.name: value for field, value in message.ListFields()}  # type: ignore[attr-defined]
