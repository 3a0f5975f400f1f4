"""Composition root: wires the database and the event outbox into the use cases and the API.

The worker process (eventlet) builds the use cases only; gRPC is imported by build_api alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from crm_account.adapters.events import PRODUCER, ProtoAccountEvents
from crm_account.adapters.orm import metadata
from crm_account.adapters.repository import PiiCodec
from crm_account.config import AccountSettings
from crm_account.domain.holdings import TierThresholds
from crm_account.domain.screening import load_watchlist
from crm_account.service_layer.unit_of_work import AccountUnitOfWork
from crm_account.service_layer.use_cases import AccountUseCases
from crm_common.db import service_engine
from crm_common.events.outbox import RelayWakeup
from crm_common.lifecycle import Background, DatabaseHealth, PeriodicTask
from crm_common.pii import load_pii

if TYPE_CHECKING:
    from crm_common.grpc.server import ServiceBinding


def build_handlers(engine: Engine, settings: AccountSettings, wakeup: RelayWakeup | None = None) -> AccountUseCases:
    pii = PiiCodec(*load_pii(settings.pii_keys, settings.pii_index_key))
    tiers = TierThresholds(settings.tier_affluent_aum_vnd, settings.tier_private_aum_vnd)
    watchlist = load_watchlist(Path(settings.account_watchlist_file)) if settings.account_watchlist_file else None
    return AccountUseCases.wire(
        uow=lambda: AccountUnitOfWork(engine, metadata, pii, wakeup),
        events=ProtoAccountEvents(),
        tiers=tiers,
        watchlist=watchlist,
        erasure_services=tuple(s.strip() for s in settings.account_erasure_services.split(",") if s.strip()),
    )


def build_api(settings: AccountSettings) -> tuple[list[ServiceBinding], list[Background]]:
    from crm.account.v1 import account_service_pb2, account_service_pb2_grpc
    from crm_account.entrypoints.grpc_api import PERMISSIONS, AccountServicer
    from crm_common.events.relay import outbox_relay
    from crm_common.grpc.server import ServiceBinding
    from crm_common.retention import platform_janitor

    engine = service_engine(settings)
    relay, wakeup = outbox_relay(settings, engine, metadata, PRODUCER)
    use_cases = build_handlers(engine, settings, wakeup)
    kyc_expiry = PeriodicTask("kyc-expiry", settings.kyc_expiry_sweep_seconds, use_cases.kyc.expire_kyc_reviews)
    binding = ServiceBinding.for_service(
        account_service_pb2.DESCRIPTOR.services_by_name["AccountService"],
        AccountServicer(use_cases),
        account_service_pb2_grpc.add_AccountServiceServicer_to_server,
        PERMISSIONS,
    )
    return [binding], [DatabaseHealth(engine), relay, platform_janitor(settings, engine, metadata), kyc_expiry]
