"""Composition root: wires the database and the event outbox into the use cases and the API.

The worker process (eventlet) builds the use cases only; gRPC is imported by build_api alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from crm_common.db import service_engine
from crm_common.events.outbox import RelayWakeup
from crm_common.lifecycle import Background, DatabaseHealth, PeriodicTask
from crm_opportunity.adapters.events import PRODUCER, ProtoOpportunityEvents
from crm_opportunity.adapters.orm import metadata
from crm_opportunity.config import OpportunitySettings
from crm_opportunity.domain.next_best_action import default_rules, load_rules
from crm_opportunity.domain.pipeline import load_pipelines
from crm_opportunity.service_layer.unit_of_work import OpportunityUnitOfWork
from crm_opportunity.service_layer.use_cases import OpportunityUseCases

if TYPE_CHECKING:
    from crm_common.grpc.server import ServiceBinding


def build_handlers(engine: Engine, wakeup: RelayWakeup | None = None, pipelines_file: str = "", rules_file: str = "") -> OpportunityUseCases:
    rules = load_rules(Path(rules_file).read_text(encoding="utf-8")) if rules_file else default_rules()
    return OpportunityUseCases.wire(
        uow=lambda: OpportunityUnitOfWork(engine, metadata, wakeup),
        events=ProtoOpportunityEvents(),
        pipelines=load_pipelines(pipelines_file),
        rules=rules,
    )


def build_api(settings: OpportunitySettings) -> tuple[list[ServiceBinding], list[Background]]:
    from crm.opportunity.v1 import opportunity_service_pb2, opportunity_service_pb2_grpc
    from crm_common.events.relay import outbox_relay
    from crm_common.grpc.server import ServiceBinding
    from crm_common.retention import platform_janitor
    from crm_opportunity.entrypoints.grpc_api import PERMISSIONS, OpportunityServicer

    engine = service_engine(settings)
    relay, wakeup = outbox_relay(settings, engine, metadata, PRODUCER)
    use_cases = build_handlers(engine, wakeup, settings.opportunity_pipelines_file, settings.opportunity_nba_rules_file)
    binding = ServiceBinding.for_service(
        opportunity_service_pb2.DESCRIPTOR.services_by_name["OpportunityService"],
        OpportunityServicer(use_cases),
        opportunity_service_pb2_grpc.add_OpportunityServiceServicer_to_server,
        PERMISSIONS,
    )
    nba_sweep = PeriodicTask("nba-sweep", settings.opportunity_nba_sweep_seconds, use_cases.next_best_actions.refresh_all_actions)
    return [binding], [DatabaseHealth(engine), relay, platform_janitor(settings, engine, metadata), nba_sweep]
