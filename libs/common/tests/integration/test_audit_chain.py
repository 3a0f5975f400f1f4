"""The audit log's hash chain on SQLite and PostgreSQL: sealing takes committed rows once, in the
order it sees them, and verification names the first broken link of an edited, deleted,
reordered or inserted row (and, given an anchor, of deleted newest rows)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text, update

from crm_common.audit import chain
from crm_common.audit.chain import AUDIT_LOG, seal, verify
from crm_common.audit.trail import AuditTrail
from crm_common.db import make_engine, new_metadata
from crm_common.testing import BACKENDS, empty_database


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with empty_database(request.param, tmp_path, "crm_test_audit") as url:
        engine = make_engine(url, pool_size=4)
        new_metadata().create_all(engine)
        yield engine
        engine.dispose()


def append(engine: Engine, count: int, subject: str = "rm-a") -> list[int]:
    rows = [
        {
            "occurred_at": datetime(2026, 12, 2, 9, 0, i % 60, i, tzinfo=UTC),
            "subject": subject,
            "roles": ["rm"],
            "client_id": "branch-app",
            "service": "lead",
            "rpc": "/crm.lead.v1.LeadService/GetLead",
            "object_ids": [f"lead-{i}"],
            "outcome": "OK",
            "trace_id": f"{i:032x}",
            "purpose": "",
        }
        for i in range(count)
    ]
    with engine.begin() as conn:
        return [conn.execute(AUDIT_LOG.insert().values(row).returning(AUDIT_LOG.c.id)).scalar_one() for row in rows]


def sealed(engine: Engine) -> list[tuple[int, int]]:
    """(seal_seq, id) of every sealed row, in chain order."""
    with engine.connect() as conn:
        query = select(AUDIT_LOG.c.seal_seq, AUDIT_LOG.c.id).where(AUDIT_LOG.c.seal_seq.is_not(None)).order_by(AUDIT_LOG.c.seal_seq)
        return [(int(s), int(i)) for s, i in conn.execute(query)]


def tamper(engine: Engine, *statements: str) -> None:
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def test_sealing_numbers_committed_rows_in_id_order_and_the_chain_verifies(engine: Engine) -> None:
    ids = append(engine, 7)
    assert seal(engine, batch_size=3) == 7
    assert sealed(engine) == list(enumerate(ids, start=1))
    result = verify(engine, batch_size=2)
    assert result.ok and result.count == 7 and result.head_seq == 7 and result.unsealed == 0
    with engine.connect() as conn:
        first = conn.execute(select(AUDIT_LOG).where(AUDIT_LOG.c.seal_seq == 1)).mappings().one()
        head = conn.execute(select(AUDIT_LOG.c.row_hash).where(AUDIT_LOG.c.seal_seq == 7)).scalar_one()
    # The documented rule, recomputed by hand: SHA-256(prev_hash || canonical(row)).
    assert first["prev_hash"] == chain.GENESIS
    assert first["row_hash"] == chain.row_hash(chain.GENESIS, first)
    assert result.head_hash == head
    assert seal(engine) == 0  # nothing is sealed twice


def test_a_row_committed_after_a_later_id_was_sealed_joins_the_chain_once_at_its_end(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite has one writer at a time: its rows commit in id order")
    append(engine, 2)
    with engine.connect() as late:
        # A transaction that takes its id now and commits after later ids were sealed.
        late_tx = late.begin()
        late_id = late.execute(AUDIT_LOG.insert().values(append_row()).returning(AUDIT_LOG.c.id)).scalar_one()
        after = append(engine, 2)
        assert seal(engine) == 4  # the uncommitted row is invisible to the sealer
        late_tx.commit()
    assert late_id < after[0]
    assert seal(engine) == 1
    assert sealed(engine)[-1] == (5, late_id)
    assert verify(engine).ok and verify(engine).count == 5


def append_row() -> dict[str, object]:
    return {
        "occurred_at": datetime(2026, 12, 2, 10, 0, tzinfo=UTC),
        "subject": "rm-late",
        "roles": ["rm"],
        "client_id": "",
        "service": "lead",
        "rpc": "/crm.lead.v1.LeadService/UpdateLead",
        "object_ids": [],
        "outcome": "OK",
        "trace_id": "",
        "purpose": "",
    }


def test_an_edited_row_is_named(engine: Engine) -> None:
    ids = append(engine, 6)
    seal(engine)
    tamper(engine, f"UPDATE audit_log SET subject = 'rm-b' WHERE id = {ids[3]}")
    result = verify(engine)
    assert result.broken is not None
    assert (result.broken.seal_seq, result.broken.id, result.broken.problem) == (4, ids[3], "edited")
    assert result.count == 3


def test_an_edited_and_rehashed_row_breaks_the_next_link(engine: Engine) -> None:
    ids = append(engine, 6)
    seal(engine)
    with engine.connect() as conn:
        row = dict(conn.execute(select(AUDIT_LOG).where(AUDIT_LOG.c.id == ids[2])).mappings().one())
    row["outcome"] = "PERMISSION_DENIED"
    with engine.begin() as conn:
        conn.execute(update(AUDIT_LOG).where(AUDIT_LOG.c.id == ids[2]).values(outcome=row["outcome"], row_hash=chain.row_hash(row["prev_hash"], row)))
    broken = verify(engine).broken
    assert broken is not None and (broken.seal_seq, broken.id, broken.problem) == (4, ids[3], "order")


def test_a_deleted_row_is_named_by_its_missing_seal_seq(engine: Engine) -> None:
    ids = append(engine, 6)
    seal(engine)
    tamper(engine, f"DELETE FROM audit_log WHERE id = {ids[2]}")
    broken = verify(engine).broken
    assert broken is not None and (broken.seal_seq, broken.id, broken.problem) == (3, None, "deleted")
    assert f"id {ids[3]}" in broken.detail


def test_a_deleted_row_with_the_numbers_closed_up_breaks_the_link(engine: Engine) -> None:
    ids = append(engine, 6)
    seal(engine)
    tamper(engine, f"DELETE FROM audit_log WHERE id = {ids[2]}", "UPDATE audit_log SET seal_seq = seal_seq - 1 WHERE seal_seq > 3")
    broken = verify(engine).broken
    assert broken is not None and (broken.seal_seq, broken.id, broken.problem) == (3, ids[3], "order")


def test_reordered_rows_are_named(engine: Engine) -> None:
    ids = append(engine, 6)
    seal(engine)
    # Swap the places of seal_seq 2 and 3 (through a free number: seal_seq is unique).
    tamper(
        engine,
        f"UPDATE audit_log SET seal_seq = 1000 WHERE id = {ids[1]}",
        f"UPDATE audit_log SET seal_seq = 2 WHERE id = {ids[2]}",
        f"UPDATE audit_log SET seal_seq = 3 WHERE id = {ids[1]}",
    )
    broken = verify(engine).broken
    assert broken is not None and (broken.seal_seq, broken.id, broken.problem) == (2, ids[2], "order")


def test_an_inserted_row_breaks_the_link_after_it(engine: Engine) -> None:
    ids = append(engine, 5)
    seal(engine)
    # A forged row at seal_seq 3 that links correctly to seal_seq 2; the rows after moved up.
    tamper(
        engine,
        "UPDATE audit_log SET seal_seq = seal_seq + 100 WHERE seal_seq >= 3",
        "UPDATE audit_log SET seal_seq = seal_seq - 99 WHERE seal_seq > 100",
    )
    with engine.connect() as conn:
        prev = conn.execute(select(AUDIT_LOG.c.row_hash).where(AUDIT_LOG.c.seal_seq == 2)).scalar_one()
    forged = {**append_row(), "id": 999, "seal_seq": 3, "subject": "nobody"}
    with engine.begin() as conn:
        conn.execute(AUDIT_LOG.insert().values({**forged, "prev_hash": prev, "row_hash": chain.row_hash(prev, forged)}))
    broken = verify(engine).broken
    assert broken is not None and (broken.seal_seq, broken.id, broken.problem) == (4, ids[2], "order")


def test_deleted_newest_rows_are_caught_by_an_anchor(engine: Engine) -> None:
    ids = append(engine, 5)
    seal(engine)
    head = verify(engine)
    anchor = (head.head_seq, head.head_hash)
    assert verify(engine, anchor).ok
    tamper(engine, f"DELETE FROM audit_log WHERE id IN ({ids[3]}, {ids[4]})")
    assert verify(engine).ok  # the chain alone cannot tell: a shorter chain is still whole
    broken = verify(engine, anchor).broken
    assert broken is not None and (broken.seal_seq, broken.problem) == (4, "deleted")


def test_concurrent_sealers_seal_every_row_exactly_once(engine: Engine) -> None:
    """PostgreSQL: one sealer at a time (advisory lock). SQLite: a sealer that loses a race on
    the unique seal_seq or a busy database rolls back and leaves the rows to the next run."""
    append(engine, 400)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            while seal(engine, batch_size=25):
                pass
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seal(engine)
    assert errors == []
    assert [seq for seq, _ in sealed(engine)] == list(range(1, 401))
    assert verify(engine).ok


def test_a_row_the_database_refuses_does_not_hold_back_the_others(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite stores any string: no row is refused")
    trail = AuditTrail(engine, "lead")
    good = {**append_row(), "subject": "rm-a"}
    # Not through AuditRecord.row (which cleans what callers send): a value PostgreSQL cannot hold.
    trail.append(good)
    trail.append({**append_row(), "subject": "rm\x00b"})
    trail.append(good)
    assert trail.flush() == 2
    with engine.connect() as conn:
        assert conn.execute(select(AUDIT_LOG.c.subject)).scalars().all() == ["rm-a", "rm-a"]
    assert trail.flush() == 0  # nothing left queued
