"""The territory-quota service's settings: the shared ones with its own ports, all from environment variables."""

from __future__ import annotations

from crm_common.settings import ServiceSettings


class TerritorySettings(ServiceSettings):
    service_name: str = "territory-quota"
    grpc_port: int = 50054
    metrics_port: int = 9474
    worker_metrics_port: int = 9484
    relay_metrics_port: int = 9494
