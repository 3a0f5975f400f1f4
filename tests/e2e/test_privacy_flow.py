"""Data-subject rights over every record of a person, across the real services, broker and
PostgreSQL databases: a person with a converted lead, a lead converted into an account later
merged away, and unconverted leads that share only a phone, an email or a national id with them.
The export has a section from every service holding personal data (the registry's `pii`
services); the erasure completes and leaves none of the person's values in any database, as
pg_dump shows them (text columns, and bytea such as unsent outbox payloads as hex), nor their
blind indexes; the encrypted lead columns are checked through the lead API."""

from __future__ import annotations

import json
import os
import subprocess
import uuid

from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import make_url
from test_conversion_flow import MARKETING, RM, sql_lead

from crm.account.v1 import account_pb2
from crm.account.v1 import account_service_pb2 as account_svc
from crm.audit.v1 import audit_service_pb2 as audit_svc
from crm.audit.v1 import audit_service_pb2_grpc
from crm.common.v1 import common_pb2
from crm.lead.v1 import lead_pb2
from crm.lead.v1 import lead_service_pb2 as lead_svc
from crm.opportunity.v1 import opportunity_pb2
from crm.opportunity.v1 import opportunity_service_pb2 as opp_svc
from crm_common.contact import fold
from crm_common.db import new_metadata
from crm_common.pii import DEV_PII_INDEX_KEY, BlindIndex
from crm_common.registry import services
from crm_common.testing import bearer, wait_until

DPO = bearer("dpo-1", ["privacy_officer"])
STEWARD = bearer("steward-1", ["data_steward"])
COMPLIANCE = bearer("cmp-1", ["compliance"])
NAME = "Tôn Nữ Hoạ My"
# Phones as digits after the country code, so every written form contains them.
PHONE_CONVERTED, PHONE_MERGED, PHONE_OTHER_1, PHONE_OTHER_2 = "912777031", "912777032", "912777033", "912777034"
EMAIL_CONVERTED, EMAIL_MERGED, EMAIL_OTHER = "hoamy.ton@example.vn", "hoamy.old@example.vn", "my.ton.work@example.vn"
NATIONAL_ID = "046185007731"
CANARIES = [NAME, fold(NAME), PHONE_CONVERTED, PHONE_MERGED, PHONE_OTHER_1, PHONE_OTHER_2, EMAIL_CONVERTED, EMAIL_MERGED, EMAIL_OTHER, NATIONAL_ID]
PII_SERVICES = sorted(d.name for d in services() if d.pii)
MARKETING_ALL = bearer("mkt-2", ["marketing"])


def index_canaries() -> list[str]:
    """The blind indexes of the person's values, as every service computes them: whoever holds the
    index key could find the person again by them, so they must go too."""
    index = BlindIndex.from_base64(os.environ.get("PII_INDEX_KEY", DEV_PII_INDEX_KEY))
    phones = [index("phone", f"+84{p}") for p in (PHONE_CONVERTED, PHONE_MERGED, PHONE_OTHER_1, PHONE_OTHER_2)]
    return [*phones, *(index("email", e) for e in (EMAIL_CONVERTED, EMAIL_MERGED, EMAIL_OTHER)), index("national_id", NATIONAL_ID)]


def audit_entries(suite, service: str, object_id: str) -> list[audit_svc.AuditEntry]:  # type: ignore[no-untyped-def]
    stub = audit_service_pb2_grpc.AuditServiceStub(suite.channels[service])
    return list(stub.QueryAuditLog(audit_svc.QueryAuditLogRequest(object_id=object_id), metadata=COMPLIANCE).entries)


def rid() -> str:
    return str(uuid.uuid4())


def convert(suite, lead_id: str) -> lead_pb2.Conversion:  # type: ignore[no-untyped-def]
    return suite.lead.ConvertLead(lead_svc.ConvertLeadRequest(request_id=rid(), lead_id=lead_id), metadata=RM).conversion


def unconverted_lead(suite, phone: str, email: str = "", national_id: str = "") -> str:  # type: ignore[no-untyped-def]
    contact = lead_pb2.ContactInput(full_name=NAME, phone=phone, email=email, national_id=national_id)
    lead = lead_pb2.LeadInput(
        contact=contact, product_interest=common_pb2.PRODUCT_TYPE_UNSECURED_LOAN, source=lead_pb2.LeadSource(channel=lead_pb2.CHANNEL_PARTNER)
    )
    return str(suite.lead.CreateLead(lead_svc.CreateLeadRequest(request_id=rid(), lead=lead), metadata=MARKETING).lead.lead_id)


