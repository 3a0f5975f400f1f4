"""Composition root: wires the database, the event outbox and the other services into the use cases.

`bootstrap` is the one entry the API, the worker, the CLI and the tests use (crm_common.app).
gRPC is imported with serve=True alone: the worker process (eventlet) must never load it.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from crm_common.app import Application
from crm_common.auth import Principal, issue_token, use_principal
from crm_common.db import group_commit
from crm_common.errors import Unavailable
from crm_common.events.outbox import RelayWakeup
from crm_common.lifecycle import Background, DatabaseHealth, PeriodicTask
from crm_common.pii import PiiCodec
from crm_lead.adapters.events import PRODUCER, ProtoLeadEvents
from crm_lead.adapters.orm import metadata
from crm_lead.config import LeadSettings
from crm_lead.domain.assignment import FirstContactSla
from crm_lead.domain.scoring import ScoringRules
from crm_lead.service_layer.ports import AccountDirectory, NewOpportunity, OpportunityBook, ResolvedAccount
from crm_lead.service_layer.unit_of_work import LeadUnitOfWork
from crm_lead.service_layer.use_cases import LeadUseCases


class _NoPeers:
    """The worker process does not convert leads (conversion calls other services over gRPC)."""

    def resolve_person(self, *args: object, **kwargs: object) -> ResolvedAccount:
        raise Unavailable("lead conversion runs in the lead API process")

    def create(self, opportunity: NewOpportunity) -> str:
        raise Unavailable("lead conversion runs in the lead API process")


def build_handlers(
    settings: LeadSettings,
    engine: Engine,
    wakeup: RelayWakeup | None = None,
    accounts: AccountDirectory | None = None,
    opportunities: OpportunityBook | None = None,
) -> LeadUseCases:
    pii = PiiCodec.from_settings(settings.pii_keys, settings.pii_index_key)
    captures = group_commit(settings, engine, "lead-capture")
    return LeadUseCases.wire(
        uow=lambda **options: LeadUnitOfWork(engine, metadata, pii, wakeup, group_commit=captures, **options),
        events=ProtoLeadEvents(),
        accounts=accounts or _NoPeers(),
        opportunities=opportunities or _NoPeers(),
        rules=ScoringRules.load(settings.lead_scoring_rules_file),
        sla=FirstContactSla(settings.lead_first_contact_sla_minutes, settings.lead_hot_first_contact_sla_minutes, settings.lead_hot_score),
    )


def conversion_recovery(use_cases: LeadUseCases, every_seconds: float) -> PeriodicTask:
    """Completes, as the lead service itself, conversions that stopped midway (a peer was down, the caller left)."""

    def resume() -> None:
        with use_principal(Principal("service:lead", ("service",))):
            use_cases.conversion.resume_stalled_conversions(timedelta(seconds=every_seconds))

    return PeriodicTask("conversion-recovery", every_seconds, resume)


def bootstrap(
    settings: LeadSettings,
    *,
    serve: bool = False,
    accounts: AccountDirectory | None = None,
    opportunities: OpportunityBook | None = None,
) -> Application[LeadUseCases]:
    """The lead service wired from its settings. `serve=True` (the API process): with the gRPC
    binding, the peers over gRPC unless given, the outbox relay and the periodic jobs."""
    from crm_common.db import service_engine

    engine = service_engine(settings)
    if not serve:
        return Application(settings, engine, build_handlers(settings, engine, accounts=accounts, opportunities=opportunities))

    from crm.lead.v1 import lead_service_pb2, lead_service_pb2_grpc
    from crm_common.events.relay import outbox_relay
    from crm_common.grpc.client import open_channel
    from crm_common.grpc.personal_data import personal_data_binding
    from crm_common.grpc.server import ServiceBinding
    from crm_common.retention import platform_janitor
    from crm_lead.adapters.clients import GrpcAccountDirectory, GrpcOpportunityBook
    from crm_lead.entrypoints.grpc_api import PERMISSIONS, LeadServicer
    from crm_lead.entrypoints.personal_data import LeadPersonalData

    def service_token() -> str:
        # The service's own identity, for calls no user made (the conversion recovery loop).
        return issue_token(
            "service:lead", ["service"], settings.jwt_key, settings.jwt_algorithm, settings.jwt_issuer, settings.jwt_audience, ttl_seconds=300
        )

    relay, wakeup = outbox_relay(settings, engine, metadata, PRODUCER)
    use_cases = build_handlers(
        settings,
        engine,
        wakeup,
        accounts or GrpcAccountDirectory(open_channel(settings.account_grpc_target, service_token)),
        opportunities or GrpcOpportunityBook(open_channel(settings.opportunity_grpc_target, service_token)),
    )
    binding = ServiceBinding.for_service(
        lead_service_pb2.DESCRIPTOR.services_by_name["LeadService"],
        LeadServicer(use_cases),
        lead_service_pb2_grpc.add_LeadServiceServicer_to_server,
        PERMISSIONS,
    )
    background: list[Background] = [
        DatabaseHealth(engine),
        relay,
        platform_janitor(settings, engine, metadata),
        conversion_recovery(use_cases, settings.lead_conversion_recovery_seconds),
    ]
    # Its section of a person's export (it holds personal data: crm_common.privacy).
    privacy = personal_data_binding(settings.service_name, LeadPersonalData(use_cases))
    return Application(settings, engine, use_cases, [binding, privacy], background)
