"""The opportunity worker: a real nameko service, with no event handlers yet."""

from __future__ import annotations

from crm_common.events.dead_letters import consumer_queues
from crm_opportunity.entrypoints.worker import OpportunityWorker


def test_the_worker_is_a_nameko_service_that_consumes_nothing_yet() -> None:
    assert OpportunityWorker.name == "opportunity"
    assert consumer_queues(OpportunityWorker) == []
