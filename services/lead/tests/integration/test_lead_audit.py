"""The audit log through the lead service's real gRPC API, on SQLite and PostgreSQL: a write and
its audit row commit together (capture: in its one statement), failed and refused calls and
reads are recorded, the caller's purpose is kept, compliance queries who touched a lead, and
`crm-lead audit verify` names a row edited behind the service's back."""

from __future__ import annotations

import re
import uuid

import grpc
import pytest
from sqlalchemy import select, text

from crm.audit.v1 import audit_service_pb2 as audit_svc
from crm.audit.v1 import audit_service_pb2_grpc
from crm.common.v1 import common_pb2
from crm.lead.v1 import lead_service_pb2 as svc
from crm_common.audit import PURPOSE_HEADER
from crm_common.cli import audit_command
from crm_common.grpc.status import field_violations
from crm_common.testing import bearer
from crm_lead.adapters.orm import metadata
from crm_lead.config import LeadSettings

AUDIT_LOG = metadata.tables["audit_log"]
CREATE = "/crm.lead.v1.LeadService/CreateLead"


def rid() -> str:
    return str(uuid.uuid4())


def audit_rows(app) -> list[dict]:
    """Every audit row, oldest first (without flushing the buffered writer)."""
    with app.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(AUDIT_LOG).order_by(AUDIT_LOG.c.id)).mappings()]


def recorded(app) -> list[dict]:
    app.audit.flush()
    return audit_rows(app)


def test_a_capture_and_its_audit_row_commit_together(lead_input, app) -> None:
    trace_id = uuid.uuid4().hex
    caller = [
        *bearer("web-1", ["web_capture"], client_id="landing-pages"),
        (PURPOSE_HEADER, "campaign:tet-2027"),
        ("traceparent", f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"),
    ]
    lead = app.stub.CreateLead(svc.CreateLeadRequest(request_id=rid(), lead=lead_input()), metadata=caller).lead
    # Before any flush of the buffered writer: the row is the capture's own.
    [row] = audit_rows(app)
    assert row["rpc"] == CREATE and row["service"] == "lead" and row["outcome"] == "OK"
    assert (row["subject"], row["roles"], row["client_id"], row["purpose"]) == ("web-1", ["web_capture"], "landing-pages", "campaign:tet-2027")
    assert row["object_ids"] == [lead.lead_id]
    assert row["trace_id"] == trace_id  # the caller's trace, continued by the server's span
    assert row["seal_seq"] is None
    assert app.audit.seal() == 1
    assert recorded(app)[0]["seal_seq"] == 1


def test_a_duplicate_capture_stores_nothing_but_its_refusal(lead_input, app, admin) -> None:
    app.stub.CreateLead(svc.CreateLeadRequest(request_id=rid(), lead=lead_input()), metadata=admin)
    with pytest.raises(grpc.RpcError) as refused:
        app.stub.CreateLead(svc.CreateLeadRequest(request_id=rid(), lead=lead_input()), metadata=admin)
    assert refused.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert app.count("leads") == 1
    assert [r["outcome"] for r in recorded(app)] == ["OK", "ALREADY_EXISTS"]


def test_a_change_commits_its_row_and_a_failed_one_leaves_only_its_row(lead_input, app, admin) -> None:
    lead = app.stub.CreateLead(svc.CreateLeadRequest(request_id=rid(), lead=lead_input()), metadata=admin).lead
    app.stub.AssignLead(svc.AssignLeadRequest(request_id=rid(), lead_id=lead.lead_id, owner_id="rm-a"), metadata=admin)
    assign = audit_rows(app)[-1]  # committed with the assignment, before any flush
    assert (assign["rpc"], assign["outcome"], assign["object_ids"]) == ("/crm.lead.v1.LeadService/AssignLead", "OK", [lead.lead_id, "rm-a"])

    before = app.stub.GetLead(svc.GetLeadRequest(lead_id=lead.lead_id), metadata=admin).lead
    with pytest.raises(grpc.RpcError) as failed:
        app.stub.DisqualifyLead(svc.DisqualifyLeadRequest(request_id=rid(), lead_id=lead.lead_id), metadata=admin)
    assert failed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    after = app.stub.GetLead(svc.GetLeadRequest(lead_id=lead.lead_id), metadata=admin).lead
    assert after == before
    rows = recorded(app)
    disqualify = [r for r in rows if r["rpc"].endswith("/DisqualifyLead")]
    assert [(r["outcome"], r["object_ids"]) for r in disqualify] == [("INVALID_ARGUMENT", [lead.lead_id])]


def test_reads_are_recorded_with_what_they_returned(lead_input, app, admin) -> None:
    first = app.stub.CreateLead(svc.CreateLeadRequest(request_id=rid(), lead=lead_input()), metadata=admin).lead
    second = app.stub.CreateLead(
        svc.CreateLeadRequest(request_id=rid(), lead=lead_input(phone="0987 654 321", email="binh@example.com")), metadata=admin
    ).lead
    # In the RM's book: an RM reads its own leads (data scopes).
    app.stub.AssignLead(svc.AssignLeadRequest(request_id=rid(), lead_id=first.lead_id, owner_id="rm-a"), metadata=admin)
    rm = [*bearer("rm-a", ["rm"]), (PURPOSE_HEADER, "complaint:CASE-123")]
    app.stub.GetLead(svc.GetLeadRequest(lead_id=first.lead_id), metadata=rm)
    app.stub.ListLeads(svc.ListLeadsRequest(page=common_pb2.PageRequest(page_size=10)), metadata=admin)
    with pytest.raises(grpc.RpcError):
        app.stub.GetLead(svc.GetLeadRequest(lead_id="no-such-lead"), metadata=admin)
    get, listed, missing = recorded(app)[3:]
    assert (get["rpc"], get["subject"], get["purpose"], get["object_ids"]) == (
        "/crm.lead.v1.LeadService/GetLead",
        "rm-a",
        "complaint:CASE-123",
        [first.lead_id],
    )
    assert listed["rpc"].endswith("/ListLeads") and set(listed["object_ids"]) >= {first.lead_id, second.lead_id}
    assert (missing["outcome"], missing["object_ids"]) == ("NOT_FOUND", ["no-such-lead"])


def test_refused_calls_are_recorded_and_unauthenticated_ones_are_not(lead_input, app, admin) -> None:
    lead = app.stub.CreateLead(svc.CreateLeadRequest(request_id=rid(), lead=lead_input()), metadata=admin).lead
    with pytest.raises(grpc.RpcError) as denied:
        app.stub.GetLead(svc.GetLeadRequest(lead_id=lead.lead_id), metadata=bearer("web-1", ["web_capture"]))
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as anonymous:
        app.stub.GetLead(svc.GetLeadRequest(lead_id=lead.lead_id))
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
    refused = recorded(app)[-1]
    assert len(recorded(app)) == 2
    assert (refused["subject"], refused["outcome"], refused["object_ids"]) == ("web-1", "PERMISSION_DENIED", [lead.lead_id])


def test_a_request_refused_for_control_characters_is_recorded(app, admin) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        app.stub.GetLead(svc.GetLeadRequest(lead_id="l-\x001"), metadata=admin)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    [row] = recorded(app)
    assert (row["outcome"], row["object_ids"]) == ("INVALID_ARGUMENT", ["l-\ufffd1"])


def test_a_purpose_is_a_code_not_free_text(lead_input, app, admin) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        app.stub.GetLead(svc.GetLeadRequest(lead_id="l-1"), metadata=[*admin, (PURPOSE_HEADER, "call Mr An about his loan")])
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in field_violations(refused.value)] == [PURPOSE_HEADER]


