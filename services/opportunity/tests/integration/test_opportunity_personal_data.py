"""The opportunity service's part of data-subject rights through the real gRPC server over SQLite
and PostgreSQL: a person's opportunities (on their account, on an account merged into it, from
their lead) and activities, exported through the platform's PersonalDataService and blanked
by the worker on an erasure; someone else's stay."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from nameko.testing.services import worker_factory

from crm.account.v1 import events_pb2 as account_events
from crm.common.v1 import common_pb2
from crm.opportunity.v1 import opportunity_pb2, opportunity_service_pb2
from crm.opportunity.v1.opportunity_service_pb2_grpc import OpportunityServiceStub
from crm.privacy.v1 import personal_data_service_pb2, personal_data_service_pb2_grpc
from crm_common.auth import DataScope
from crm_common.db import new_id
from crm_common.events.envelope import new_event
from crm_common.pii import PiiCodec
from crm_common.privacy import PersonIdentifiers
from crm_common.testing import LiveService, bearer, delivery
from crm_opportunity.adapters.activity_repository import ActivityRepository
from crm_opportunity.entrypoints.worker import OpportunityWorker

RM = bearer("rm-1", ["rm"])
DPO = bearer("dpo-1", ["privacy_officer"])
S = opportunity_service_pb2
OPP = opportunity_pb2


def deal(stub: OpportunityServiceStub, account_id: str, lead_id: str = "") -> str:
    request = S.CreateOpportunityRequest(
        request_id=new_id(), account_id=account_id, product=common_pb2.PRODUCT_TYPE_CREDIT_CARD, source_lead_id=lead_id
    )
    opportunity_id = stub.CreateOpportunity(request, metadata=RM).opportunity.opportunity_id
    update = S.UpdateOpportunityRequest(
        request_id=new_id(), opportunity_id=opportunity_id, next_step="gọi chị Lan 0912 345 678", update_mask=FieldMask(paths=["next_step"])
    )
    stub.UpdateOpportunity(update, metadata=RM)
    return str(opportunity_id)


def note(stub: OpportunityServiceStub, **where: Any) -> str:
    request = S.CreateActivityRequest(request_id=new_id(), kind=OPP.ACTIVITY_KIND_NOTE, subject="Chị Lan thích gặp buổi tối", **where)
    return str(stub.CreateActivity(request, metadata=RM).activity.activity_id)


@pytest.fixture
def planted(api: LiveService, stub: OpportunityServiceStub) -> tuple[PersonIdentifiers, dict[str, str], dict[str, str]]:
    account_id, merged_id, lead_id, other_account = new_id(), new_id(), new_id(), new_id()
    deals = {
        "on_account": deal(stub, account_id),
        "on_merged_away": deal(stub, merged_id),
        # Converted from their lead into an account id this service has not heard of yet.
        "from_lead": deal(stub, new_id(), lead_id),
    }
    notes = {
        "on_account": note(stub, account_id=account_id),
        "on_merged_deal": note(stub, opportunity_id=deals["on_merged_away"]),
        "on_lead_deal": note(stub, opportunity_id=deals["from_lead"]),
    }
    others = {"deal": deal(stub, other_account), "note": note(stub, account_id=other_account)}
    person = PersonIdentifiers(account_ids=(account_id, merged_id), lead_ids=(lead_id,))
    return person, {**{f"deal:{k}": v for k, v in deals.items()}, **{f"note:{k}": v for k, v in notes.items()}}, others


def test_the_export_holds_the_persons_deals_and_activities(api: LiveService, planted: Any) -> None:
    person, theirs, others = planted
    stub = personal_data_service_pb2_grpc.PersonalDataServiceStub(api.channel)
    request = personal_data_service_pb2.ExportPersonalDataRequest(person=person.to_proto())
    reply = stub.ExportPersonalData(request, metadata=DPO)
    section = json.loads(reply.document)
    assert reply.service == "opportunity"
    assert {o["opportunity_id"] for o in section["opportunities"]} == {v for k, v in theirs.items() if k.startswith("deal:")}
    assert {a["activity_id"] for a in section["activities"]} == {v for k, v in theirs.items() if k.startswith("note:")}
    assert others["deal"] not in {o["opportunity_id"] for o in section["opportunities"]}
    assert {o["next_step"] for o in section["opportunities"]} == {"gọi chị Lan 0912 345 678"}
    with pytest.raises(grpc.RpcError) as denied:
        stub.ExportPersonalData(request, metadata=RM)
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_an_erasure_blanks_what_people_wrote_about_the_person(api: LiveService, stub: OpportunityServiceStub, planted: Any) -> None:
    person, theirs, others = planted
    event = new_event(
        account_events.ErasureRequested,
        "account",
        "",
        datetime.now(UTC),
        erasure_id=new_id(),
        account_id=person.account_id,
        person=PersonIdentifiers(person.merged_account_ids, person.lead_ids).to_proto(),
    )
    worker: OpportunityWorker = worker_factory(OpportunityWorker, use_cases=api.app.use_cases)
    reply = worker.on_erasure_requested(delivery(event, "opportunity.on_erasure_requested"))
    assert reply == "3 activity(ies) anonymised, notes of 3 opportunity(ies) blanked"

    pii = PiiCodec.from_settings(api.settings.pii_keys, api.settings.pii_index_key)

    def activity(activity_id: str) -> Any:
        """As stored, decrypted the way the service reads it."""
        with api.engine.connect() as conn:
            return ActivityRepository(conn, pii).get(activity_id, DataScope.bank_wide())

    def next_step(opportunity_id: str) -> str:
        return str(stub.GetOpportunity(S.GetOpportunityRequest(opportunity_id=opportunity_id), metadata=RM).opportunity.next_step)

    for name, record_id in theirs.items():
        if name.startswith("note:"):
            assert (activity(record_id).subject, activity(record_id).notes) == ("(erased)", ""), name
        else:
            assert next_step(record_id) == "", name
    assert activity(others["note"]).subject == "Chị Lan thích gặp buổi tối"
    assert next_step(others["deal"]) == "gọi chị Lan 0912 345 678"
