"""The event worker (nameko, eventlet): the opportunity service's reactions to other services' events.

None yet: lead conversion calls this service synchronously. The worker runs anyway, so
deployments, health checks and `crm-opportunity dlq` are in place when the first handler
(won/lost from the LOS, account merges) arrives.
"""

from __future__ import annotations

from crm_common.events.consumer import EventContext


class OpportunityWorker:
    name = "opportunity"
    context = EventContext()
