"""The audit log across the real services: a conversion is recorded by every service it touched,
under the caller's identity and one trace id; compliance finds it by the customer's ids in each
service, and `crm-<service> audit verify` holds on every database the flows wrote."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

from crm.account.v1 import account_service_pb2 as account_svc
from crm.audit.v1 import audit_service_pb2 as audit_svc
from crm.audit.v1 import audit_service_pb2_grpc
from crm.common.v1 import common_pb2
from crm.lead.v1 import lead_pb2
from crm.lead.v1 import lead_service_pb2 as lead_svc
from crm_common.testing import bearer, wait_until

MARKETING = bearer("mkt-1", ["marketing"])
MANAGER = bearer("head-of-sales", ["branch_manager"], branches=["HCM-01"])
AGENT = bearer("agent-7", ["telesales"])
RM = [*bearer("rm-1", ["rm"]), ("x-crm-purpose", "onboarding:credit-card")]
COMPLIANCE = [*bearer("cmp-1", ["compliance"]), ("x-crm-purpose", "dsar:REQ-e2e")]


def rid() -> str:
    return str(uuid.uuid4())


def entries(suite, service: str, object_id: str) -> list[audit_svc.AuditEntry]:
    stub = audit_service_pb2_grpc.AuditServiceStub(suite.channels[service])
    return list(stub.QueryAuditLog(audit_svc.QueryAuditLogRequest(object_id=object_id), metadata=COMPLIANCE).entries)


def test_a_conversion_is_recorded_by_each_service_it_touched(suite) -> None:
    lead = suite.lead.CreateLead(
        lead_svc.CreateLeadRequest(
            request_id=rid(),
            lead=lead_pb2.LeadInput(
                contact=lead_pb2.ContactInput(full_name="Lê Văn Cường", phone="0977 000 333", email="cuong.audit@example.com"),
                product_interest=common_pb2.PRODUCT_TYPE_CREDIT_CARD,
                source=lead_pb2.LeadSource(channel=lead_pb2.CHANNEL_LANDING_PAGE, campaign_id="cmp-audit"),
            ),
        ),
        metadata=MARKETING,
    ).lead
    to_agent = lead_svc.AssignLeadRequest(request_id=rid(), lead_id=lead.lead_id, owner_id="agent-7", branch_id="HCM-01")
    suite.lead.AssignLead(to_agent, metadata=MANAGER)
    suite.lead.RecordContactAttempt(
        lead_svc.RecordContactAttemptRequest(
            request_id=rid(), lead_id=lead.lead_id, channel=lead_pb2.CONTACT_CHANNEL_PHONE, outcome=lead_pb2.CONTACT_OUTCOME_REACHED
        ),
        metadata=AGENT,
    )
    suite.lead.QualifyLead(lead_svc.QualifyLeadRequest(request_id=rid(), lead_id=lead.lead_id), metadata=AGENT)
    suite.lead.AssignLead(lead_svc.AssignLeadRequest(request_id=rid(), lead_id=lead.lead_id, owner_id="rm-1"), metadata=MANAGER)
    conversion = suite.lead.ConvertLead(lead_svc.ConvertLeadRequest(request_id=rid(), lead_id=lead.lead_id), metadata=RM).conversion
    suite.account.GetAccount(account_svc.GetAccountRequest(account_id=conversion.account_id), metadata=RM)

    at_lead = entries(suite, "lead", lead.lead_id)
    assert [(e.rpc.rsplit("/", 1)[1], e.subject) for e in reversed(at_lead)] == [
        ("CreateLead", "mkt-1"),
        ("AssignLead", "head-of-sales"),
        ("RecordContactAttempt", "agent-7"),
        ("QualifyLead", "agent-7"),
        ("AssignLead", "head-of-sales"),
        ("ConvertLead", "rm-1"),
    ]
    convert = at_lead[0]
    assert convert.outcome == "OK" and convert.purpose == "onboarding:credit-card"

    # The account service recorded the conversion's call and the RM's read, in its own log.
    def at_account() -> list[audit_svc.AuditEntry]:
        found = entries(suite, "account", conversion.account_id)
        return found if len(found) >= 2 else []

    account_entries = wait_until(at_account, what="the account service's audit rows (the read is written within 0.2 s)")
    by_rpc = {e.rpc.rsplit("/", 1)[1]: e for e in account_entries}
    assert by_rpc["GetAccount"].subject == "rm-1" and by_rpc["GetAccount"].purpose == "onboarding:credit-card"
    resolved = by_rpc["ResolvePersonAccount"]
    # Made by the lead service on the RM's behalf, within the conversion's trace.
    assert resolved.outcome == "OK" and resolved.trace_id == convert.trace_id
    assert [e.rpc.rsplit("/", 1)[1] for e in entries(suite, "opportunity", conversion.opportunity_id)] == ["CreateOpportunity"]


def test_audit_verify_holds_on_every_service(suite) -> None:
    for name in suite.specs:
        if not suite.specs[name].database_url:
            continue
        cli = str(Path(sys.executable).with_name(f"crm-{name}"))

        def verified(cli: str = cli, name: str = name) -> str:
            done = subprocess.run([cli, "audit", "verify"], env=suite.env(name), capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stdout + done.stderr
            return done.stdout

        assert "audit log OK" in verified()
