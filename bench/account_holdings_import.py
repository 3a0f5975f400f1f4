"""Bulk import of core-banking holdings through gRPC into PostgreSQL.

Starts `crm-account api` (its own process) on a fresh PostgreSQL database and RabbitMQ vhost,
creates the accounts directly in the database (setup, not measured), then sends a snapshot of
N holdings in ImportHoldings calls of up to 10,000 rows and prints the time and rate; then the
same snapshot with every balance changed (all rows UPDATED), and once more unchanged.

It checks its own answer and fails on a wrong one: every row's outcome (OPENED, then UPDATED,
then UNCHANGED), the holdings in the table against the snapshot, and every account's totals
against a recount from the holdings table. The clock of each step stops only when the outbox
relay has published every event the step wrote. For reference, the same run then COPYs the same
rows (read back from the table) into a scratch table shaped like `holdings`, indexes and all,
and prints the import's time as a multiple of that COPY's.

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
from sqlalchemy import Engine, String, insert, text

from crm.account.v1 import account_pb2, account_service_pb2, account_service_pb2_grpc
from crm.common.v1 import common_pb2
from crm_account.adapters.orm import accounts
from crm_account.domain.holdings import AUM, DEPOSITS, LENDING
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


EXPECTED = {0: "OPENED", 1: "UPDATED", 2: "UNCHANGED"}


def run_import(
    stub: account_service_pb2_grpc.AccountServiceStub, rows: list[account_service_pb2.HoldingRecord], batch: int, engine: Engine, expected: str
) -> tuple[float, float]:
    """Seconds until the last reply, and until the relay has drained the outbox too."""
    metadata = bearer("core-banking", ["service"])
    names = account_service_pb2.HoldingRowOutcome.Name
    started = time.perf_counter()
    for start in range(0, len(rows), batch):
        request = account_service_pb2.ImportHoldingsRequest(request_id=str(uuid.uuid4()), rows=rows[start : start + batch])
        reply = stub.ImportHoldings(request, metadata=metadata, timeout=300)
        assert len(reply.results) == len(request.rows), f"{len(reply.results)} results for {len(request.rows)} rows"
        for result in reply.results:
            outcome = names(result.outcome).removeprefix("HOLDING_ROW_OUTCOME_")
            assert outcome == expected, f"row {start + result.row}: {outcome}, expected {expected} ({list(result.violations)})"
    replied = time.perf_counter() - started
    with engine.connect() as conn:
        while conn.scalar(text("SELECT count(*) FROM outbox")):
            conn.rollback()
            time.sleep(0.02)
    return replied, time.perf_counter() - started


def check_table(engine: Engine, rows: list[account_service_pb2.HoldingRecord]) -> None:
    """The holdings table holds the snapshot, and every account's totals match a recount."""
    want = {r.core_ref: (r.account_id, r.balance.amount_minor) for r in rows}
    with engine.connect() as conn:
        got = {
            ref: (account_id, balance)
            for ref, account_id, balance in conn.execute(text("SELECT core_ref, account_id, balance FROM holdings WHERE status = 'OPEN'"))
        }
        assert got == want, f"holdings table differs from the snapshot ({len(got):,} rows, {len(want):,} sent)"

        def share(products: frozenset[object]) -> str:
            listed = ", ".join(f"'{p}'" for p in sorted(map(str, products)))
            return f"coalesce(sum(h.balance) FILTER (WHERE h.product_type IN ({listed})), 0)"

        wrong = conn.execute(
            text(
                f"SELECT a.account_id, a.total_deposits, a.total_loans, a.total_aum, a.open_holdings, r.* FROM accounts a"
                f" LEFT JOIN (SELECT h.account_id, {share(DEPOSITS)} AS deposits, {share(LENDING)} AS loans, {share(AUM)} AS aum,"
                f" count(*) AS n FROM holdings h WHERE h.status = 'OPEN' GROUP BY h.account_id) r ON r.account_id = a.account_id"
                " WHERE (a.total_deposits, a.total_loans, a.total_aum, a.open_holdings)"
                " IS DISTINCT FROM (coalesce(r.deposits, 0), coalesce(r.loans, 0), coalesce(r.aum, 0), coalesce(r.n, 0))"
            )
        ).all()
        assert not wrong, f"{len(wrong):,} accounts' totals differ from a recount, e.g. {wrong[0]}"


def copy_reference(engine: Engine) -> tuple[int, float]:
    """The same rows COPYed into a scratch table shaped like holdings (indexes too): the floor."""
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE holdings_copy (LIKE holdings INCLUDING ALL)"))
    with engine.connect() as conn:
        result = conn.execute(text("SELECT * FROM holdings"))
        columns, rows = list(result.keys()), result.all()
    raw = engine.raw_connection()
    try:
        started = time.perf_counter()
        with raw.cursor() as cursor, cursor.copy(f"COPY holdings_copy ({', '.join(columns)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for row in rows:
                copy.write_row(row)
        raw.commit()
        return len(rows), time.perf_counter() - started
    finally:
        raw.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--holdings", type=int, default=100_000)
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=10_000)
    args = parser.parse_args()
    exe = str(Path(sys.executable).with_name("crm-account"))
    with postgres_database("bench_account") as url, rabbitmq_vhost("bench") as amqp_uri:
        spec = ServiceSpec("account", free_port(), free_port(), free_port(), free_port(), url, env={"LOG_LEVEL": "WARNING", "RELAY_IN_API": "true"})
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
            engine = make_engine(url, pool_size=1)
            first = 0.0
            for step, (label, variant) in enumerate((("first load", 0), ("every balance changed", 1), ("unchanged", 1))):
                rows = snapshot(account_ids, args.holdings, variant)
                replied, drained = run_import(stub, rows, args.batch, engine, EXPECTED[step])
                check_table(engine, rows)
                first = first or drained
                print(
                    f"  {label:<22} {args.holdings:,} holdings in {drained:5.1f} s = {args.holdings / drained:,.0f}/s"
                    f"   (all {EXPECTED[step]}; last reply at {replied:.1f} s, outbox drained at {drained:.1f} s; totals match a recount)"
                )
            with engine.connect() as conn:
                counts = conn.execute(
                    text("SELECT relname, analyze_count FROM pg_stat_user_tables WHERE relname IN ('holdings', 'accounts') ORDER BY 1")
                )
                print("  ANALYZE run by the imports: " + ", ".join(f"{name} {n}×" for name, n in counts))
            copied, seconds = copy_reference(engine)
            print(f"  reference: COPY of the same {copied:,} rows into a scratch table in {seconds:.2f} s = {copied / seconds:,.0f}/s")
            print(f"  first load ÷ COPY = {first / seconds:.1f}× the time")
            engine.dispose()
            channel.close()
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
