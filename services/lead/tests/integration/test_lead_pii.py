"""Personal data in the lead service: encrypted at rest, found through blind indexes, masked in
events and for callers without pii.read, and rotated with `crm-lead pii reencrypt|reindex`.
On SQLite and PostgreSQL, through the real gRPC API."""

from __future__ import annotations

import base64
import uuid

import grpc
import pytest
from sqlalchemy import select

from crm.lead.v1 import lead_pb2
from crm.lead.v1 import lead_service_pb2 as svc
from crm_common.auth import DataScope
from crm_common.pii import DEV_PII_INDEX_KEY, DEV_PII_KEYS, PiiCodec
from crm_common.testing import bearer
from crm_lead.adapters.orm import contact_attempts, lead_behaviours, leads, metadata
from crm_lead.adapters.repository import LeadRepository
from crm_lead.entrypoints.cli import main

NAME = "Nguyễn Văn An"
NATIONAL_ID = "079099012345"
EMAIL = "an.nguyen@example.com"
NOTE = "gọi lại cho anh An số 0912345678 sau 18h"
# What must never be found in clear: every form of the phone, the email, the id, the name.
NEEDLES = ["912345678", EMAIL, NATIONAL_ID, NAME, "nguyen van an", "Văn An", "gọi lại"]
MARKETING = bearer("mkt-1", ["marketing"])
TELESALES = bearer("agent-7", ["telesales"])
RM = bearer("rm-1", ["rm"])
NEW_KEY = "k2:" + base64.b64encode(bytes(range(32))).decode()
NEW_INDEX_KEY = base64.b64encode(bytes(range(100, 132))).decode()


def rid() -> str:
    return str(uuid.uuid4())


def person(app, **overrides: object) -> lead_pb2.LeadInput:  # type: ignore[no-untyped-def]
    contact = lead_pb2.ContactInput(full_name=NAME, phone="0912 345 678", email=EMAIL, national_id=NATIONAL_ID, province_code="79")
    return app.lead_input(**{"contact": contact, "note": NOTE, **overrides})  # type: ignore[no-any-return]


def work_the_lead(app, admin) -> str:  # type: ignore[no-untyped-def]
    """Capture → behaviour → assignment → contact → qualification → conversion, each step with
    free text about the person, so every table and every event kind has had the chance to leak."""
    lead_id = app.stub.CreateLead(svc.CreateLeadRequest(request_id=rid(), lead=person(app)), metadata=MARKETING).lead.lead_id
    app.stub.RecordBehaviour(
        svc.RecordBehaviourRequest(request_id=rid(), lead_id=lead_id, behaviour=lead_pb2.BEHAVIOUR_TYPE_PRICING_VIEW, detail=NOTE), metadata=admin
    )
    app.stub.AssignLead(svc.AssignLeadRequest(request_id=rid(), lead_id=lead_id, owner_id="agent-7"), metadata=admin)
    app.stub.RecordContactAttempt(
        svc.RecordContactAttemptRequest(
            request_id=rid(), lead_id=lead_id, channel=lead_pb2.CONTACT_CHANNEL_PHONE, outcome=lead_pb2.CONTACT_OUTCOME_REACHED, note=NOTE
        ),
        metadata=TELESALES,
    )
    app.stub.QualifyLead(svc.QualifyLeadRequest(request_id=rid(), lead_id=lead_id, note=NOTE), metadata=TELESALES)
    # Handed to the RM, who converts it (an RM reaches the leads of its own book).
    app.stub.AssignLead(svc.AssignLeadRequest(request_id=rid(), lead_id=lead_id, owner_id="rm-1"), metadata=admin)
    app.stub.ConvertLead(svc.ConvertLeadRequest(request_id=rid(), lead_id=lead_id), metadata=RM)
    other = person(app)
    other.contact.phone, other.contact.email, other.contact.national_id = "0987 654 321", "binh@example.com", ""
    other_id = app.stub.CreateLead(svc.CreateLeadRequest(request_id=rid(), lead=other), metadata=MARKETING).lead.lead_id
    app.stub.DisqualifyLead(
        svc.DisqualifyLeadRequest(request_id=rid(), lead_id=other_id, reason=lead_pb2.DISQUALIFICATION_REASON_NOT_INTERESTED, note=NOTE),
        metadata=admin,
    )
    app.stub.ReturnToNurture(svc.ReturnToNurtureRequest(request_id=rid(), lead_id=other_id, note=NOTE), metadata=admin)
    return str(lead_id)


def leaks(text: str) -> list[str]:
    return [needle for needle in NEEDLES if needle.lower() in text.lower()]