def test_compliance_queries_who_touched_a_lead_and_an_rm_may_not(lead_input, app, admin) -> None:
    audit = audit_service_pb2_grpc.AuditServiceStub(app.channel)
    lead = app.stub.CreateLead(svc.CreateLeadRequest(request_id=rid(), lead=lead_input()), metadata=admin).lead
    app.stub.AssignLead(svc.AssignLeadRequest(request_id=rid(), lead_id=lead.lead_id, owner_id="rm-a"), metadata=admin)
    app.stub.GetLead(svc.GetLeadRequest(lead_id=lead.lead_id), metadata=bearer("rm-a", ["rm"]))
    app.stub.CreateLead(svc.CreateLeadRequest(request_id=rid(), lead=lead_input(phone="0987 654 321", email="b@example.com")), metadata=admin)
    app.audit.flush()
    app.audit.seal()

    compliance = [*bearer("dpo-1", ["compliance"]), (PURPOSE_HEADER, "dsar:REQ-9")]
    reply = audit.QueryAuditLog(audit_svc.QueryAuditLogRequest(object_id=lead.lead_id), metadata=compliance)
    assert [(e.rpc.rsplit("/", 1)[1], e.subject, e.outcome) for e in reply.entries] == [
        ("GetLead", "rm-a", "OK"),
        ("AssignLead", "admin-1", "OK"),
        ("CreateLead", "admin-1", "OK"),
    ]
    assert all(e.seal_seq > 0 and e.service == "lead" and e.occur_time.seconds > 0 for e in reply.entries)
    assert not reply.page.next_page_token

    first = audit.QueryAuditLog(audit_svc.QueryAuditLogRequest(object_id=lead.lead_id, page=common_pb2.PageRequest(page_size=2)), metadata=compliance)
    rest = audit.QueryAuditLog(
        audit_svc.QueryAuditLogRequest(object_id=lead.lead_id, page=common_pb2.PageRequest(page_size=2, page_token=first.page.next_page_token)),
        metadata=compliance,
    )
    assert not rest.page.next_page_token
    assert [e.entry_id for e in [*first.entries, *rest.entries]] == [e.entry_id for e in reply.entries]
    by_rm = audit.QueryAuditLog(audit_svc.QueryAuditLogRequest(subject="rm-a"), metadata=compliance)
    assert [e.rpc for e in by_rm.entries] == ["/crm.lead.v1.LeadService/GetLead"]
    read_at = by_rm.entries[0].occur_time
    since_the_read = audit.QueryAuditLog(audit_svc.QueryAuditLogRequest(object_id=lead.lead_id, from_time=read_at), metadata=compliance)
    before_the_read = audit.QueryAuditLog(audit_svc.QueryAuditLogRequest(object_id=lead.lead_id, to_time=read_at), metadata=compliance)
    assert [e.rpc.rsplit("/", 1)[1] for e in since_the_read.entries] == ["GetLead"]
    assert [e.rpc.rsplit("/", 1)[1] for e in before_the_read.entries] == ["AssignLead", "CreateLead"]

    with pytest.raises(grpc.RpcError) as denied:
        audit.QueryAuditLog(audit_svc.QueryAuditLogRequest(object_id=lead.lead_id), metadata=bearer("rm-a", ["rm"]))
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # Looking at the log is recorded too, by what was asked.
    queries = [r for r in recorded(app) if r["rpc"] == "/crm.audit.v1.AuditService/QueryAuditLog"]
    assert [(r["subject"], r["outcome"]) for r in queries] == [("dpo-1", "OK")] * 6 + [("rm-a", "PERMISSION_DENIED")]
    assert queries[0]["purpose"] == "dsar:REQ-9" and queries[0]["object_ids"] == [lead.lead_id]
    assert (queries[-1]["subject"], queries[-1]["outcome"], queries[-1]["object_ids"]) == ("rm-a", "PERMISSION_DENIED", [lead.lead_id])


