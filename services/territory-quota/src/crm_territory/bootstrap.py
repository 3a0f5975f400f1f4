"""Composition root: wires the database and the event outbox into the use cases and the API.

`bootstrap` is the one entry the API, the worker, the CLI and the tests use (crm_common.app).
gRPC is imported with serve=True alone: the worker process (eventlet) must never load it.
"""

from __future__ import annotations

from typing import Any

from crm_common.app import Application
from crm_common.db import service_engine
from crm_common.lifecycle import Background, DatabaseHealth
from crm_territory.adapters.events import PRODUCER
from crm_territory.adapters.orm import metadata
from crm_territory.config import TerritorySettings
from crm_territory.service_layer.unit_of_work import TerritoryUnitOfWork
from crm_territory.service_layer.use_cases import TerritoryUseCases


def bootstrap(settings: TerritorySettings, *, serve: bool = False, **adapters: Any) -> Application[TerritoryUseCases]:
    """The territory-quota service wired from its settings; `serve=True` (the API process) adds the
    gRPC binding, the outbox relay and the platform's janitor."""
    engine = service_engine(settings)
    if not serve:
        return Application(settings, engine, TerritoryUseCases.wire(uow=lambda: TerritoryUnitOfWork(engine, metadata), **adapters))

    from crm.territory.v1 import territory_service_pb2, territory_service_pb2_grpc
    from crm_common.events.relay import outbox_relay
    from crm_common.grpc.server import ServiceBinding
    from crm_common.retention import platform_janitor
    from crm_territory.entrypoints.grpc_api import PERMISSIONS, TerritoryServicer

    relay, wakeup = outbox_relay(settings, engine, metadata, PRODUCER)
    use_cases = TerritoryUseCases.wire(uow=lambda: TerritoryUnitOfWork(engine, metadata, wakeup), **adapters)
    binding = ServiceBinding.for_service(
        territory_service_pb2.DESCRIPTOR.services_by_name["TerritoryService"],
        TerritoryServicer(use_cases),
        territory_service_pb2_grpc.add_TerritoryServiceServicer_to_server,
        PERMISSIONS,
    )
    background: list[Background] = [DatabaseHealth(engine), relay, platform_janitor(settings, engine, metadata)]
    return Application(settings, engine, use_cases, [binding], background)
