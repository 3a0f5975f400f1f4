"""The territory-quota service as the registry and the settings describe it (no I/O)."""

from __future__ import annotations

from crm_common.registry import service
from crm_common.settings import load_settings
from crm_territory.config import TerritorySettings
from crm_territory.service import SERVICE


def test_the_registry_finds_the_service_by_its_entry_point() -> None:
    assert service("territory-quota") == SERVICE


def test_local_ports_default_to_the_registry_entry() -> None:
    settings = load_settings(TerritorySettings)
    assert (settings.grpc_port, settings.metrics_port, settings.worker_metrics_port, settings.relay_metrics_port) == SERVICE.ports


def test_the_servicer_checks_only_declared_permissions() -> None:
    from crm_territory.entrypoints.grpc_api import PERMISSIONS

    assert {a.permission for a in PERMISSIONS.values() if a.permission} <= {p.name for p in SERVICE.permissions}