def plant_person(suite) -> tuple[str, str, dict[str, str]]:  # type: ignore[no-untyped-def]
    """(account id, merged-away account id, the person's lead ids by how they are theirs)."""
    converted_lead = sql_lead(suite, f"0{PHONE_CONVERTED}", EMAIL_CONVERTED, name=NAME)
    account_id = convert(suite, converted_lead.lead_id).account_id
    # Converted later, with a national id, into a second account of the same person...
    merged_lead = sql_lead(suite, f"+84 {PHONE_MERGED}", EMAIL_MERGED, name=NAME, national_id=NATIONAL_ID)
    merged = convert(suite, merged_lead.lead_id)
    assert merged.account_id != account_id
    deal = suite.opportunity.GetOpportunity(opp_svc.GetOpportunityRequest(opportunity_id=merged.opportunity_id), metadata=RM).opportunity
    note = opp_svc.CreateActivityRequest(
        request_id=rid(),
        kind=opportunity_pb2.ACTIVITY_KIND_NOTE,
        subject=f"Gọi {NAME}",
        notes=f"số 0{PHONE_MERGED}",
        opportunity_id=deal.opportunity_id,
    )
    suite.opportunity.CreateActivity(note, metadata=RM)
    # ...which a data steward merges into the first.
    merge = account_svc.MergeAccountsRequest(request_id=rid(), survivor_id=account_id, merged_id=merged.account_id, reason="same customer")
    suite.account.MergeAccounts(merge, metadata=STEWARD)
    # Leads nobody converted, sharing one identifier each with the account, written otherwise.
    leads = {
        "converted": converted_lead.lead_id,
        "merged_away": merged_lead.lead_id,
        "by_phone": unconverted_lead(suite, f"84-{PHONE_CONVERTED}", EMAIL_OTHER),
        "by_email": unconverted_lead(suite, f"0{PHONE_OTHER_1}", EMAIL_MERGED.upper()),
        "by_national_id": unconverted_lead(suite, f"0{PHONE_OTHER_2}", national_id=NATIONAL_ID),
    }
    return account_id, merged.account_id, leads


def dump(database_url: str) -> str:
    """The database as pg_dump writes it (bytea as hex), lower-cased."""
    url = make_url(database_url).set(drivername="postgresql")
    out = subprocess.run(["pg_dump", "--no-owner", url.render_as_string(hide_password=False)], capture_output=True, text=True, check=True)
    return out.stdout.lower()


def outbox_empty(database_url: str) -> bool:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(new_metadata().tables["outbox"])) or 0) == 0
    finally:
        engine.dispose()


def test_export_and_erasure_reach_every_record_of_the_person(suite) -> None:  # type: ignore[no-untyped-def]
    account_id, merged_id, leads = plant_person(suite)
    survivor = suite.account.GetAccount(account_svc.GetAccountRequest(account_id=account_id), metadata=DPO).account
    assert survivor.national_id == NATIONAL_ID and len(survivor.phones) == 2

    reply = suite.account.ExportPersonalData(account_svc.ExportPersonalDataRequest(account_id=account_id), metadata=DPO)
    document = json.loads(reply.document)
    assert sorted(document["services"]) == PII_SERVICES
    assert document["subject"] == {"account_id": account_id, "merged_account_ids": [merged_id]}
    assert {entry["lead"]["lead_id"] for entry in document["services"]["lead"]["leads"]} == set(leads.values())
    exported_deals = document["services"]["opportunity"]["opportunities"]
    assert {o["source_lead_id"] for o in exported_deals} == {leads["converted"], leads["merged_away"]}
    assert [a["subject"] for a in document["services"]["opportunity"]["activities"]] == [f"Gọi {NAME}"]
    changes = suite.account.ListAccountChanges(account_svc.ListAccountChangesRequest(account_id=account_id), metadata=RM).changes
    assert changes[0].kind == "DATA_EXPORTED"
    # Audited where it was asked (naming every account of the person) and by each participant.
    exports = [e for e in audit_entries(suite, "account", merged_id) if e.rpc.endswith("/ExportPersonalData")]
    assert [(e.subject, e.outcome, account_id in e.object_ids) for e in exports] == [("dpo-1", "OK", True)]
    for name in PII_SERVICES:
        if name != "account":

            def participant_export(name: str = name) -> list[tuple[str, str]]:
                found = audit_entries(suite, name, merged_id)
                return [(e.subject, e.outcome) for e in found if e.rpc == "/crm.privacy.v1.PersonalDataService/ExportPersonalData"]

            # A read is appended by the log's buffered writer, just after the call.
            wait_until(participant_export, what=f"{name}'s audit log to record its export")
            assert participant_export() == [("dpo-1", "OK")], name

    erasure = suite.account.RequestErasure(
        account_svc.RequestErasureRequest(request_id=rid(), account_id=account_id, reason="written request, ticket 88"), metadata=DPO
    ).erasure

    def completed() -> bool:
        found = suite.account.GetErasureRequest(account_svc.GetErasureRequestRequest(erasure_id=erasure.erasure_id), metadata=DPO).erasure
        return found.status == account_pb2.ERASURE_STATUS_COMPLETED

    wait_until(completed, what="every participant to confirm the erasure")
    done = suite.account.GetErasureRequest(account_svc.GetErasureRequestRequest(erasure_id=erasure.erasure_id), metadata=DPO).erasure
    assert sorted(done.confirmed_services) == [name for name in PII_SERVICES if name != "account"]

    for name, lead_id in leads.items():
        contact = suite.lead.GetLead(lead_svc.GetLeadRequest(lead_id=lead_id), metadata=MARKETING_ALL).lead.contact
        assert (contact.full_name, contact.phone.e164, contact.email, contact.national_id) == ("(erased)", "", "", ""), name

    databases = {name: spec.database_url for name, spec in suite.specs.items() if spec.database_url}
    wait_until(lambda: all(outbox_empty(url) for url in databases.values()), what="every outbox to drain")
    hits = {}
    for name, url in databases.items():
        text = dump(url)
        for canary in [*CANARIES, *index_canaries()]:
            for form in (canary.lower(), canary.lower().encode().hex()):
                if form in text:
                    hits.setdefault(name, []).append(canary)
    assert hits == {}, f"the erased person's values are still stored: {hits}"
