"""A data-subject erasure across the suite: the account service anonymises at once, announces
it, the lead and opportunity workers anonymise their copies and confirm over RabbitMQ, and the
request completes. Real processes, PostgreSQL databases and broker."""

from __future__ import annotations

import uuid

from test_conversion_flow import RM, sql_lead

from crm.account.v1 import account_pb2
from crm.account.v1 import account_service_pb2 as account_svc
from crm.lead.v1 import lead_service_pb2 as lead_svc
from crm_common.testing import bearer, wait_until

DPO = bearer("dpo-1", ["privacy_officer"])
MARKETING_ALL = bearer("mkt-1", ["marketing"])


def test_an_erasure_reaches_every_store_and_completes(suite) -> None:  # type: ignore[no-untyped-def]
    lead = sql_lead(suite, "0912 555 010", "erase.me@example.com", name="Hoàng Thị Xoá")
    converted = suite.lead.ConvertLead(lead_svc.ConvertLeadRequest(request_id=str(uuid.uuid4()), lead_id=lead.lead_id), metadata=RM)
    account_id = converted.conversion.account_id

    request = account_svc.RequestErasureRequest(request_id=str(uuid.uuid4()), account_id=account_id, reason="customer's written request")
    erasure = suite.account.RequestErasure(request, metadata=DPO).erasure
    assert erasure.status == account_pb2.ERASURE_STATUS_IN_PROGRESS
    account = suite.account.GetAccount(account_svc.GetAccountRequest(account_id=account_id), metadata=RM).account
    assert (account.full_name, list(account.phones), list(account.emails)) == ("(erased)", [], [])

    def completed() -> bool:
        found = suite.account.GetErasureRequest(account_svc.GetErasureRequestRequest(erasure_id=erasure.erasure_id), metadata=DPO).erasure
        return found.status == account_pb2.ERASURE_STATUS_COMPLETED

    wait_until(completed, what="the lead and opportunity workers to confirm the erasure")
    done = suite.account.GetErasureRequest(account_svc.GetErasureRequestRequest(erasure_id=erasure.erasure_id), metadata=DPO).erasure
    assert sorted(done.confirmed_services) == ["lead", "opportunity"]
    erased_lead = suite.lead.GetLead(lead_svc.GetLeadRequest(lead_id=lead.lead_id), metadata=MARKETING_ALL).lead
    assert erased_lead.contact.full_name == "(erased)" and not erased_lead.contact.email
    assert not erased_lead.contact.phone.e164
