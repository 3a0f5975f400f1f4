"""Composition root: wires the database and the event outbox into the use cases and the API.

`bootstrap` is the one entry the API, the worker, the CLI and the tests use (crm_common.app).
gRPC is imported with serve=True alone: the worker process (eventlet) must never load it.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine

from crm_account.adapters.events import PRODUCER, ProtoAccountEvents
from crm_account.adapters.orm import metadata
from crm_account.config import AccountSettings
from crm_account.domain.holdings import TierThresholds
from crm_account.domain.screening import load_watchlist
from crm_account.service_layer.privacy import PersonalDataSections
from crm_account.service_layer.unit_of_work import AccountUnitOfWork
from crm_account.service_layer.use_cases import AccountUseCases
from crm_common import registry
from crm_common.app import Application
from crm_common.db import service_engine
from crm_common.events.outbox import RelayWakeup
from crm_common.lifecycle import Background, DatabaseHealth, PeriodicTask
from crm_common.pii import PiiCodec
from crm_common.registry import ConsumedEvent, privacy_participants


def build_handlers(
    engine: Engine, settings: AccountSettings, wakeup: RelayWakeup | None = None, personal_data: PersonalDataSections | None = None
) -> AccountUseCases:
    pii = PiiCodec.from_settings(settings.pii_keys, settings.pii_index_key)
    tiers = TierThresholds(settings.tier_affluent_aum_vnd, settings.tier_private_aum_vnd)
    watchlist = load_watchlist(Path(settings.account_watchlist_file)) if settings.account_watchlist_file else None
    return AccountUseCases.wire(
        uow=lambda: AccountUnitOfWork(engine, metadata, pii, wakeup),
        events=ProtoAccountEvents(),
        tiers=tiers,
        watchlist=watchlist,
        erasure_services=erasure_services(settings),
        personal_data=personal_data,
        relink_services=relink_services(settings),
        unmerge_window=timedelta(days=settings.account_unmerge_window_days),
    )


def erasure_services(settings: AccountSettings) -> tuple[str, ...]:
    """The services taking part in a person's erasure and export: ACCOUNT_ERASURE_SERVICES when
    set; otherwise every other service of the suite that holds a person's data (CRM_PII_SERVICES,
    else the installed registry's `pii` services)."""
    if settings.account_erasure_services is not None:
        return tuple(s.strip() for s in settings.account_erasure_services.split(",") if s.strip())
    return privacy_participants(settings.service_name, settings.suite_pii_services())


def relink_services(settings: AccountSettings) -> tuple[str, ...]:
    """ACCOUNT_RELINK_SERVICES when set; otherwise the installed services that declare they
    consume AccountsMerged (the registry's `consumes`)."""
    if settings.account_relink_services is not None:
        return tuple(s.strip() for s in settings.account_relink_services.split(",") if s.strip())
    merged = ConsumedEvent(settings.service_name, "AccountsMerged")
    return tuple(d.name for d in registry.services() if merged in d.consumes)


def bootstrap(settings: AccountSettings, *, serve: bool = False, personal_data: PersonalDataSections | None = None) -> Application[AccountUseCases]:
    """The account service wired from its settings; `serve=True` (the API process) adds the gRPC
    binding, the participants' export client (unless `personal_data` is given), the outbox relay
    and the periodic jobs."""
    engine = service_engine(settings)
    if not serve:
        return Application(settings, engine, build_handlers(engine, settings))

    from crm.account.v1 import account_service_pb2, account_service_pb2_grpc
    from crm_account.entrypoints.grpc_api import PERMISSIONS, AccountServicer
    from crm_common.events.relay import outbox_relay
    from crm_common.grpc.personal_data import PersonalDataClient, participant_targets
    from crm_common.grpc.server import ServiceBinding
    from crm_common.retention import platform_janitor

    relay, wakeup = outbox_relay(settings, engine, metadata, PRODUCER)
    if personal_data is None:
        personal_data = PersonalDataClient(participant_targets(erasure_services(settings)))
    use_cases = build_handlers(engine, settings, wakeup, personal_data)
    kyc_expiry = PeriodicTask("kyc-expiry", settings.kyc_expiry_sweep_seconds, use_cases.kyc.expire_kyc_reviews)
    binding = ServiceBinding.for_service(
        account_service_pb2.DESCRIPTOR.services_by_name["AccountService"],
        AccountServicer(use_cases),
        account_service_pb2_grpc.add_AccountServiceServicer_to_server,
        PERMISSIONS,
    )
    background: list[Background] = [DatabaseHealth(engine), relay, platform_janitor(settings, engine, metadata), kyc_expiry]
    return Application(settings, engine, use_cases, [binding], background)
