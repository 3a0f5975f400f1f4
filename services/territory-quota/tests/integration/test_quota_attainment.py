"""Live attainment, coverage, pacing and leaderboards on a real database (both backends), from
events delivered to the worker's handlers: exactly once in effect, reversals subtract, quotas
follow account moves, and reads come from the rollups."""

from __future__ import annotations

from datetime import date

import grpc
import pytest
from quota_helpers import CHECKER, PLANNER, RM, assign, created, holding_closed, holding_opened, opportunity, reopened, won, worker
from test_quota_plans import LOAN, LOANS, Q3_2026, RM_KIND, TEAM, TERRITORY, last_year_book, lines, scope

from crm.common.v1 import common_pb2
from crm.territory.v1 import events_pb2, territory_pb2
from crm.territory.v1 import territory_service_pb2 as pb
from crm.territory.v1.territory_service_pb2_grpc import TerritoryServiceStub
from crm_common.db import new_id
from crm_common.events.dead_letters import consumer_queues
from crm_common.testing import LiveService
from crm_territory.entrypoints.worker import TerritoryWorker

CARDS = territory_pb2.QUOTA_MEASURE_NEW_CARDS


def approved_plan(api: LiveService, policy: int = territory_pb2.MOVE_POLICY_PRO_RATE) -> territory_pb2.QuotaPlan:
    last_year_book(api)
    stub = TerritoryServiceStub(api.channel)
    request = pb.SeedQuotaPlanRequest(
        request_id=new_id(), period=Q3_2026, measure=LOANS, root_territory_id="VN.NORTH", growth_bp=1000, move_policy=policy
    )
    plan = stub.SeedQuotaPlan(request, metadata=PLANNER).plan
    stub.SubmitQuotaPlan(pb.SubmitQuotaPlanRequest(request_id=new_id(), plan_id=plan.plan_id), metadata=PLANNER)
    return stub.ApproveQuotaPlan(pb.ApproveQuotaPlanRequest(request_id=new_id(), plan_id=plan.plan_id), metadata=CHECKER).plan


def attainment(api: LiveService, kind: int, scope_id: str, as_of: date | None = None) -> territory_pb2.Attainment:
    request = pb.GetAttainmentRequest(scope=scope(kind, scope_id), measure=LOANS, period=Q3_2026)
    if as_of is not None:
        request.as_of.CopyFrom(common_pb2.Date(year=as_of.year, month=as_of.month, day=as_of.day))
    return TerritoryServiceStub(api.channel).GetAttainment(request, metadata=RM).attainment


def test_the_worker_consumes_the_quota_events_on_its_own_queues() -> None:
    assert TerritoryWorker.name == "territory-quota"
    # The assignment half's handlers have queues of their own beside these.
    assert set(consumer_queues(TerritoryWorker)) >= set(
        [
            "evt-account-HoldingClosed--territory-quota.on_holding_closed",
            "evt-account-HoldingOpened--territory-quota.on_holding_opened",
            "evt-opportunity-OpportunityCreated--territory-quota.on_opportunity_created",
            "evt-opportunity-OpportunityLost--territory-quota.on_opportunity_lost",
            "evt-opportunity-OpportunityReopened--territory-quota.on_opportunity_reopened",
            "evt-opportunity-OpportunityStageChanged--territory-quota.on_opportunity_stage_changed",
            "evt-opportunity-OpportunityUpdated--territory-quota.on_opportunity_updated",
            "evt-opportunity-OpportunityWon--territory-quota.on_opportunity_won",
            "evt-territory-quota-AccountTerritoryAssigned--territory-quota.on_account_territory_assigned",
        ]
    )