def test_a_raw_select_finds_no_plaintext_and_the_api_reads_it_back(app, admin) -> None:  # type: ignore[no-untyped-def]
    lead_id = work_the_lead(app, admin)
    with app.engine.connect() as conn:
        stored = [str(tuple(row)) for table in (leads, contact_attempts, lead_behaviours) for row in conn.execute(select(table))]
    assert len(stored) == 4  # two leads, one attempt, one behaviour
    assert leaks("\n".join(stored)) == []

    lead = app.stub.GetLead(svc.GetLeadRequest(lead_id=lead_id), metadata=RM)
    assert (lead.lead.contact.full_name, lead.lead.contact.phone.e164, lead.lead.contact.email) == (NAME, "+84912345678", EMAIL)
    assert (lead.lead.contact.national_id, lead.lead.note, lead.lead.status_note) == (NATIONAL_ID, NOTE, NOTE)
    assert [a.note for a in lead.contact_attempts] == [NOTE]


def test_no_outbox_payload_carries_plaintext(app, admin) -> None:  # type: ignore[no-untyped-def]
    lead_id = work_the_lead(app, admin)
    outbox = metadata.tables["outbox"]
    with app.engine.connect() as conn:
        events = conn.execute(select(outbox.c.event_type, outbox.c.payload, outbox.c.headers).order_by(outbox.c.seq)).all()
    kinds = {e.event_type for e in events}
    assert {"LeadCaptured", "LeadAssigned", "LeadContacted", "LeadQualified", "LeadConverted", "LeadDisqualified", "LeadReturnedToNurture"} <= kinds
    for event in events:
        assert leaks(bytes(event.payload).decode("utf-8", "replace") + str(event.headers)) == [], event.event_type
    # What consumers work from is still there: ids, and the contact masked.
    captured = [e for e in events if e.event_type == "LeadCaptured"]
    from crm.lead.v1.events_pb2 import LeadCaptured

    first = LeadCaptured.FromString(bytes(captured[0].payload)).lead
    assert first.lead_id == lead_id
    assert (first.contact.full_name, first.contact.phone.e164, first.contact.email) == ("N*** V*** A***", "+849*****678", "a***@example.com")
    assert (first.contact.national_id, first.note) == ("********2345", "")


@pytest.mark.parametrize("phone", ["0912345678", "+84 912 345 678", "84912345678"])
def test_duplicates_and_lookups_still_match_every_form_of_a_phone(app, phone: str) -> None:  # type: ignore[no-untyped-def]
    lead_id = app.stub.CreateLead(svc.CreateLeadRequest(request_id=rid(), lead=person(app)), metadata=MARKETING).lead.lead_id
    again = person(app)
    again.contact.phone, again.contact.email = phone, "someone.else@example.com"
    with pytest.raises(grpc.RpcError) as err:
        app.stub.CreateLead(svc.CreateLeadRequest(request_id=rid(), lead=again), metadata=MARKETING)
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert lead_id in err.value.details() and "phone" in err.value.details()

    form = app.stub.CaptureWebForm(svc.CaptureWebFormRequest(request_id=rid(), full_name=NAME, phone=phone), metadata=bearer("web", ["web_capture"]))
    assert form.matched_open_lead and form.lead.lead_id == lead_id
    imported = app.stub.ImportLeads(svc.ImportLeadsRequest(request_id=rid(), rows=[again]), metadata=MARKETING)
    assert [(r.lead_id, r.status) for r in imported.results] == [(lead_id, svc.IMPORT_ROW_STATUS_DUPLICATE)]
    for query in (phone, EMAIL.upper(), "nguyen", "văn a", "AN"):
        found = app.stub.ListLeads(svc.ListLeadsRequest(query=query), metadata=MARKETING).leads
        assert [lead.lead_id for lead in found] == [lead_id], query
    assert app.stub.ListLeads(svc.ListLeadsRequest(query="van b"), metadata=MARKETING).leads == []


