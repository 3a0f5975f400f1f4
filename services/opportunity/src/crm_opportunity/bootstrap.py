"""Composition root: wires the database, the PII codec and the event outbox into the use cases and the API.

`bootstrap` is the one entry the API, the worker, the CLI and the tests use (crm_common.app).
gRPC is imported with serve=True alone: the worker process (eventlet) must never load it.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from crm_common.app import Application
from crm_common.db import service_engine
from crm_common.events.outbox import RelayWakeup
from crm_common.lifecycle import Background, DatabaseHealth, PeriodicTask
from crm_common.pii import PiiCodec
from crm_opportunity.adapters.events import PRODUCER, ProtoOpportunityEvents
from crm_opportunity.adapters.orm import metadata
from crm_opportunity.config import OpportunitySettings
from crm_opportunity.domain.next_best_action import default_rules, load_rules
from crm_opportunity.domain.pipeline import load_pipelines
from crm_opportunity.service_layer.unit_of_work import OpportunityUnitOfWork
from crm_opportunity.service_layer.use_cases import OpportunityUseCases


def build_handlers(settings: OpportunitySettings, engine: Engine, wakeup: RelayWakeup | None = None) -> OpportunityUseCases:
    rules_file = settings.opportunity_nba_rules_file
    rules = load_rules(Path(rules_file).read_text(encoding="utf-8")) if rules_file else default_rules()
    # Activity subjects, notes and outcomes are sealed with the suite's key ring (PII_KEYS).
    pii = PiiCodec.from_settings(settings.pii_keys, settings.pii_index_key)
    return OpportunityUseCases.wire(
        uow=lambda: OpportunityUnitOfWork(engine, metadata, pii, wakeup),
        events=ProtoOpportunityEvents(),
        pipelines=load_pipelines(settings.opportunity_pipelines_file),
        rules=rules,
    )


def bootstrap(settings: OpportunitySettings, *, serve: bool = False) -> Application[OpportunityUseCases]:
    """The opportunity service wired from its settings (pipelines and next-best-action rules
    included, in the worker too); `serve=True` (the API process) adds the gRPC binding, the
    outbox relay and the periodic jobs."""
    engine = service_engine(settings)
    if not serve:
        return Application(settings, engine, build_handlers(settings, engine))

    from crm.opportunity.v1 import opportunity_service_pb2, opportunity_service_pb2_grpc
    from crm_common.events.relay import outbox_relay
    from crm_common.grpc.personal_data import personal_data_binding
    from crm_common.grpc.server import ServiceBinding
    from crm_common.retention import platform_janitor
    from crm_opportunity.entrypoints.grpc_api import PERMISSIONS, OpportunityServicer
    from crm_opportunity.entrypoints.personal_data import OpportunityPersonalData

    relay, wakeup = outbox_relay(settings, engine, metadata, PRODUCER)
    use_cases = build_handlers(settings, engine, wakeup)
    binding = ServiceBinding.for_service(
        opportunity_service_pb2.DESCRIPTOR.services_by_name["OpportunityService"],
        OpportunityServicer(use_cases),
        opportunity_service_pb2_grpc.add_OpportunityServiceServicer_to_server,
        PERMISSIONS,
    )
    nba_sweep = PeriodicTask("nba-sweep", settings.opportunity_nba_sweep_seconds, use_cases.next_best_actions.refresh_all_actions)
    background: list[Background] = [DatabaseHealth(engine), relay, platform_janitor(settings, engine, metadata), nba_sweep]
    # Its section of a person's export (it holds personal data: crm_common.privacy).
    privacy = personal_data_binding(settings.service_name, OpportunityPersonalData(use_cases))
    return Application(settings, engine, use_cases, [binding, privacy], background)
