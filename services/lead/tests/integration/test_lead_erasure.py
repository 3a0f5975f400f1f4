"""The lead worker's part of a data-subject erasure, on a real database (both backends)."""

from __future__ import annotations

from datetime import UTC, datetime

from nameko.testing.services import worker_factory
from sqlalchemy import select, update

from crm.account.v1 import events_pb2 as account_events
from crm.common.v1.common_pb2 import ErasureConfirmed
from crm.lead.v1 import lead_service_pb2
from crm_common.db import new_id
from crm_common.events.dead_letters import consumer_queues
from crm_common.events.envelope import new_event
from crm_common.testing import delivery
from crm_lead.adapters.orm import LEADS_PII, leads, metadata
from crm_lead.entrypoints.worker import LeadWorker

CONSUMER = "lead.on_erasure_requested"


def capture(app, admin, lead_input, phone: str, email: str) -> str:  # type: ignore[no-untyped-def]
    request = lead_service_pb2.CreateLeadRequest(request_id=new_id(), lead=lead_input(phone=phone, email=email))
    return str(app.stub.CreateLead(request, metadata=admin).lead.lead_id)


def requested(account_id: str, lead_ids: list[str]) -> account_events.ErasureRequested:
    return new_event(
        account_events.ErasureRequested, "account", "erase-1", datetime.now(UTC), erasure_id=new_id(), account_id=account_id, lead_ids=lead_ids
    )


def test_the_persons_leads_are_blanked_and_the_erasure_confirmed_once(app, admin, lead_input) -> None:  # type: ignore[no-untyped-def]
    converted = capture(app, admin, lead_input, "0912345678", "an@example.vn")
    listed = capture(app, admin, lead_input, "0987654321", "an.other@example.vn")
    stranger = capture(app, admin, lead_input, "0977111222", "binh@example.vn")
    account_id = new_id()
    with app.engine.begin() as conn:
        conn.execute(update(leads).where(leads.c.lead_id == converted).values(account_id=account_id))
    worker: LeadWorker = worker_factory(LeadWorker, use_cases=app.use_cases)
    event = requested(account_id, [listed])

    assert worker.on_erasure_requested(delivery(event, CONSUMER)) == "2 lead(s) anonymised"
    assert worker.on_erasure_requested(delivery(event, CONSUMER)) == "duplicate"

    with app.engine.connect() as conn:
        rows = {r.lead_id: r for r in conn.execute(select(leads))}
    for lead_id in (converted, listed):
        row = rows[lead_id]
        assert app.pii.decrypt(LEADS_PII.context("full_name_enc", lead_id), row.full_name_enc) == "(erased)"
        assert (row.phone_enc, row.phone_bidx, row.email_enc, row.email_bidx, row.cookie_id, row.name_tokens) == ("", "", "", "", "", "")
        assert row.campaign_id == "cmp-tet-2027"  # attribution stays for the reports
    assert app.pii.decrypt(LEADS_PII.context("phone_enc", stranger), rows[stranger].phone_enc) == "+84977111222"

    outbox = metadata.tables["outbox"]
    with app.engine.connect() as conn:
        payloads = list(conn.scalars(select(outbox.c.payload).where(outbox.c.event_type == "ErasureConfirmed")))
    [confirmation] = [ErasureConfirmed.FromString(p) for p in payloads]
    assert (confirmation.erasure_id, confirmation.service, confirmation.records_anonymised) == (event.erasure_id, "lead", 2)


def test_an_erasure_of_someone_without_leads_is_still_confirmed(app) -> None:  # type: ignore[no-untyped-def]
    worker: LeadWorker = worker_factory(LeadWorker, use_cases=app.use_cases)
    assert worker.on_erasure_requested(delivery(requested(new_id(), []), CONSUMER)) == "0 lead(s) anonymised"
    assert app.outbox_types() == ["ErasureConfirmed"]


def test_the_worker_listens_on_its_own_queue() -> None:
    assert "evt-account-ErasureRequested--lead.on_erasure_requested" in consumer_queues(LeadWorker)
