"""`crm-opportunity api|worker|migrate|health|dlq`."""

from __future__ import annotations

from crm_common.cli import ServiceCommand

main = ServiceCommand(
    name="opportunity",
    settings="crm_opportunity.config:OpportunitySettings",
    api="crm_opportunity.bootstrap:build_api",
    worker="crm_opportunity.entrypoints.worker:OpportunityWorker",
    migrations="crm_opportunity:migrations",
).main
