"""Next best actions for an RM with N open opportunities, through gRPC into PostgreSQL.

Starts `crm-opportunity api` on a fresh PostgreSQL database, loads the RM's N open
opportunities (every product and stage, close dates around today, a third with a meeting, a
tenth from leads whose first contact broke the SLA) plus 100,000 opportunities of other RMs,
with COPY, runs the sweep that keeps every opportunity's suggestions (setup, not measured),
then times GetBookActions for the RM (the whole book ranked) and GetNextBestActions for single
opportunities, one call at a time, each in turn with a reference measured in the same run
(`reference_read.py`: a bare gRPC server verifying the JWT and running the one statement that
reads the same rows), and prints the ratio of their p99s.

It checks its own answer and fails on a wrong one: the book counts exactly the RM's open
opportunities, returns `--limit` actions (or all there are) ranked by priority, each for one
of the RM's opportunities; a single opportunity's actions are all for that opportunity.

    .venv/bin/python bench/opportunity_next_best_actions.py --book 2000 --calls 300
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

from crm.opportunity.v1 import opportunity_service_pb2, opportunity_service_pb2_grpc
from crm_common.db import make_engine
from crm_common.devstack import ServiceSpec, Stack, free_port
from crm_common.pii import DEV_PII_INDEX_KEY, DEV_PII_KEYS, PiiCodec
from crm_common.settings import load_settings
from crm_common.testing import bearer, postgres_database, rabbitmq_vhost
from crm_opportunity.adapters.orm import ACTIVITIES_PII, activities, lead_first_contacts, opportunities
from crm_opportunity.bootstrap import build_handlers
from crm_opportunity.config import OpportunitySettings
from crm_opportunity.domain.model import ProductType
from crm_opportunity.domain.pipeline import PIPELINES

RM = "rm-bench"
# The references' statements: the RM's kept suggestions in the book's order with the count of
# its open opportunities (OpportunityRepository.book and count_open_of_owner), and one
# opportunity's suggestions.
BOOK_SQL = """SELECT opportunity_id, action, priority, reason, rule,
  (SELECT count(*) FROM opportunities WHERE owner_id = %(owner)s AND status = 'OPEN') AS open_count