def test_audit_verify_names_a_row_edited_with_raw_sql(lead_input, app, admin, capsys: pytest.CaptureFixture[str]) -> None:
    settings = LeadSettings(database_url=app.engine.url.render_as_string(hide_password=False))
    for phone, email in [("0912 345 678", "a@example.com"), ("0987 654 321", "b@example.com"), ("0903 111 222", "c@example.com")]:
        app.stub.CreateLead(svc.CreateLeadRequest(request_id=rid(), lead=lead_input(phone=phone, email=email)), metadata=admin)
    app.stub.ListLeads(svc.ListLeadsRequest(), metadata=admin)
    app.audit.flush()  # `audit verify` seals what is pending itself

    assert audit_command("lead", settings, "verify") == 0
    assert "audit log OK: 4 row(s) chained" in capsys.readouterr().out

    with app.engine.connect() as conn:
        victim = conn.execute(select(AUDIT_LOG.c.id).where(AUDIT_LOG.c.seal_seq == 2)).scalar_one()
    with app.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET subject = 'someone-else' WHERE id = :id"), {"id": victim})
    assert audit_command("lead", settings, "verify") == 1
    out = capsys.readouterr().out
    assert f"BROKEN at seal_seq 2, id {victim}: edited" in out


def test_audit_verify_with_an_anchor_catches_deleted_newest_rows(lead_input, app, admin, capsys: pytest.CaptureFixture[str]) -> None:
    settings = LeadSettings(database_url=app.engine.url.render_as_string(hide_password=False))
    app.stub.CreateLead(svc.CreateLeadRequest(request_id=rid(), lead=lead_input()), metadata=admin)
    app.stub.ListLeads(svc.ListLeadsRequest(), metadata=admin)
    app.audit.flush()
    assert audit_command("lead", settings, "verify") == 0
    anchor = re.search(r"anchor (\d+:[0-9a-f]{64})", capsys.readouterr().out)
    assert anchor is not None
    with app.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seal_seq = 2"))
    assert audit_command("lead", settings, "verify", anchor.group(1)) == 1
    assert "BROKEN at seal_seq 2: deleted" in capsys.readouterr().out