def test_contact_data_is_masked_without_pii_read(app, admin) -> None:  # type: ignore[no-untyped-def]
    lead_id = work_the_lead(app, admin)
    # The same person again (the first lead is converted, so not a duplicate), in the agent's book.
    again = app.stub.CreateLead(svc.CreateLeadRequest(request_id=rid(), lead=person(app)), metadata=MARKETING).lead.lead_id
    # A sales manager reaches the unassigned queue it distributes, unmasked (pii.read).
    manager = app.stub.GetLead(svc.GetLeadRequest(lead_id=again), metadata=bearer("head-of-sales", ["sales_manager"])).lead
    app.stub.AssignLead(svc.AssignLeadRequest(request_id=rid(), lead_id=again, owner_id="agent-7"), metadata=admin)
    for caller, seen_id in ((MARKETING, lead_id), (TELESALES, again)):
        seen = app.stub.GetLead(svc.GetLeadRequest(lead_id=seen_id), metadata=caller).lead
        assert (seen.contact.phone.e164, seen.contact.email, seen.contact.national_id) == ("+849*****678", "a***@example.com", "********2345")
        listed = [lead for lead in app.stub.ListLeads(svc.ListLeadsRequest(), metadata=caller).leads if lead.lead_id == seen_id]
        assert [lead.contact.phone.e164 for lead in listed] == ["+849*****678"]
    no_phone = lead_pb2.ContactInput(full_name="Lê Thị Bình", email="le.binh@example.com")
    created = app.stub.CreateLead(svc.CreateLeadRequest(request_id=rid(), lead=person(app, contact=no_phone)), metadata=MARKETING).lead
    assert (created.contact.phone.e164, created.contact.email, created.contact.national_id) == ("", "l***@example.com", "")
    for seen in (app.stub.GetLead(svc.GetLeadRequest(lead_id=lead_id), metadata=RM).lead, manager):
        assert (seen.contact.phone.e164, seen.contact.email, seen.contact.national_id) == ("+84912345678", EMAIL, NATIONAL_ID)


def _run_cli(monkeypatch: pytest.MonkeyPatch, app, keys: str, index_key: str, action: str) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATABASE_URL", app.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("PII_KEYS", keys)
    monkeypatch.setenv("PII_INDEX_KEY", index_key)
    assert main(["pii", action]) == 0


def _tokens(app) -> list[str]:  # type: ignore[no-untyped-def]
    columns = [
        leads.c.full_name_enc,
        leads.c.phone_enc,
        leads.c.email_enc,
        leads.c.note_enc,
        contact_attempts.c.note_enc,
        lead_behaviours.c.detail_enc,
    ]
    with app.engine.connect() as conn:
        return [token for column in columns for token in conn.scalars(select(column)) if token]


def test_reencrypt_moves_every_token_to_the_current_key(app, admin, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    lead_id = work_the_lead(app, admin)
    assert {token.split(":")[0] for token in _tokens(app)} == {"dev1"}
    _run_cli(monkeypatch, app, f"{NEW_KEY},{DEV_PII_KEYS}", DEV_PII_INDEX_KEY, "reencrypt")
    assert {token.split(":")[0] for token in _tokens(app)} == {"k2"}
    _run_cli(monkeypatch, app, f"{NEW_KEY},{DEV_PII_KEYS}", DEV_PII_INDEX_KEY, "reencrypt")  # a re-run changes nothing

    # With only the new key everything still reads and is still found.
    codec = PiiCodec.from_settings(NEW_KEY, DEV_PII_INDEX_KEY)
    with app.engine.connect() as conn:
        repository = LeadRepository(conn, codec)
        lead = repository.get(lead_id, DataScope.bank_wide())
        assert (lead.full_name, lead.phone_e164, lead.national_id, lead.note) == (NAME, "+84912345678", NATIONAL_ID, NOTE)
        assert [a.note for a in repository.contact_attempts(lead_id)] == [NOTE]
        assert repository.find_open_duplicates([], ["binh@example.com"]) != {}


def test_reindex_makes_lookups_work_under_a_new_index_key(app, admin, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    lead_id = app.stub.CreateLead(svc.CreateLeadRequest(request_id=rid(), lead=person(app)), metadata=MARKETING).lead.lead_id
    codec = PiiCodec.from_settings(DEV_PII_KEYS, NEW_INDEX_KEY)
    with app.engine.connect() as conn:
        assert LeadRepository(conn, codec).find_open_duplicates(["+84912345678"], []) == {}  # not yet
    _run_cli(monkeypatch, app, DEV_PII_KEYS, NEW_INDEX_KEY, "reindex")
    with app.engine.connect() as conn:
        repository = LeadRepository(conn, codec)
        assert repository.find_open_duplicates(["+84912345678"], [EMAIL]) == {("phone", "+84912345678"): lead_id, ("email", EMAIL): lead_id}
        from crm_common.pagination import Page
        from crm_lead.domain.model import LeadFilter

        for where in (LeadFilter(name_prefix="van an"), LeadFilter(phone_e164="+84912345678"), LeadFilter(email=EMAIL)):
            assert [lead.lead_id for lead in repository.search(where, Page(size=10, after=None), DataScope.bank_wide())[0]] == [lead_id]
        row = conn.execute(select(leads.c.national_id_bidx)).one()
        assert row.national_id_bidx == codec.index("national_id", NATIONAL_ID)
