"""The territory-quota service's entry in the suite's registry (crm_common.registry): read by every
process and every tool, so it imports nothing heavy (no grpc, sqlalchemy or nameko)."""

from __future__ import annotations

from crm_common.registry import ServiceDefinition

SERVICE = ServiceDefinition(
    name="territory-quota",
    package="crm_territory",
    description="the territory-quota service of the CRM suite",
    grpc_port=50054,
    metrics_port=9474,
    worker_metrics_port=9484,
    grpc_service="crm.territory.v1.TerritoryService",
    settings="crm_territory.config:TerritorySettings",
    bootstrap="crm_territory.bootstrap:bootstrap",
    migrations="crm_territory:migrations",
    # No events consumed yet: no worker process. When the service consumes its first event, add
    # entrypoints/worker.py and set worker_class (docs/adding-a-service.md).
    worker=False,
    # Permissions its RPCs check (Permission(name, meaning)) and the roles that get them.
    permissions=(),
    grants={},
)
