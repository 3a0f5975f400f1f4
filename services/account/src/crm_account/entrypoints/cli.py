"""`crm-account api|worker|migrate|health|dlq|pii`."""

from __future__ import annotations

from crm_common.cli import ServiceCommand

main = ServiceCommand(
    name="account",
    settings="crm_account.config:AccountSettings",
    api="crm_account.bootstrap:build_api",
    worker="crm_account.entrypoints.worker:AccountWorker",
    migrations="crm_account:migrations",
    pii="crm_account.adapters.pii_maintenance",
).main
