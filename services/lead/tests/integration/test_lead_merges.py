"""The lead worker follows the account service's merges: a merge relinks the merged account's
leads to the survivor, an unmerge moves back exactly those; on a real database (both backends)."""

from __future__ import annotations

from datetime import UTC, datetime

from nameko.testing.services import worker_factory
from sqlalchemy import select, update

from crm.account.v1 import events_pb2 as account_events
from crm.lead.v1 import lead_service_pb2
from crm_common.db import new_id
from crm_common.events.dead_letters import consumer_queues
from crm_common.events.envelope import new_event
from crm_common.testing import delivery
from crm_lead.adapters.orm import leads
from crm_lead.entrypoints.worker import LeadWorker

MERGED, UNMERGED = "lead.on_accounts_merged", "lead.on_accounts_unmerged"


def converted_into(app, admin, lead_input, account_id: str, phone: str) -> str:  # type: ignore[no-untyped-def]
    """A lead converted into `account_id` (the account link set as conversion sets it)."""
    request = lead_service_pb2.CreateLeadRequest(request_id=new_id(), lead=lead_input(phone=phone, email=f"{phone}@example.vn"))
    lead_id = str(app.stub.CreateLead(request, metadata=admin).lead.lead_id)
    with app.engine.begin() as conn:
        conn.execute(update(leads).where(leads.c.lead_id == lead_id).values(account_id=account_id))
    return lead_id


def accounts_of(app) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with app.engine.connect() as conn:
        return {r.lead_id: r.account_id for r in conn.execute(select(leads.c.lead_id, leads.c.account_id))}


def merge_events(merged_id: str, survivor_id: str) -> tuple[account_events.AccountsMerged, account_events.AccountsUnmerged]:
    merge_id, now = new_id(), datetime.now(UTC)
    ids = {"survivor_id": survivor_id, "merged_id": merged_id, "merge_id": merge_id}
    return new_event(account_events.AccountsMerged, "account", "m-1", now, **ids), new_event(
        account_events.AccountsUnmerged, "account", "u-1", now, **ids
    )


def test_a_merge_relinks_the_leads_and_an_unmerge_moves_back_exactly_those(app, admin, lead_input) -> None:  # type: ignore[no-untyped-def]
    merged_id, survivor_id = new_id(), new_id()
    first = converted_into(app, admin, lead_input, merged_id, "0912345678")
    second = converted_into(app, admin, lead_input, merged_id, "0912345679")
    own = converted_into(app, admin, lead_input, survivor_id, "0912345670")
    worker: LeadWorker = worker_factory(LeadWorker, use_cases=app.use_cases)
    merged, unmerged = merge_events(merged_id, survivor_id)

    assert worker.on_accounts_merged(delivery(merged, MERGED)) == "2 leads and 0 conversions relinked"
    assert worker.on_accounts_merged(delivery(merged, MERGED)) == "duplicate"
    assert {accounts_of(app)[i] for i in (first, second, own)} == {survivor_id}

    later = converted_into(app, admin, lead_input, survivor_id, "0912345671")  # the survivor's, after the merge
    assert worker.on_accounts_unmerged(delivery(unmerged, UNMERGED)) == "2 leads and 0 conversions moved back"
    assert worker.on_accounts_unmerged(delivery(unmerged, UNMERGED)) == "duplicate"
    now = accounts_of(app)
    assert (now[first], now[second], now[own], now[later]) == (merged_id, merged_id, survivor_id, survivor_id)


def test_an_unmerge_delivered_before_its_merge_leaves_the_leads_where_they_are(app, admin, lead_input) -> None:  # type: ignore[no-untyped-def]
    merged_id, survivor_id = new_id(), new_id()
    lead_id = converted_into(app, admin, lead_input, merged_id, "0912345678")
    worker: LeadWorker = worker_factory(LeadWorker, use_cases=app.use_cases)
    merged, unmerged = merge_events(merged_id, survivor_id)
    assert worker.on_accounts_unmerged(delivery(unmerged, UNMERGED)) == "0 leads and 0 conversions moved back"
    assert worker.on_accounts_merged(delivery(merged, MERGED)) == "already unmerged"
    assert accounts_of(app)[lead_id] == merged_id


def test_the_worker_listens_on_its_own_queues() -> None:
    queues = consumer_queues(LeadWorker)
    assert "evt-account-AccountsMerged--lead.on_accounts_merged" in queues
    assert "evt-account-AccountsUnmerged--lead.on_accounts_unmerged" in queues
