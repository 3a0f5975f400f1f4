"""`crm-lead`: api, worker, migrate, health, dlq, pii."""

from crm_common.cli import ServiceCommand

main = ServiceCommand(
    name="lead",
    settings="crm_lead.config:LeadSettings",
    api="crm_lead.bootstrap:build_api",
    worker="crm_lead.entrypoints.worker:LeadWorker",
    migrations="crm_lead:migrations",
    pii="crm_lead.adapters.pii_maintenance",
).main
