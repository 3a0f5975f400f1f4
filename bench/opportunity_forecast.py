"""Forecast for a territory with N opportunities, through gRPC into PostgreSQL.

Starts `crm-opportunity api` on a fresh PostgreSQL database, loads N opportunities of one
territory with COPY (spread over 50 RMs, 5 teams, every product, their pipelines' stages,
open/won/lost, and 24 months of close dates; setup, not measured), builds the forecast rollup
from them in one statement (as `rebuild_rollup` does after a bulk load), then times
GetForecast for the territory over a quarter (this month and the next two) and over a year,
one call at a time, in turn with a reference measured in the same run (`reference_read.py`: a
bare gRPC server verifying the JWT and running the one statement that sums the territory's
rollup rows for the months), and prints the ratio of their p99s.

It checks its own answer and fails on a wrong one: each forecast's totals must equal a recount
made in Python from the rows it loaded (open and won counts and amounts, weighted pipeline,
commit and best case), and the lines by product and by stage must add up to the totals.

    .venv/bin/python bench/opportunity_forecast.py --opportunities 500000 --calls 500
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

from crm.common.v1 import common_pb2
from crm.opportunity.v1 import opportunity_pb2, opportunity_service_pb2, opportunity_service_pb2_grpc
from crm_common.db import make_engine
from crm_common.devstack import ServiceSpec, Stack, free_port
from crm_common.testing import bearer, postgres_database, rabbitmq_vhost
from crm_opportunity.adapters.orm import opportunities
from crm_opportunity.adapters.repository import OpportunityRepository
from crm_opportunity.domain.model import ProductType
from crm_opportunity.domain.pipeline import PIPELINES

TERRITORY = "HCM-Q1"
COLUMNS = [c.name for c in opportunities.columns]
# The reference's statement: the territory's rollup rows for the months, summed (what
# OpportunityRepository.rollup reads).
ROLLUP_SQL = """SELECT product, stage, forecast_category, status, sum(opportunity_count), sum(amount_sum), sum(weighted_sum)
FROM forecast_rollup WHERE scope_kind = 'territory_id' AND scope_id = %s AND period_month BETWEEN %s AND %s AND currency = 'VND'
GROUP BY product, stage, forecast_category, status"""


Loaded = tuple[str, str, str, int, int]  # status, forecast category, month it counts in, amount, probability


def load(url: str, count: int) -> list[Loaded]:
    loaded: list[Loaded] = []
    rng = random.Random(11)
    now = datetime.now(UTC)
    products = list(ProductType)
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn, conn.cursor() as cur, cur.copy(f"COPY opportunities ({', '.join(COLUMNS)}) FROM STDIN") as copy:
        for n in range(count):
            product = products[n % len(products)]
            pipeline = PIPELINES[product]
            close = now + timedelta(days=rng.randrange(-365, 365))
            fate = rng.random()
            stage = pipeline.stages[rng.randrange(len(pipeline.stages))]
            if fate < 0.7:
                status, stage_name, probability, category, closed_at = "OPEN", stage.name, stage.probability_percent, str(stage.forecast), None
            elif fate < 0.85:
                status, stage_name, probability, category, closed_at = "WON", "closed_won", 100, "CLOSED", close
            else:
                status, stage_name, probability, category, closed_at = "LOST", "closed_lost", 0, "CLOSED", close
            owner = f"rm-{n % 50}"
            row = {
                "opportunity_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "account_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "product": str(product),
                "amount_minor": rng.randrange(10, 5_000) * 1_000_000,
                "currency": "VND",
                "expected_close_at": close,
                "owner_id": owner,
                "team_id": f"team-{n % 5}",
                "source_lead_id": "",
                "campaign_id": "",
                "status": status,
                "stage": stage_name,
                "probability_percent": probability,
                "created_at": close - timedelta(days=60),
                "created_by": owner,
                "updated_at": now,
                "updated_by": owner,
                "closed_at": closed_at,
                "lost_reason": "PRICE" if status == "LOST" else "",
                "competitor": "",
                "pipeline_version": 1,
                "checklist": "[]",
                "stage_entered_at": now - timedelta(days=rng.randrange(30)),
                "application_id": "",
                "decision_note": "",
                "territory_id": TERRITORY,
                "forecast_category": category,
                "next_step": "",
                "probability_overridden": False,
            }
            copy.write_row([row[c] for c in COLUMNS])
            loaded.append((status, category, close.strftime("%Y-%m"), int(row["amount_minor"]), probability))
    engine = make_engine(url, pool_size=1)
    with engine.begin() as connection:
        OpportunityRepository(connection).rebuild_rollup()
    engine.dispose()
    return loaded


def recount(loaded: list[Loaded], first: str, last: str) -> dict[str, int]:
    """The forecast's figures (domain.forecast.figures), counted from the loaded rows."""
    inside = [r for r in loaded if first <= r[2] <= last]
    open_ = [r for r in inside if r[0] == "OPEN"]
    won = [r for r in inside if r[0] == "WON"]
    commit = sum(r[3] for r in won) + sum(r[3] for r in open_ if r[1] == "COMMIT")
    return {
        "open_count": len(open_),
        "open_pipeline": sum(r[3] for r in open_),
        "weighted_pipeline": sum(r[3] * r[4] // 100 for r in open_),
        "commit": commit,
        "best_case": commit + sum(r[3] for r in open_ if r[1] == "BEST_CASE"),
        "won_count": len(won),
        "won": sum(r[3] for r in won),
    }


def figures_of(figures: opportunity_pb2.ForecastFigures) -> dict[str, int]:
    return {
        name: value.amount_minor if isinstance(value, common_pb2.Money) else int(value)
        for name, value in ((f.name, getattr(figures, f.name)) for f in figures.DESCRIPTOR.fields)
    }


def check(reply: opportunity_service_pb2.GetForecastResponse, expected: dict[str, int], label: str) -> None:
    total = figures_of(reply.total)
    assert total == expected, f"{label}: forecast {total}, recount {expected}"
    for lines, name in ((reply.by_product, "product"), (reply.by_stage, "stage")):
        summed = {
            k: sum(figures_of(line.figures)[k] for line in lines) for k in ("open_count", "open_pipeline", "weighted_pipeline", "won_count", "won")
        }
        assert summed == {k: total[k] for k in summed}, f"{label}: lines by {name} add up to {summed}, total {total}"


def add_months(month: str, months: int) -> str:
    year, index = divmod(int(month[:4]) * 12 + int(month[5:]) - 1 + months, 12)
    return f"{year:04d}-{index + 1:02d}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--opportunities", type=int, default=500_000)
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args()
    exe = str(Path(sys.executable).with_name("crm-opportunity"))
    with postgres_database("bench_forecast") as url, rabbitmq_vhost("bench") as amqp_uri:
        spec = ServiceSpec(
            "opportunity", free_port(), free_port(), free_port(), free_port(), url, env={"LOG_LEVEL": "WARNING", "RELAY_IN_API": "true"}
        )
        stack = Stack([spec], amqp_uri, Path("var/bench"))
        subprocess.run([exe, "migrate"], env=spec.environment(amqp_uri, {}), check=True, capture_output=True)
        setup = time.perf_counter()
        loaded = load(url, args.opportunities)
        took = time.perf_counter() - setup
        print(f"opportunity_forecast: {args.opportunities:,} opportunities of {TERRITORY} loaded and rolled up in {took:.0f} s (setup)")
        stack.run_dir.mkdir(parents=True, exist_ok=True)
        stack.start_process(spec, "api")
        try:
            stack.wait_healthy(spec, 30)
            channel = grpc.insecure_channel(spec.target)
            stub = opportunity_service_pb2_grpc.OpportunityServiceStub(channel)
            metadata = bearer("head-of-sales", ["regional_head"], territories=[TERRITORY])  # a sales manager reaches only its teams
            now = datetime.now(UTC)
            this_month = now.strftime("%Y-%m")
            with reference_read.started(url, ROLLUP_SQL) as reference:
                for label, months in (("quarter", (this_month, add_months(this_month, 2))), ("year", (f"{now.year}-01", f"{now.year}-12"))):
                    request = opportunity_service_pb2.GetForecastRequest(territory_id=TERRITORY, from_month=months[0], to_month=months[1])
                    for _ in range(20):  # warm-up
                        stub.GetForecast(request, metadata=metadata)
                        reference([TERRITORY, *months])
                    replies: list[opportunity_service_pb2.GetForecastResponse] = []
                    timings = reference_read.alternate(
                        args.calls,
                        lambda _: replies.append(stub.GetForecast(request, metadata=metadata, timeout=10)),  # noqa: B023 (called in this iteration)
                        lambda _: reference([TERRITORY, *months]),  # noqa: B023
                    )
                    for reply in (replies[0], replies[-1]):
                        check(reply, recount(loaded, *months), label)
                    total = replies[-1].total
                    read = sum(int(row[4]) for row in reference([TERRITORY, *months]) if row[3] == "OPEN")
                    assert read == total.open_count, f"the reference read {read} open opportunities, the forecast {total.open_count}"
                    figures = f"{total.open_count:,} open, {total.won_count:,} won, {len(replies[-1].by_stage)} stage lines"
                    print(f"  GetForecast {label:<7} {months[0]}..{months[1]} {args.calls} calls: {reference_read.summary(*timings)}")
                    print(f"    ({figures}; totals match a recount)")
            channel.close()
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
