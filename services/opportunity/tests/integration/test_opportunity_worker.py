"""The opportunity worker: its part of a data-subject erasure, on a real database (both backends)."""

from __future__ import annotations

from datetime import UTC, datetime

from nameko.testing.services import worker_factory
from sqlalchemy import select

from crm.account.v1 import events_pb2 as account_events
from crm.common.v1.common_pb2 import ErasureConfirmed
from crm_common.db import new_id
from crm_common.events.dead_letters import consumer_queues
from crm_common.events.envelope import new_event
from crm_common.testing import LiveService, delivery
from crm_opportunity.bootstrap import build_handlers
from crm_opportunity.entrypoints.worker import OpportunityWorker

CONSUMER = "opportunity.on_erasure_requested"


def test_the_worker_consumes_erasures_on_its_own_queue() -> None:
    assert OpportunityWorker.name == "opportunity"
    assert consumer_queues(OpportunityWorker) == ["evt-account-ErasureRequested--opportunity.on_erasure_requested"]


def test_an_erasure_is_confirmed_once(api: LiveService) -> None:
    worker: OpportunityWorker = worker_factory(OpportunityWorker, handlers=build_handlers(api.engine))
    event = new_event(account_events.ErasureRequested, "account", "erase-1", datetime.now(UTC), erasure_id=new_id(), account_id=new_id())
    assert worker.on_erasure_requested(delivery(event, CONSUMER)) == "0 opportunity(ies) hold no personal data"
    assert worker.on_erasure_requested(delivery(event, CONSUMER)) == "duplicate"
    outbox = api.metadata.tables["outbox"]
    with api.engine.connect() as conn:
        [payload] = conn.scalars(select(outbox.c.payload).where(outbox.c.event_type == "ErasureConfirmed"))
    confirmation = ErasureConfirmed.FromString(payload)
    assert (confirmation.erasure_id, confirmation.service, confirmation.metadata.producer) == (
        event.erasure_id,
        "opportunity",
        "opportunity",
    )
