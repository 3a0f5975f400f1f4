"""Bulk import of core-banking holdings through gRPC into PostgreSQL.

Starts `crm-account api` (its own process) on a fresh PostgreSQL database and RabbitMQ vhost,
creates the accounts directly in the database (setup, not measured), then sends a snapshot of
N holdings in ImportHoldings calls of up to 10,000 rows and prints the time and rate; then the
same snapshot with every balance changed (all rows UPDATED), and once more unchanged.

    .venv/bin/python bench/account_holdings_import.py --holdings 100000 --accounts 20000
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import grpc
from sqlalchemy import String, insert

from crm.account.v1 import account_pb2, account_service_pb2, account_service_pb2_grpc
from crm.common.v1 import common_pb2
from crm_account.adapters.orm import accounts
from crm_common.db import make_engine
from crm_common.devstack import ServiceSpec, Stack, free_port
from crm_common.testing import bearer, postgres_database, rabbitmq_vhost

PRODUCTS = [
    (common_pb2.PRODUCT_TYPE_CASA, 0),
    (common_pb2.PRODUCT_TYPE_TERM_DEPOSIT, 0),
    (common_pb2.PRODUCT_TYPE_CREDIT_CARD, 50_000_000),
    (common_pb2.PRODUCT_TYPE_UNSECURED_LOAN, 200_000_000),
    (common_pb2.PRODUCT_TYPE_BANCASSURANCE, 0),
]


def create_accounts(database_url: str, count: int) -> list[str]:
    """Bare person accounts straight into the table: setup, not what is measured."""
    now = datetime.now(UTC)
    ids = [str(uuid.uuid4()) for _ in range(count)]
    # Every text column empty unless set below.
    blank = {c.name: "" for c in accounts.columns if isinstance(c.type, String) and not c.nullable}
    rows = [
        {
            **blank,
            "account_id": account_id,
            "account_type": "PERSON",
            "lifecycle_stage": "ACTIVE",
            "full_name": f"Khách hàng {i}",
            "name_folded": f"khach hang {i}",
            "national_id_legacy": False,
            "preferred_language": "vi",
            "best_contact_times": "[]",
            "derived_tier": "MASS",
            "created_at": now,
            "created_by": "bench",
            "updated_at": now,
            "updated_by": "bench",
            "version": 1,
            "kyc_status": "NOT_STARTED",
            "total_deposits": 0,
            "total_loans": 0,
            "total_aum": 0,
            "open_holdings": 0,
        }
        for i, account_id in enumerate(ids)
    ]
    engine = make_engine(database_url, pool_size=1)
    with engine.begin() as conn:
        for start in range(0, len(rows), 5000):
            conn.execute(insert(accounts), rows[start : start + 5000])
    engine.dispose()
    return ids


def snapshot(account_ids: list[str], holdings: int, variant: int) -> list[account_service_pb2.HoldingRecord]:
    rows = []
    for n in range(holdings):
        product, limit = PRODUCTS[n % len(PRODUCTS)]
        balance = (n * 7919 % 900_000_000) + variant * 1000
        rows.append(
            account_service_pb2.HoldingRecord(
                account_id=account_ids[n % len(account_ids)],
                core_ref=f"CB{n:09d}",
                product_type=product,
                status=account_pb2.HOLDING_STATUS_OPEN,
                balance=common_pb2.Money(currency_code="VND", amount_minor=balance),
                limit=common_pb2.Money(currency_code="VND", amount_minor=limit),
                open_date=common_pb2.Date(year=2020 + n % 6, month=1 + n % 12, day=1 + n % 28),
            )
        )
    return rows


def run_import(
    stub: account_service_pb2_grpc.AccountServiceStub, rows: list[account_service_pb2.HoldingRecord], batch: int
) -> tuple[float, dict[int, int]]:
    metadata = bearer("core-banking", ["service"])
    outcomes: dict[int, int] = {}
    started = time.perf_counter()
    for start in range(0, len(rows), batch):
        request = account_service_pb2.ImportHoldingsRequest(request_id=str(uuid.uuid4()), rows=rows[start : start + batch])
        reply = stub.ImportHoldings(request, metadata=metadata, timeout=300)
        for result in reply.results:
            outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
    return time.perf_counter() - started, outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--holdings", type=int, default=100_000)
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=10_000)
    args = parser.parse_args()
    exe = str(Path(sys.executable).with_name("crm-account"))
    with postgres_database("bench_account") as url, rabbitmq_vhost("bench") as amqp_uri:
        spec = ServiceSpec("account", free_port(), free_port(), free_port(), url, env={"LOG_LEVEL": "WARNING"})
        stack = Stack([spec], amqp_uri, Path("var/bench"))
        subprocess.run([exe, "migrate"], env=spec.environment(amqp_uri, {}), check=True, capture_output=True)
        stack.run_dir.mkdir(parents=True, exist_ok=True)
        stack.start_process(spec, "api")  # the API only: no worker is needed
        try:
            stack.wait_healthy(spec, 30)
            setup = time.perf_counter()
            account_ids = create_accounts(url, args.accounts)
            print(f"account_holdings_import: {args.accounts:,} accounts created in {time.perf_counter() - setup:.1f} s (setup)")
            channel = grpc.insecure_channel(spec.target, options=[("grpc.max_send_message_length", 64 * 1024 * 1024)])
            stub = account_service_pb2_grpc.AccountServiceStub(channel)
            names = account_service_pb2.HoldingRowOutcome.Name
            for label, variant in (("first load", 0), ("every balance changed", 1), ("unchanged", 1)):
                rows = snapshot(account_ids, args.holdings, variant)
                seconds, outcomes = run_import(stub, rows, args.batch)
                summary = ", ".join(f"{names(k).removeprefix('HOLDING_ROW_OUTCOME_')} {v:,}" for k, v in sorted(outcomes.items()))
                print(f"  {label:<22} {args.holdings:,} holdings in {seconds:5.1f} s = {args.holdings / seconds:,.0f}/s   ({summary})")
            channel.close()
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
