"""The capture statement on PostgreSQL: its plan holds on a table that grew after it was
prepared, and captures committed together by group commit keep every outcome they have alone."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import grpc
from prometheus_client import REGISTRY
from sqlalchemy import text

from crm.lead.v1 import lead_service_pb2 as svc
from crm_common.auth import Principal, use_principal
from crm_common.db import utcnow
from crm_common.events.outbox import OutboxWriter
from crm_lead.adapters.events import ProtoLeadEvents
from crm_lead.adapters.orm import metadata
from crm_lead.adapters.repository import LeadRepository
from crm_lead.domain.capture import LeadDraft, clean
from crm_lead.domain.model import Source
from crm_lead.domain.scoring import ScoringRules
from crm_lead.service_layer.common import new_lead


def _explain_to(conn: Any, plans: list[str]) -> None:
    """Every plan this connection executes from now on is appended to `plans` (auto_explain, its
    log sent to the session)."""
    conn.connection.driver_connection.add_notice_handler(lambda notice: plans.append(notice.message_primary or ""))
    conn.execute(text("LOAD 'auto_explain'"))
    conn.execute(text("SET auto_explain.log_min_duration = 0"))
    conn.execute(text("SET client_min_messages = log"))


def _plans_of_captures(app: Any, count: int) -> list[str]:
    """Captures `count` leads on one connection, as a pooled API connection does, and returns the
    plan PostgreSQL executed for each (auto_explain, sent to this session)."""
    plans: list[str] = []
    with app.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        _explain_to(conn, plans)
        repository = LeadRepository(conn, app.pii)
        rules = ScoringRules.load("")
        outbox = OutboxWriter(metadata)
        with use_principal(Principal("rm-1", ("sales_rep",))):
            for n in range(count):
                draft = LeadDraft(full_name=f"Khách {n}", phone=f"09{n:08d}", email=f"k{n}@example.vn", source=Source(channel="LANDING_PAGE"))
                data, _ = clean(draft)
                assert data is not None
                lead = new_lead(data, rules, utcnow())
                event = outbox.row(ProtoLeadEvents().captured(lead, "probe"))
                outcome = repository.capture(lead, [event], "CreateLead", str(uuid.uuid4()), "fingerprint")
                assert outcome.created
    return [p for p in plans if "leads" in p]


def test_the_capture_statement_probes_duplicates_by_index_even_when_prepared_on_an_empty_table(grouped_app) -> None:
    """psycopg prepares the statement after 5 runs; after 5 more PostgreSQL keeps one generic plan for
    the connection's life. Planned on an empty, never-analysed table, a single OR probe became a
    sequential scan that stayed one as the table grew: 11 ms per capture at 20,000 leads."""
    plans = _plans_of_captures(grouped_app, 14)  # the fixture's fresh database; the captures bypass group commit
    assert len(plans) == 14
    # The last runs use the cached generic plan (parameters, not values, in its conditions).
    assert "(phone_bidx)::text = $" in plans[-1], plans[-1]
    for plan in plans:
        assert "Seq Scan on leads" not in plan, plan
        assert "_phone_bidx on leads" in plan and "_email_bidx on leads" in plan, plan


def test_the_web_form_and_import_duplicate_lookup_uses_the_indexes_when_prepared_on_an_empty_table(grouped_app) -> None:
    plans: list[str] = []
    with grouped_app.engine.connect() as conn:
        _explain_to(conn, plans)
        repository = LeadRepository(conn, grouped_app.pii)
        for n in range(14):
            assert repository.find_open_duplicates([f"+8490{n:07d}"], [f"w{n}@example.vn"]) == {}
    plans = [p for p in plans if "FROM leads" in p]
    assert len(plans) == 14 and "(phone_bidx)::text = ($1)::text" in plans[-1], plans[-1]  # the generic plan
    for plan in plans:
        assert "Seq Scan on leads" not in plan, plan


def test_captures_committed_together_keep_their_own_outcomes(grouped_app, admin) -> None:
    app = grouped_app
    same_person: list[str] = []
    repeats: list[str] = []
    others: list[str] = []
    repeated_id = str(uuid.uuid4())

    def capture(lead, request_id: str, into: list[str]) -> None:  # type: ignore[no-untyped-def]
        try:
            into.append(app.stub.CreateLead(svc.CreateLeadRequest(request_id=request_id, lead=lead), metadata=admin).lead.lead_id)
        except grpc.RpcError as exc:
            into.append(exc.code().name)

    threads = [threading.Thread(target=capture, args=(app.lead_input(), str(uuid.uuid4()), same_person)) for _ in range(8)]
    repeated = app.lead_input(phone="0987 000 111", email="lan@example.vn")
    threads += [threading.Thread(target=capture, args=(repeated, repeated_id, repeats)) for _ in range(6)]
    threads += [
        threading.Thread(target=capture, args=(app.lead_input(phone=f"0977 {n:03d} 555", email=f"p{n}@example.vn"), str(uuid.uuid4()), others))
        for n in range(16)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    created = [o for o in same_person if o != "ALREADY_EXISTS"]
    assert len(created) == 1 and same_person.count("ALREADY_EXISTS") == 7
    assert len(set(repeats)) == 1 and repeats[0] not in ("ALREADY_EXISTS", "ABORTED")
    assert len(set(others)) == 16 and all(len(o) == 36 for o in others)
    assert app.count("leads") == 1 + 1 + 16
    assert app.count("outbox") == 18 and app.count("idempotency_keys") == 18
    app.audit.flush()
    with app.engine.connect() as conn:
        audited = conn.execute(text("SELECT count(*) FROM audit_log WHERE rpc LIKE '%CreateLead' AND outcome = 'OK'")).scalar_one()
    # One audit row per call that created a lead or answered a repeat with it.
    assert audited >= 18
    batches = REGISTRY.get_sample_value("crm_group_commit_batch_size_sum", {"writer": "lead-capture"})
    assert batches is not None and batches >= 18
