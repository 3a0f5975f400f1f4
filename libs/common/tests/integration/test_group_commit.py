"""Group commit on a real PostgreSQL: concurrent statements share transactions, each caller
gets its own row or its own error, and a lost connection is replaced."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text

from crm_common.db import make_engine
from crm_common.group_commit import GroupCommit
from crm_common.testing import empty_database

INSERT = "INSERT INTO items (k, v) VALUES (%(k)s, %(v)s) RETURNING v * 2, txid_current()"


@pytest.fixture
def engine(tmp_path):  # type: ignore[no-untyped-def]
    with empty_database("postgresql", tmp_path, "group_commit") as url:
        engine = make_engine(url, pool_size=4)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE items (k text PRIMARY KEY, v integer NOT NULL)"))
        yield engine
        engine.dispose()


def _sample(name: str, writer: str) -> float:
    value = REGISTRY.get_sample_value(name, {"writer": writer})
    return value or 0.0


def _stored(engine) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT k, v FROM items")).all())  # type: ignore[arg-type]


def _while_busy(group: GroupCommit, seconds: float) -> threading.Thread:
    """Holds the writer with a slow statement, so what arrives meanwhile forms one batch."""
    leader = threading.Thread(target=group.execute, args=("SELECT pg_sleep(%(s)s)", {"s": seconds}))
    leader.start()
    time.sleep(seconds / 4)
    return leader


def test_concurrent_statements_share_transactions_and_each_caller_gets_its_own_row(engine) -> None:  # type: ignore[no-untyped-def]
    group = GroupCommit(engine, "test-shared", max_batch=8)
    results: dict[str, tuple[int, int]] = {}

    def write(worker: int) -> None:
        for i in range(25):
            key = f"w{worker}-{i}"
            doubled, txid = group.execute(INSERT, {"k": key, "v": worker * 100 + i})  # type: ignore[misc]
            results[key] = (doubled, txid)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    group.close()

    stored = _stored(engine)
    assert len(stored) == 300
    assert all(results[k][0] == 2 * v for k, v in stored.items())
    transactions = {txid for _, txid in results.values()}
    assert len(transactions) < 300, "some statements should have shared a transaction"
    batches = _sample("crm_group_commit_batch_size_count", "test-shared")
    assert batches == len(transactions)
    assert _sample("crm_group_commit_batch_size_sum", "test-shared") == 300
    per_transaction: dict[int, int] = {}
    for _, txid in results.values():
        per_transaction[txid] = per_transaction.get(txid, 0) + 1
    assert max(per_transaction.values()) <= 8


def test_a_failing_statement_fails_alone_and_the_rest_of_its_batch_commits(engine) -> None:  # type: ignore[no-untyped-def]
    group = GroupCommit(engine, "test-failure", max_batch=8)
    group.execute(INSERT, {"k": "taken", "v": 1})
    outcomes: dict[str, object] = {}

    def write(key: str) -> None:
        try:
            outcomes[key] = group.execute(INSERT, {"k": key, "v": 7})
        except psycopg.Error as error:
            outcomes[key] = error

    leader = _while_busy(group, 0.4)
    writers = [threading.Thread(target=write, args=(key,)) for key in ("a", "taken", "b", "c")]
    for t in writers:
        t.start()
        time.sleep(0.01)
    for t in [leader, *writers]:
        t.join()
    group.close()

    assert isinstance(outcomes["taken"], psycopg.errors.UniqueViolation)
    assert {k: v[0] for k, v in outcomes.items() if k != "taken"} == {"a": 14, "b": 14, "c": 14}  # type: ignore[index]
    assert _stored(engine) == {"taken": 1, "a": 7, "b": 7, "c": 7}
    assert _sample("crm_group_commit_batch_retries_total", "test-failure") == 1


def test_statements_in_one_batch_see_the_rows_of_those_before_them(engine) -> None:  # type: ignore[no-untyped-def]
    """Two captures of one key in one batch: the second finds the first, as it would alone."""
    group = GroupCommit(engine, "test-order", max_batch=8)
    claim = "INSERT INTO items (k, v) SELECT %(k)s, %(v)s WHERE NOT EXISTS (SELECT 1 FROM items WHERE k = %(k)s) RETURNING v"
    outcomes: list[object] = []
    leader = _while_busy(group, 0.4)
    writers = [threading.Thread(target=lambda v=v: outcomes.append(group.execute(claim, {"k": "same", "v": v}))) for v in (1, 2, 3)]
    for t in writers:
        t.start()
    for t in [leader, *writers]:
        t.join()
    group.close()
    assert outcomes.count(None) == 2, "the second and third found the first"
    assert _stored(engine) == {"same": next(o for o in outcomes if o is not None)[0]}  # type: ignore[index]
    # The three went in one batch behind the slow statement.
    assert _sample("crm_group_commit_batch_size_count", "test-order") == 2


def test_a_lost_connection_fails_the_statement_on_it_and_the_next_gets_a_new_one(engine) -> None:  # type: ignore[no-untyped-def]
    group = GroupCommit(engine, "test-reconnect")
    (backend,) = group.execute("SELECT pg_backend_pid()", {})  # type: ignore[misc]
    with engine.connect() as admin:
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
    with pytest.raises(psycopg.OperationalError):
        group.execute(INSERT, {"k": "lost", "v": 1})
    assert group.execute(INSERT, {"k": "kept", "v": 2})[0] == 4  # type: ignore[index]
    group.close()
    assert _stored(engine) == {"kept": 2}