def test_a_won_deal_counts_once_and_reopening_it_subtracts_exactly_that(api: LiveService) -> None:
    plan = approved_plan(api)
    w = worker(api)
    deal = opportunity("opp-1", "acc-1", LOAN, 550_000_000, "rm-a")
    assert won(w, deal, date(2026, 8, 10), event_id="won-1") == "550000000 credited to 6 scope(s)"
    # The same event redelivered, and the same deal won again under another event id.
    assert won(w, deal, date(2026, 8, 10), event_id="won-1") == "duplicate"
    assert won(w, deal, date(2026, 8, 11), event_id="won-1b") == "already counted"

    rm_a = attainment(api, RM_KIND, "rm-a", as_of=date(2026, 8, 15))
    target = lines(plan)[(RM_KIND, "rm-a")].target.money.amount_minor
    assert (rm_a.actual.money.amount_minor, rm_a.target.money.amount_minor, rm_a.plan_version) == (550_000_000, target, 1)
    assert rm_a.attainment_bp == 550_000_000 * 10_000 // target
    # Pacing: 46 of 92 days of Q3 elapsed by 15 August.
    assert (rm_a.pacing.days_elapsed, rm_a.pacing.days_in_period) == (46, 92)
    assert rm_a.pacing.expected.money.amount_minor == target * 46 // 92
    assert rm_a.pacing.gap.money.amount_minor == 550_000_000 - target * 46 // 92
    assert rm_a.pacing.projected.money.amount_minor == 550_000_000 * 92 // 46
    for kind, scope_id in ((TEAM, "T-HN01"), (TERRITORY, "VN.NORTH.HN.HN01"), (TERRITORY, "VN.NORTH.HN"), (TERRITORY, "VN.NORTH"), (TERRITORY, "VN")):
        assert attainment(api, kind, scope_id).actual.money.amount_minor == 550_000_000
    assert attainment(api, RM_KIND, "rm-b").actual.money.amount_minor == 0

    changed = [e for e in api.events(events_pb2.QuotaAttainmentChanged) if e.source_object_id == "opp-1"]
    assert {(e.scope.id, e.delta.money.amount_minor, e.source) for e in changed} == {
        (s, 550_000_000, events_pb2.ATTAINMENT_SOURCE_OPPORTUNITY_WON)
        for s in ("rm-a", "T-HN01", "VN.NORTH.HN.HN01", "VN.NORTH.HN", "VN.NORTH", "VN")
    }
    rm_event = next(e for e in changed if e.scope.id == "rm-a")
    assert (rm_event.period, rm_event.target.money.amount_minor, rm_event.source_object_id) == (Q3_2026, target, "opp-1")

    assert reopened(w, deal, date(2026, 8, 20)) == "550000000 subtracted from 6 scope(s)"
    assert reopened(w, deal, date(2026, 8, 21)) == "nothing counted to reverse"
    assert attainment(api, RM_KIND, "rm-a").actual.money.amount_minor == 0
    assert attainment(api, TERRITORY, "VN.NORTH").actual.money.amount_minor == 0
    reversals = [e for e in api.events(events_pb2.QuotaAttainmentChanged) if e.source == events_pb2.ATTAINMENT_SOURCE_OPPORTUNITY_REOPENED]
    assert {e.delta.money.amount_minor for e in reversals} == {-550_000_000} and len(reversals) == 6
    # Won again after the reopening: it counts again.
    assert won(w, deal, date(2026, 9, 1), event_id="won-2") == "550000000 credited to 6 scope(s)"
    assert attainment(api, RM_KIND, "rm-a").actual.money.amount_minor == 550_000_000


def test_holdings_credit_the_accounts_rm_and_closing_one_subtracts_it(api: LiveService) -> None:
    approved_plan(api)
    w = worker(api)
    assert holding_opened(w, "h-9", "acc-3", LOAN, 700_000_000, date(2026, 7, 3)) == "700000000 credited to 6 scope(s)"
    assert holding_opened(w, "h-10", "acc-unknown", LOAN, 1, date(2026, 7, 3)) == "the account has no territory yet: not counted"
    assert attainment(api, RM_KIND, "rm-c").actual.money.amount_minor == 700_000_000
    assert holding_closed(w, "h-9", date(2026, 7, 30)) == "700000000 subtracted from 6 scope(s)"
    assert attainment(api, RM_KIND, "rm-c").actual.money.amount_minor == 0


def test_coverage_is_the_open_weighted_pipeline_over_what_is_left(api: LiveService) -> None:
    plan = approved_plan(api)
    w = worker(api)
    target = lines(plan)[(RM_KIND, "rm-b")].target.money.amount_minor
    open_deal = opportunity("opp-7", "acc-2", LOAN, 1_000_000_001, "rm-b", probability=60, expected_close=date(2026, 9, 20))
    assert created(w, open_deal, date(2026, 7, 1)) == "pipeline open: 600000000"
    later = opportunity("opp-8", "acc-2", LOAN, 900_000_000, "rm-b", probability=50, expected_close=date(2026, 12, 1))
    created(w, later, date(2026, 7, 1))
    stub = TerritoryServiceStub(api.channel)
    coverage = stub.GetCoverage(pb.GetCoverageRequest(scope=scope(RM_KIND, "rm-b"), measure=LOANS, period=Q3_2026), metadata=RM).coverage
    assert (coverage.weighted_pipeline.money.amount_minor, coverage.remaining.money.amount_minor) == (600_000_000, target)
    assert coverage.coverage_bp == 600_000_000 * 10_000 // target
    # Won: it leaves the pipeline and fills part of the quota.
    won(w, open_deal, date(2026, 8, 1))
    after = stub.GetCoverage(pb.GetCoverageRequest(scope=scope(TERRITORY, "VN.NORTH"), measure=LOANS, period=Q3_2026), metadata=RM).coverage
    assert after.weighted_pipeline.money.amount_minor == 0
    assert after.remaining.money.amount_minor == lines(plan)[(TERRITORY, "VN.NORTH")].target.money.amount_minor - 1_000_000_001
    assert after.coverage_bp == 0


