"""Attainment and coverage for a region with 5,000 RMs, and a won opportunity visible in attainment.

1. Reads. Starts `crm-territory-quota api` on a fresh PostgreSQL database and loads (COPY; setup,
   not measured) a region of 50 branches, 100 teams and 5,000 RMs: a year of attainment and
   pipeline rollup rows for every scope, Q3 targets for every scope, and a ledger of 200,000
   credits (which reads never touch). Times GetAttainment + GetCoverage of the region, one call
   pair at a time, in turn with a reference measured in the same run (`reference_read.py`: a
   bare gRPC server verifying the JWT and running, for each of the two calls, the one statement
   that reads the region's target and its actual or its weighted pipeline from the rollups);
   prints the ratio of their p99s.
2. Freshness. Starts the opportunity and territory-quota APIs and workers on RabbitMQ, then for
   each deal creates an opportunity, moves it through the card pipeline, wins it, and times from
   WinOpportunity's reply (the opportunity's commit) until GetAttainment of its RM shows it. The
   reference is the relay's own delivery: when OpportunityWon reaches a bare queue bound to
   `opportunity.events` in the same run.

It checks its own answer and fails on a wrong one: the region's target, actual, weighted
pipeline and remaining quota must equal what was loaded for it (Q3: July to September), and each
won deal must show in its RM's attainment as exactly one new card.

    .venv/bin/python bench/territory_attainment.py --rms 5000 --calls 500 --deals 50
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import psycopg
import reference_read  # bench/, beside this script
from google.protobuf.timestamp_pb2 import Timestamp
from kombu import Connection, Exchange, Queue

from crm.common.v1 import common_pb2
from crm.opportunity.v1 import events_pb2 as opportunity_events
from crm.opportunity.v1 import opportunity_service_pb2 as opp_svc
from crm.opportunity.v1.opportunity_service_pb2_grpc import OpportunityServiceStub
from crm.territory.v1 import territory_pb2
from crm.territory.v1 import territory_service_pb2 as svc
from crm.territory.v1.territory_service_pb2_grpc import TerritoryServiceStub
from crm_common.devstack import ServiceSpec, Stack, free_port
from crm_common.testing import bearer, postgres_database, rabbitmq_vhost

REGION = "VN.R1"
MEASURE = "LOAN_DISBURSED"
CARD_STAGES = ["needs_analysis", "documents_collected", "submitted_to_los", "approved"]
CHECKLIST = {"documents_collected": ["id_document_verified", "income_documents_collected"], "approved": ["card_delivered"]}


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


Q3 = ("2026-07", "2026-08", "2026-09")


def load(url: str, rms: int) -> dict[str, int]:
    """Loads the region; returns its Q3 target, actual and weighted pipeline as loaded."""
    expected = {"target": 0, "actual": 0, "weighted": 0}
    rng = random.Random(13)
    months = [f"2026-{m:02d}" for m in range(1, 13)]
    branches = [f"{REGION}.P{b // 10:02d}.B{b:03d}" for b in range(50)]
    scopes: list[tuple[str, str, str]] = []  # kind, id, territory
    for b, branch in enumerate(branches):
        scopes.append(("TERRITORY", branch, branch))
        for t in range(2):
            scopes.append(("TEAM", f"team-{b}-{t}", branch))
    for n in range(rms):
        scopes.append(("RM", f"rm-{n:05d}", branches[n % len(branches)]))
    for province in [*sorted({b.rsplit(".", 1)[0] for b in branches}), REGION, "VN"]:
        scopes.append(("TERRITORY", province, province))
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        with cur.copy("COPY attainment_rollup (scope_kind, scope_id, measure, month, actual, territory_id) FROM STDIN") as copy:
            for kind, scope_id, territory in scopes:
                for month in months:
                    actual = rng.randrange(0, 10**10)
                    copy.write_row([kind, scope_id, MEASURE, month, actual, territory])
                    if (kind, scope_id) == ("TERRITORY", REGION) and month in Q3:
                        expected["actual"] += actual
        with cur.copy("COPY pipeline_rollup (scope_kind, scope_id, measure, month, weighted) FROM STDIN") as copy:
            for kind, scope_id, _ in scopes:
                for month in months:
                    weighted = rng.randrange(0, 10**10)
                    copy.write_row([kind, scope_id, MEASURE, month, weighted])
                    if (kind, scope_id) == ("TERRITORY", REGION) and month in Q3:
                        expected["weighted"] += weighted
        with cur.copy("COPY quota_targets (period, measure, scope_kind, scope_id, target, plan_id, plan_version, territory_id) FROM STDIN") as copy:
            for kind, scope_id, territory in scopes:
                target = rng.randrange(10**9, 10**11)
                copy.write_row(["2026-Q3", MEASURE, kind, scope_id, target, "bench-plan", 1, territory])
                if (kind, scope_id) == ("TERRITORY", REGION):
                    expected["target"] = target
        columns = "source_event_id, source, object_kind, object_id, account_id, measure, amount, month, scopes, recorded_at"
        now = datetime.now(UTC)
        with cur.copy(f"COPY attainment_ledger ({columns}) FROM STDIN") as copy:
            for n in range(200_000):
                rm = f"rm-{n % rms:05d}"
                copy.write_row([str(uuid.uuid4()), "HOLDING_OPENED", "holding", f"h-{n}", f"acc-{n}", MEASURE, 1000, months[n % 12], f"RM:{rm}", now])
        cur.execute("ANALYZE")
    return expected


# The references' statements: the region's quarter target with its actual, and with its weighted
# pipeline, from the rollups (what GetAttainment and GetCoverage read).
TARGET_SQL = (
    "(SELECT target FROM quota_targets WHERE period = %(period)s AND measure = %(measure)s AND scope_kind = 'TERRITORY' AND scope_id = %(region)s)"
)
ROLLUP_SUM_SQL = (
    "(SELECT sum({column}) FROM {table}"
    " WHERE scope_kind = 'TERRITORY' AND scope_id = %(region)s AND measure = %(measure)s AND month = ANY(%(months)s))"
)
ATTAINMENT_SQL = f"SELECT {TARGET_SQL}, {ROLLUP_SUM_SQL.format(column='actual', table='attainment_rollup')}"
COVERAGE_SQL = f"SELECT {TARGET_SQL}, {ROLLUP_SUM_SQL.format(column='weighted', table='pipeline_rollup')}"


def reads(stub: TerritoryServiceStub, url: str, calls: int, expected: dict[str, int]) -> None:
    caller = bearer("head-of-sales", ["head_of_sales"])
    region = territory_pb2.QuotaScope(kind=territory_pb2.QUOTA_SCOPE_KIND_TERRITORY, id=REGION)
    quarter = territory_pb2.Period(kind=territory_pb2.PERIOD_KIND_QUARTER, year=2026, index=3)
    measure = territory_pb2.QUOTA_MEASURE_LOAN_DISBURSED
    attainment = svc.GetAttainmentRequest(scope=region, measure=measure, period=quarter)
    coverage = svc.GetCoverageRequest(scope=region, measure=measure, period=quarter)
    params = {"period": "2026-Q3", "measure": MEASURE, "region": REGION, "months": list(Q3)}
    answers = []

    def pair(_: int) -> None:
        got = stub.GetAttainment(attainment, metadata=caller, timeout=10).attainment
        answers.append((got, stub.GetCoverage(coverage, metadata=caller, timeout=10).coverage))

    with reference_read.started(url, ATTAINMENT_SQL) as attainment_reference, reference_read.started(url, COVERAGE_SQL) as coverage_reference:

        def reference_pair(_: int) -> list[object]:
            return [*attainment_reference(params)[0], *coverage_reference(params)[0]]

        for _ in range(20):  # warm-up
            pair(0)
            reference_pair(0)
        timings = reference_read.alternate(calls, pair, reference_pair)
        read = [int(value) for value in reference_pair(0)]
    assert read == [expected["target"], expected["actual"], expected["target"], expected["weighted"]], f"the reference read {read}, loaded {expected}"
    got, covered = answers[-1]
    answer = (got.target.money.amount_minor, got.actual.money.amount_minor, covered.weighted_pipeline.money.amount_minor)
    assert answer == (expected["target"], expected["actual"], expected["weighted"]), f"target, actual, weighted {answer}, loaded {expected}"
    remaining = max(expected["target"] - expected["actual"], 0)
    assert covered.remaining.money.amount_minor == remaining, f"remaining {covered.remaining.money.amount_minor}, expected {remaining}"
    print(f"  GetAttainment+GetCoverage of {REGION}, {calls} pairs: {reference_read.summary(*timings)}")
    print(f"    (attainment {got.attainment_bp} bp, coverage {covered.coverage_bp} bp; target, actual, pipeline as loaded)")


def freshness(suite_stack: Stack, amqp_uri: str, deals: int) -> None:
    opportunity = OpportunityServiceStub(grpc.insecure_channel(suite_stack.peers["opportunity"]))
    territory = TerritoryServiceStub(grpc.insecure_channel(suite_stack.peers["territory-quota"]))
    exchange = Exchange("opportunity.events", type="topic", durable=True)
    visible, relayed = [], []
    with Connection(amqp_uri) as conn:
        queue = Queue(f"bench-won-{uuid.uuid4().hex[:6]}", exchange, routing_key="OpportunityWon", exclusive=True)
        queue = queue.bind(conn.channel())
        queue.declare()
        closing = Timestamp()
        closing.FromDatetime(datetime.now(UTC) + timedelta(days=30))
        for n in range(deals):
            rm = f"rm-fresh-{n}"
            caller = bearer(rm, ["rm"])
            create = opp_svc.CreateOpportunityRequest(
                request_id=str(uuid.uuid4()),
                account_id=str(uuid.uuid4()),
                product=common_pb2.PRODUCT_TYPE_CREDIT_CARD,
                amount=common_pb2.Money(amount_minor=50_000_000),
                owner_id=rm,
                territory_id="VN.FRESH",
                expected_close_time=closing,  # the card pipeline's approval needs it
            )
            opportunity_id = opportunity.CreateOpportunity(create, metadata=caller).opportunity.opportunity_id
            for stage in CARD_STAGES:
                move = opp_svc.MoveStageRequest(
                    request_id=str(uuid.uuid4()), opportunity_id=opportunity_id, stage=stage, completed_items=CHECKLIST.get(stage, [])
                )
                opportunity.MoveStage(move, metadata=caller)
            won = opportunity.WinOpportunity(
                opp_svc.WinOpportunityRequest(request_id=str(uuid.uuid4()), opportunity_id=opportunity_id), metadata=caller
            )
            committed = time.perf_counter()
            closed = won.opportunity.close_time.ToDatetime()
            request = svc.GetAttainmentRequest(
                scope=territory_pb2.QuotaScope(kind=territory_pb2.QUOTA_SCOPE_KIND_RM, id=rm),
                measure=territory_pb2.QUOTA_MEASURE_NEW_CARDS,
                period=territory_pb2.Period(kind=territory_pb2.PERIOD_KIND_MONTH, year=closed.year, index=closed.month),
            )
            seen_at = relayed_at = None
            while seen_at is None or relayed_at is None:
                if relayed_at is None:
                    message = queue.get(no_ack=True)
                    if (
                        message is not None
                        and opportunity_events.OpportunityWon.FromString(message.body).opportunity.opportunity_id == opportunity_id
                    ):
                        relayed_at = time.perf_counter()
                if seen_at is None:
                    count = territory.GetAttainment(request, metadata=caller).attainment.actual.count
                    assert count <= 1, f"deal {n} counted {count} times"
                    if count == 1:
                        seen_at = time.perf_counter()
                if time.perf_counter() - committed > 30:
                    raise SystemExit(f"deal {n} not visible after 30 s")
                time.sleep(0.002)
            visible.append(seen_at - committed)
            relayed.append(relayed_at - committed)
    p99, ref = percentile(visible, 99) * 1000, percentile(relayed, 99) * 1000
    p50, slowest = percentile(visible, 50) * 1000, max(visible) * 1000
    print(f"  won → visible in attainment, {deals} deals: p50 {p50:.0f} ms   p99 {p99:.0f} ms   max {slowest:.0f} ms")
    print(f"  reference: OpportunityWon relayed to a bare queue p99 {ref:.0f} ms   ratio {p99 / ref:.1f}×")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rms", type=int, default=5_000)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--deals", type=int, default=50)
    args = parser.parse_args()
    bin_dir = Path(sys.executable).parent
    with postgres_database("bench_quota") as url, postgres_database("bench_quota_opp") as opp_url, rabbitmq_vhost("bench") as amqp_uri:
        quota = ServiceSpec(
            "territory-quota", free_port(), free_port(), free_port(), free_port(), url, env={"LOG_LEVEL": "WARNING", "RELAY_IN_API": "true"}
        )
        opp = ServiceSpec(
            "opportunity", free_port(), free_port(), free_port(), free_port(), opp_url, env={"LOG_LEVEL": "WARNING", "RELAY_IN_API": "true"}
        )
        for spec in (quota, opp):
            subprocess.run([str(bin_dir / f"crm-{spec.name}"), "migrate"], env=spec.environment(amqp_uri, {}), check=True, capture_output=True)
        setup = time.perf_counter()
        expected = load(url, args.rms)
        print(f"territory_attainment: a region of {args.rms:,} RMs loaded in {time.perf_counter() - setup:.0f} s (setup)")
        stack = Stack([quota, opp], amqp_uri, Path("var/bench"))
        stack.run_dir.mkdir(parents=True, exist_ok=True)
        stack.start()
        try:
            reads(TerritoryServiceStub(grpc.insecure_channel(quota.target)), url, args.calls, expected)
            freshness(stack, amqp_uri, args.deals)
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
