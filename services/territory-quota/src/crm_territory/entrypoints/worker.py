"""The event worker (nameko, eventlet): the territory-quota service's reactions to other services'
events. The quota half's handlers come from QuotaEventHandlers; the assignment half adds its own
(accounts re-evaluated on their change events, leads routed) beside them."""

from __future__ import annotations

from crm_common.events.consumer import EventContext, ServiceHandlers
from crm_territory.bootstrap import bootstrap
from crm_territory.config import TerritorySettings
from crm_territory.entrypoints.quota_worker import QuotaEventHandlers


class TerritoryWorker(QuotaEventHandlers):
    name = "territory-quota"
    context = EventContext()
    use_cases = ServiceHandlers(TerritorySettings, bootstrap)