FROM next_actions WHERE owner_id = %(owner)s
ORDER BY priority, amount_minor DESC, close_at IS NULL, close_at, opportunity_id, position LIMIT %(limit)s"""
ONE_SQL = "SELECT action, priority, reason, rule FROM next_actions WHERE opportunity_id = %s ORDER BY position"


def load(url: str, book: int, others: int) -> list[str]:
    rng = random.Random(5)
    now = datetime.now(UTC)
    products = list(ProductType)
    mine: list[str] = []
    columns = [c.name for c in opportunities.columns]
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        meetings, breached = [], []
        with cur.copy(f"COPY opportunities ({', '.join(columns)}) FROM STDIN") as copy:
            for n in range(book + others):
                product = products[n % len(products)]
                stage = PIPELINES[product].stages[rng.randrange(len(PIPELINES[product].stages))]
                opportunity_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                owner = RM if n < book else f"rm-{n % 100}"
                lead_id = f"lead-{n}" if n % 10 == 0 else ""
                row = {
                    "opportunity_id": opportunity_id,
                    "account_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    "product": str(product),
                    "amount_minor": rng.randrange(10, 5_000) * 1_000_000,
                    "currency": "VND",
                    "expected_close_at": now + timedelta(days=rng.randrange(-30, 90)) if n % 7 else None,
                    "owner_id": owner,
                    "team_id": "team-1",
                    "source_lead_id": lead_id,
                    "campaign_id": "",
                    "status": "OPEN",
                    "stage": stage.name,
                    "probability_percent": stage.probability_percent,
                    "created_at": now - timedelta(days=60),
                    "created_by": owner,
                    "updated_at": now,
                    "updated_by": owner,
                    "closed_at": None,
                    "lost_reason": "",
                    "competitor": "",
                    "pipeline_version": 1,
                    "checklist": "[]",
                    "stage_entered_at": now - timedelta(days=rng.randrange(40)),
                    "application_id": "",
                    "decision_note": "",
                    "territory_id": "HCM-Q1",
                    "forecast_category": str(stage.forecast),
                    "next_step": "",
                    "probability_overridden": False,
                }
                copy.write_row([row[c] for c in columns])
                if owner == RM:
                    mine.append(opportunity_id)
                    if n % 3 == 0:
                        meetings.append((opportunity_id, row["account_id"]))
                if lead_id:
                    breached.append(lead_id)
        activity_columns = [c.name for c in activities.columns]
        codec = PiiCodec.from_settings(DEV_PII_KEYS, DEV_PII_INDEX_KEY)  # activity text is stored encrypted
        with cur.copy(f"COPY activities ({', '.join(activity_columns)}) FROM STDIN") as copy:
            for opportunity_id, account_id in meetings:
                activity_id = str(uuid.uuid4())
                row = {
                    "activity_id": activity_id,
                    "kind": "MEETING",
                    "account_id": account_id,
                    "opportunity_id": opportunity_id,
                    "owner_id": RM,
                    "subject_enc": codec.encrypt(ACTIVITIES_PII.context("subject_enc", activity_id), "meeting"),
                    "notes_enc": "",
                    "due_at": now + timedelta(days=2),
                    "status": "OPEN",
                    "outcome_enc": "",
                    "completed_at": None,
                    "created_at": now,
                    "created_by": RM,
                    "updated_at": now,
                    "updated_by": RM,
                }
                copy.write_row([row[c] for c in activity_columns])
        with cur.copy(f"COPY {lead_first_contacts.name} (lead_id, sla_breached, contacted_at) FROM STDIN") as copy:
            for lead_id in breached:
                copy.write_row([lead_id, True, now - timedelta(days=10)])
        conn.execute("ANALYZE")
    return mine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--book", type=int, default=2000)
    parser.add_argument("--others", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--limit", type=int, default=200, help="actions returned per book call")
    args = parser.parse_args()
    exe = str(Path(sys.executable).with_name("crm-opportunity"))
    with postgres_database("bench_nba") as url, rabbitmq_vhost("bench") as amqp_uri:
        spec = ServiceSpec(
            "opportunity", free_port(), free_port(), free_port(), free_port(), url, env={"LOG_LEVEL": "WARNING", "RELAY_IN_API": "true"}
        )
        stack = Stack([spec], amqp_uri, Path("var/bench"))
        subprocess.run([exe, "migrate"], env=spec.environment(amqp_uri, {}), check=True, capture_output=True)
        setup = time.perf_counter()
        mine = load(url, args.book, args.others)
        engine = make_engine(url, pool_size=2)
        settings = load_settings(OpportunitySettings, database_url=url, amqp_uri=amqp_uri)
        swept = build_handlers(settings, engine).next_best_actions.refresh_all_actions()  # as the API's sweep does
        engine.dispose()
        took = time.perf_counter() - setup
        shape = f"{args.book:,} open opportunities of {RM} among {args.others:,} others"
        print(f"opportunity_next_best_actions: {shape}, loaded and swept ({swept:,}) in {took:.0f} s")
        stack.run_dir.mkdir(parents=True, exist_ok=True)
        stack.start_process(spec, "api")
        try:
            stack.wait_healthy(spec, 30)
            channel = grpc.insecure_channel(spec.target, options=[("grpc.max_receive_message_length", 64 * 1024 * 1024)])
            stub = opportunity_service_pb2_grpc.OpportunityServiceStub(channel)
            metadata = bearer(RM, ["rm"])
            book = opportunity_service_pb2.GetBookActionsRequest(limit=args.limit)
            rng = random.Random(3)
            chosen = [rng.choice(mine) for _ in range(args.calls)]
            with reference_read.started(url, BOOK_SQL) as book_reference, reference_read.started(url, ONE_SQL) as one_reference:
                for _ in range(10):  # warm-up
                    stub.GetBookActions(book, metadata=metadata)
                    book_reference({"owner": RM, "limit": args.limit})
                    one_reference([chosen[0]])
                replies: list[opportunity_service_pb2.GetBookActionsResponse] = []
                timings = reference_read.alternate(
                    args.calls,
                    lambda _: replies.append(stub.GetBookActions(book, metadata=metadata, timeout=10)),
                    lambda _: book_reference({"owner": RM, "limit": args.limit}),
                )
                for reply in (replies[0], replies[-1]):
                    assert reply.open_opportunities == args.book, f"book counts {reply.open_opportunities} open, {args.book} loaded"
                    assert reply.actions and len(reply.actions) <= args.limit, f"{len(reply.actions)} actions for a limit of {args.limit}"
                    assert {a.opportunity_id for a in reply.actions} <= set(mine), "actions for opportunities not in the RM's book"
                    priorities = [a.priority for a in reply.actions]
                    assert priorities == sorted(priorities), "book actions not ranked by priority"
                rows = book_reference({"owner": RM, "limit": args.limit})
                assert len(rows) == len(replies[-1].actions) and rows[0][-1] == args.book, "the reference read another book"
                shape = f"{args.book:,} open, {len(replies[-1].actions)} actions returned, ranked, all in the book"
                print(f"  GetBookActions      {args.calls} calls: {reference_read.summary(*timings)}")
                print(f"    ({shape})")

                def one(i: int) -> None:
                    reply = stub.GetNextBestActions(opportunity_service_pb2.GetNextBestActionsRequest(opportunity_id=chosen[i]), metadata=metadata)
                    assert all(a.opportunity_id == chosen[i] for a in reply.actions), f"actions of {chosen[i]} name another opportunity"

                timings = reference_read.alternate(args.calls, one, lambda i: one_reference([chosen[i]]))
                print(f"  GetNextBestActions  {args.calls} calls: {reference_read.summary(*timings)}")
            channel.close()
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
