"""Two records of one customer are detected and merged; the opportunity service relinks the
merged account's opportunities when AccountsMerged reaches it. Real processes, PostgreSQL and
RabbitMQ."""

from __future__ import annotations

import uuid

from test_conversion_flow import RM, sql_lead

from crm.account.v1 import account_pb2
from crm.account.v1 import account_service_pb2 as account_svc
from crm.common.v1 import common_pb2
from crm.lead.v1 import lead_service_pb2 as lead_svc
from crm.opportunity.v1 import opportunity_service_pb2 as opp_svc
from crm_common.testing import bearer, wait_until

STEWARD = bearer("steward-1", ["data_steward"])


def test_duplicates_are_detected_merged_and_relinked(suite) -> None:  # type: ignore[no-untyped-def]
    lead = sql_lead(suite, "0912 555 020", "dup.one@example.com", name="Vương Thị Hằng")
    converted = suite.lead.ConvertLead(lead_svc.ConvertLeadRequest(request_id=str(uuid.uuid4()), lead_id=lead.lead_id), metadata=RM).conversion
    # The same customer, keyed again at a branch without diacritics and with another email.
    again = account_pb2.AccountInput(full_name="Vuong Thi Hang", phones=["0912555020"], emails=["hang.vuong@example.com"])
    branch = suite.account.CreateAccount(account_svc.CreateAccountRequest(request_id=str(uuid.uuid4()), account=again), metadata=RM).account

    opportunity = suite.opportunity.CreateOpportunity(
        opp_svc.CreateOpportunityRequest(
            request_id=str(uuid.uuid4()), account_id=branch.account_id, product=common_pb2.PRODUCT_TYPE_TERM_DEPOSIT, source_lead_id="walk-in-7"
        ),
        metadata=RM,
    ).opportunity

    queue = suite.account.ListDuplicateCandidates(account_svc.ListDuplicateCandidatesRequest(min_score=50), metadata=STEWARD).candidates
    pair = [c for c in queue if {c.account_id, c.other_id} == {branch.account_id, converted.account_id}]
    assert pair and any("shares phone" in reason for reason in pair[0].reasons)

    merge = account_svc.MergeAccountsRequest(
        request_id=str(uuid.uuid4()), survivor_id=converted.account_id, merged_id=branch.account_id, reason="same customer"
    )
    survivor = suite.account.MergeAccounts(merge, metadata=STEWARD).account
    assert sorted(survivor.emails) == ["dup.one@example.com", "hang.vuong@example.com"]
    resolved = suite.account.GetAccount(account_svc.GetAccountRequest(account_id=branch.account_id), metadata=RM).account
    assert resolved.account_id == converted.account_id

    def relinked() -> bool:
        found = suite.opportunity.GetOpportunity(opp_svc.GetOpportunityRequest(opportunity_id=opportunity.opportunity_id), metadata=RM)
        return found.opportunity.account_id == converted.account_id

    wait_until(relinked, what="the opportunity worker to relink after AccountsMerged")
    listing = suite.opportunity.ListOpportunities(opp_svc.ListOpportunitiesRequest(account_id=converted.account_id), metadata=RM)
    assert {o.source_lead_id for o in listing.opportunities} == {lead.lead_id, "walk-in-7"}


def test_a_merge_planned_done_and_undone_reaches_every_service(suite) -> None:  # type: ignore[no-untyped-def]
    """Dry run → merge → the lead and opportunity services relink → unmerge → everything back,
    and what the survivor gained after the merge stays with it."""
    lead = sql_lead(suite, "0912 555 030", "undo.one@example.com", name="Phan Thị Mai")
    converted = suite.lead.ConvertLead(lead_svc.ConvertLeadRequest(request_id=str(uuid.uuid4()), lead_id=lead.lead_id), metadata=RM).conversion
    again = account_pb2.AccountInput(full_name="Phan Thi Mai", phones=["0912555030"], emails=["mai.branch@example.com"])
    branch = suite.account.CreateAccount(account_svc.CreateAccountRequest(request_id=str(uuid.uuid4()), account=again), metadata=RM).account
    walk_in = opportunity(suite, branch.account_id, "walk-in-8")

    plan_request = account_svc.MergeAccountsRequest(survivor_id=branch.account_id, merged_id=converted.account_id, dry_run=True)
    plan = suite.account.MergeAccounts(plan_request, metadata=STEWARD).plan
    assert {m.service for m in plan.moves if m.relinked_on_event} == {"lead", "opportunity"}
    assert {d.field for d in plan.fields} >= {"full_name", "phones", "emails", "national_id"}
    assert account(suite, converted.account_id).account_id == converted.account_id  # the dry run wrote nothing

    merge = account_svc.MergeAccountsRequest(
        request_id=str(uuid.uuid4()), survivor_id=branch.account_id, merged_id=converted.account_id, reason="same customer"
    )
    suite.account.MergeAccounts(merge, metadata=STEWARD)
    assert account(suite, converted.account_id).account_id == branch.account_id
    wait_until(
        lambda: links(suite, lead.lead_id, converted.opportunity_id) == (branch.account_id, branch.account_id), what="lead and opportunity to relink"
    )
    since = opportunity(suite, branch.account_id, "walk-in-9")  # the survivor's, after the merge

    unmerge = account_svc.UnmergeAccountsRequest(request_id=str(uuid.uuid4()), merged_id=converted.account_id, reason="two customers")
    restored = suite.account.UnmergeAccounts(unmerge, metadata=STEWARD).account
    assert (restored.account_id, list(restored.emails)) == (converted.account_id, ["undo.one@example.com"])
    assert account(suite, converted.account_id).account_id == converted.account_id
    assert list(account(suite, branch.account_id).emails) == ["mai.branch@example.com"]
    back = (converted.account_id, converted.account_id)
    wait_until(lambda: links(suite, lead.lead_id, converted.opportunity_id) == back, what="lead and opportunity to move back")
    listing = suite.opportunity.ListOpportunities(opp_svc.ListOpportunitiesRequest(account_id=branch.account_id), metadata=RM)
    assert {o.opportunity_id for o in listing.opportunities} == {walk_in, since}


def account(suite, account_id: str) -> account_pb2.Account:  # type: ignore[no-untyped-def]
    return suite.account.GetAccount(account_svc.GetAccountRequest(account_id=account_id), metadata=RM).account


def opportunity(suite, account_id: str, source_lead_id: str) -> str:  # type: ignore[no-untyped-def]
    request = opp_svc.CreateOpportunityRequest(
        request_id=str(uuid.uuid4()), account_id=account_id, product=common_pb2.PRODUCT_TYPE_TERM_DEPOSIT, source_lead_id=source_lead_id
    )
    return str(suite.opportunity.CreateOpportunity(request, metadata=RM).opportunity.opportunity_id)


def links(suite, lead_id: str, opportunity_id: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """The account the lead and the opportunity point at."""
    lead = suite.lead.GetLead(lead_svc.GetLeadRequest(lead_id=lead_id), metadata=RM).lead
    found = suite.opportunity.GetOpportunity(opp_svc.GetOpportunityRequest(opportunity_id=opportunity_id), metadata=RM).opportunity
    return lead.conversion.account_id, found.account_id