def test_leaderboards_rank_rms_teams_and_child_territories(api: LiveService) -> None:
    approved_plan(api)
    w = worker(api)
    won(w, opportunity("opp-1", "acc-1", LOAN, 1_100_000_000, "rm-a"), date(2026, 7, 10))
    won(w, opportunity("opp-2", "acc-3", LOAN, 1_100_000_000, "rm-c"), date(2026, 7, 10))
    stub = TerritoryServiceStub(api.channel)
    board = stub.GetLeaderboard(pb.GetLeaderboardRequest(territory_id="VN.NORTH", measure=LOANS, period=Q3_2026), metadata=RM).entries
    assert [(e.rank, e.scope.id) for e in board] == [(1, "rm-a"), (2, "rm-c"), (3, "rm-b")]
    assert board[0].attainment_bp == 10_000 and board[2].attainment_bp == 0
    teams = stub.GetLeaderboard(
        pb.GetLeaderboardRequest(territory_id="VN.NORTH.HN", measure=LOANS, period=Q3_2026, ranked=TEAM, limit=1), metadata=RM
    ).entries
    assert [e.scope.id for e in teams] == ["T-HN02"]
    children = stub.GetLeaderboard(
        pb.GetLeaderboardRequest(territory_id="VN.NORTH.HN", measure=LOANS, period=Q3_2026, ranked=TERRITORY), metadata=RM
    ).entries
    assert [e.scope.id for e in children] == ["VN.NORTH.HN.HN02", "VN.NORTH.HN.HN01"]


def test_a_mid_period_move_pro_rates_the_accounts_quota_to_the_new_rm(api: LiveService) -> None:
    plan = approved_plan(api)
    w = worker(api)
    before = lines(plan)
    rm_a_target = before[(RM_KIND, "rm-a")].target.money.amount_minor
    # acc-1 was all of rm-a's last year: its share is rm-a's whole quota; from 1 September
    # (30 of Q3's 92 days remain) that part moves to rm-c in the other branch.
    assert assign(w, "acc-1", "VN.NORTH.HN.HN02", "rm-c", "T-HN02", date(2026, 9, 1)) == "moved: 3 quota transfer(s)"
    moved = rm_a_target - rm_a_target * 62 // 92
    assert attainment(api, RM_KIND, "rm-a").target.money.amount_minor == rm_a_target - moved
    assert attainment(api, RM_KIND, "rm-c").target.money.amount_minor == before[(RM_KIND, "rm-c")].target.money.amount_minor + moved
    current = TerritoryServiceStub(api.channel).GetQuotaPlan(pb.GetQuotaPlanRequest(plan_id=plan.plan_id), metadata=RM).plan
    rm_a_line, rm_c_line = lines(current)[(RM_KIND, "rm-a")], lines(current)[(RM_KIND, "rm-c")]
    assert [(t.from_scope.id, t.to_scope.id, t.value.money.amount_minor) for t in rm_a_line.transfers] == [("rm-a", "rm-c", moved)]
    assert rm_c_line.transfers == rm_a_line.transfers
    assert {(e.transfer.from_scope.id, e.transfer.to_scope.id) for e in api.events(events_pb2.QuotaTransferred)} == {
        ("rm-a", "rm-c"),
        ("T-HN01", "T-HN02"),
        ("VN.NORTH.HN.HN01", "VN.NORTH.HN.HN02"),
    }
    # A deal on the moved account after the move counts for the new RM.
    won(w, opportunity("opp-5", "acc-1", LOAN, 10, "rm-c"), date(2026, 9, 5))
    assert (attainment(api, RM_KIND, "rm-c").actual.money.amount_minor, attainment(api, RM_KIND, "rm-a").actual.money.amount_minor) == (10, 0)


