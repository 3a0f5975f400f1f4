"""The opportunity service's settings: the shared ones with its own ports, all from environment variables."""

from __future__ import annotations

from crm_common.settings import ServiceSettings


class OpportunitySettings(ServiceSettings):
    service_name: str = "opportunity"
    grpc_port: int = 50053
    metrics_port: int = 9473
    worker_metrics_port: int = 9483
