"""The lead service's part of data-subject rights on a real database (both backends): which leads
are a person's (converted into their accounts, merged-away ones included, or unconverted with
their phone, email or national id in any format), their export through the platform's
PersonalDataService on the real gRPC server, and their erasure by the worker."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import grpc
import pytest
from nameko.testing.services import worker_factory
from sqlalchemy import select, update

from crm.account.v1 import events_pb2 as account_events
from crm.lead.v1 import lead_pb2, lead_service_pb2
from crm.privacy.v1 import personal_data_service_pb2, personal_data_service_pb2_grpc
from crm_common.db import new_id
from crm_common.events.envelope import new_event
from crm_common.privacy import PersonIdentifiers
from crm_common.testing import bearer, delivery
from crm_lead.adapters.orm import LEADS_PII, leads
from crm_lead.entrypoints.worker import LeadWorker

DPO = bearer("dpo-1", ["privacy_officer"])
RM = bearer("rm-1", ["rm"])
# The person the account service knows: these values, as it normalises them.
PHONE, EMAIL, NATIONAL_ID = "+84912345678", "an.nguyen@example.com", "079301012345"


def capture(app, admin, lead_input, phone: str, email: str, national_id: str = "") -> str:  # type: ignore[no-untyped-def]
    contact = lead_pb2.ContactInput(full_name="Nguyễn Văn An", phone=phone, email=email, national_id=national_id, province_code="79")
    request = lead_service_pb2.CreateLeadRequest(request_id=new_id(), lead=lead_input(contact=contact))
    return str(app.stub.CreateLead(request, metadata=admin).lead.lead_id)


def convert(app, lead_id: str, account_id: str) -> None:  # type: ignore[no-untyped-def]
    with app.engine.begin() as conn:
        converted = {"status": "CONVERTED", "account_id": account_id, "converted_at": datetime.now(UTC)}
        conn.execute(update(leads).where(leads.c.lead_id == lead_id).values(converted))


@pytest.fixture
def planted(app, admin, lead_input):  # type: ignore[no-untyped-def]
    """The person's leads (by phone in another format, by email in another case, by national id,
    converted into their account and into one merged into it) and two leads that are not theirs."""
    account_id, merged_id = new_id(), new_id()
    # Converted into someone else's account although it shares the phone: that customer's record.
    someone_else = capture(app, admin, lead_input, "0912 345 678", "chi@example.vn")
    convert(app, someone_else, new_id())
    theirs = {
        "by_phone": capture(app, admin, lead_input, "84 912-345-678", "an.work@example.vn"),
        "by_email": capture(app, admin, lead_input, "0977000111", "An.Nguyen@Example.COM"),
        "by_national_id": capture(app, admin, lead_input, "0966000222", "", national_id="079 301 012 345"),
        "converted": capture(app, admin, lead_input, "0955000333", "an.2026@example.vn"),
        "merged_away": capture(app, admin, lead_input, "0944000444", "an.old@example.vn"),
    }
    convert(app, theirs["converted"], account_id)
    convert(app, theirs["merged_away"], merged_id)
    stranger = capture(app, admin, lead_input, "0933000555", "binh@example.vn")
    person = PersonIdentifiers(
        account_ids=(account_id, merged_id),
        phone_indexes=(app.pii.index("phone", PHONE),),
        email_indexes=(app.pii.index("email", EMAIL),),
        national_id_indexes=(app.pii.index("national_id", NATIONAL_ID),),
    )
    return person, theirs, {"someone_else": someone_else, "stranger": stranger}


def test_the_export_holds_every_lead_of_the_person_unmasked(app, planted) -> None:  # type: ignore[no-untyped-def]
    person, theirs, others = planted
    stub = personal_data_service_pb2_grpc.PersonalDataServiceStub(app.channel)
    request = personal_data_service_pb2.ExportPersonalDataRequest(person=person.to_proto())
    reply = stub.ExportPersonalData(request, metadata=DPO)
    assert reply.service == "lead"
    section = json.loads(reply.document)
    exported = {entry["lead"]["lead_id"]: entry for entry in section["leads"]}
    assert set(exported) == set(theirs.values()) and not set(exported) & set(others.values())
    by_phone = exported[theirs["by_phone"]]["lead"]
    assert (by_phone["contact"]["phone"]["e164"], by_phone["contact"]["full_name"]) == (PHONE, "Nguyễn Văn An")
    assert by_phone["source"]["campaign_id"] == "cmp-tet-2027" and by_phone["source"]["utm"]["source"] == "facebook"
    assert exported[theirs["by_national_id"]]["lead"]["contact"]["national_id"] == NATIONAL_ID
    assert exported[theirs["converted"]]["lead"]["conversion"]["account_id"] == person.account_id

    with pytest.raises(grpc.RpcError) as denied:
        stub.ExportPersonalData(request, metadata=RM)
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_an_erasure_blanks_every_lead_of_the_person_and_no_one_elses(app, planted) -> None:  # type: ignore[no-untyped-def]
    person, theirs, others = planted
    event = new_event(
        account_events.ErasureRequested,
        "account",
        "erase-2",
        datetime.now(UTC),
        erasure_id=new_id(),
        account_id=person.account_id,
        person=PersonIdentifiers(person.merged_account_ids, (), *person.contact_indexes.values()).to_proto(),
    )
    worker: LeadWorker = worker_factory(LeadWorker, use_cases=app.use_cases)
    assert worker.on_erasure_requested(delivery(event, "lead.on_erasure_requested")) == "5 lead(s) anonymised"

    with app.engine.connect() as conn:
        rows = {r.lead_id: r for r in conn.execute(select(leads))}
    for name, lead_id in theirs.items():
        row = rows[lead_id]
        assert app.pii.decrypt(LEADS_PII.context("full_name_enc", lead_id), row.full_name_enc) == "(erased)", name
        assert (row.phone_enc, row.phone_bidx, row.email_enc, row.national_id_enc, row.national_id_bidx) == ("", "", "", "", ""), name
    for name, lead_id in others.items():
        assert app.pii.decrypt(LEADS_PII.context("full_name_enc", lead_id), rows[lead_id].full_name_enc) == "Nguyễn Văn An", name
    assert app.pii.decrypt(LEADS_PII.context("phone_enc", others["someone_else"]), rows[others["someone_else"]].phone_enc) == PHONE