def test_under_keep_deals_after_a_move_count_for_the_previous_rm_until_the_period_ends(api: LiveService) -> None:
    plan = approved_plan(api, territory_pb2.MOVE_POLICY_KEEP)
    w = worker(api)
    assert assign(w, "acc-1", "VN.NORTH.HN.HN02", "rm-c", "T-HN02", date(2026, 9, 1)) == "moved: 0 quota transfer(s)"
    assert attainment(api, RM_KIND, "rm-a").target.money.amount_minor == lines(plan)[(RM_KIND, "rm-a")].target.money.amount_minor
    won(w, opportunity("opp-5", "acc-1", LOAN, 10, "rm-c"), date(2026, 9, 5))
    assert (attainment(api, RM_KIND, "rm-a").actual.money.amount_minor, attainment(api, RM_KIND, "rm-c").actual.money.amount_minor) == (10, 0)


def test_an_older_assignment_arriving_late_is_ignored(api: LiveService) -> None:
    w = worker(api)
    assign(w, "acc-1", "VN.NORTH.HN.HN02", "rm-c", "T-HN02", date(2026, 9, 1))
    assert assign(w, "acc-1", "VN.NORTH.HN.HN01", "rm-a", "T-HN01", date(2026, 8, 1)) == "an older assignment than the one applied: ignored"


@pytest.mark.parametrize(
    "request_",
    [
        pb.GetAttainmentRequest(measure=LOANS, period=Q3_2026),
        pb.GetAttainmentRequest(scope=scope(RM_KIND, ""), measure=LOANS, period=Q3_2026),
        pb.GetAttainmentRequest(scope=scope(RM_KIND, "rm-a"), period=Q3_2026),
        pb.GetAttainmentRequest(scope=scope(RM_KIND, "rm-a"), measure=LOANS),
        pb.GetAttainmentRequest(scope=scope(RM_KIND, "rm-a"), measure=LOANS, period=Q3_2026, as_of=common_pb2.Date(year=2026, month=2, day=30)),
        pb.GetCoverageRequest(scope=scope(9, "rm-a"), measure=LOANS, period=Q3_2026),
        pb.GetLeaderboardRequest(measure=LOANS, period=Q3_2026),
        pb.GetLeaderboardRequest(territory_id="VN", measure=LOANS, period=Q3_2026, limit=1001),
        pb.GetLeaderboardRequest(territory_id="VN", period=Q3_2026),
    ],
    ids=["no scope", "no scope id", "no measure", "no period", "no such day", "unknown kind", "no territory", "limit", "leaderboard measure"],
)
def test_bad_reads_are_invalid_arguments(api: LiveService, request_: object) -> None:
    stub = TerritoryServiceStub(api.channel)
    call = {"GetAttainmentRequest": stub.GetAttainment, "GetCoverageRequest": stub.GetCoverage, "GetLeaderboardRequest": stub.GetLeaderboard}
    with pytest.raises(grpc.RpcError) as refused:
        call[type(request_).__name__](request_, metadata=RM)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_cards_count_one_per_card_and_their_pipeline_in_whole_cards(api: LiveService) -> None:
    w = worker(api)
    assign(w, "acc-1", "VN.NORTH.HN.HN01", "rm-a", "T-HN01", date(2026, 1, 2))
    card = common_pb2.PRODUCT_TYPE_CREDIT_CARD
    won(w, opportunity("card-1", "acc-1", card, 50_000_000, "rm-a"), date(2026, 7, 2))
    for n, probability in enumerate((60, 70, 80)):
        created(
            w,
            opportunity(f"card-p{n}", "acc-1", card, 50_000_000, "rm-a", probability=probability, expected_close=date(2026, 8, 1)),
            date(2026, 7, 3),
        )
    stub = TerritoryServiceStub(api.channel)
    reply = stub.GetAttainment(pb.GetAttainmentRequest(scope=scope(RM_KIND, "rm-a"), measure=CARDS, period=Q3_2026), metadata=RM).attainment
    assert reply.actual.count == 1 and not reply.HasField("target") and reply.plan_version == 0
    coverage = stub.GetCoverage(pb.GetCoverageRequest(scope=scope(RM_KIND, "rm-a"), measure=CARDS, period=Q3_2026), metadata=RM).coverage
    # 0.6 + 0.7 + 0.8 cards, rounded down; no quota, so nothing remains to cover.
    assert (coverage.weighted_pipeline.count, coverage.remaining.count, coverage.HasField("coverage_bp")) == (2, 0, False)
