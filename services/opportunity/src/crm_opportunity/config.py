"""The opportunity service's settings: the shared ones with its own ports, all from environment variables."""

from __future__ import annotations

from crm_common.settings import ServiceSettings
from crm_opportunity.service import SERVICE


class OpportunitySettings(ServiceSettings):
    service_name: str = SERVICE.name
    grpc_port: int = SERVICE.grpc_port
    metrics_port: int = SERVICE.metrics_port
    worker_metrics_port: int = SERVICE.worker_metrics_port
    relay_metrics_port: int = SERVICE.relay_metrics_port
    # The bank's pipelines (JSON, the shape of crm_opportunity/data/pipelines.json); empty:
    # the seeded defaults. Checked at start.
    opportunity_pipelines_file: str = ""
    # The bank's next-best-action rules (JSON, the shape of data/nba_rules.json); empty: the
    # seeded defaults. Checked at start.
    opportunity_nba_rules_file: str = ""
    # How often the API recomputes every open opportunity's next best actions (idle and close-
    # date rules move with time, not with changes); each replica sweeps, the work is idempotent.
    opportunity_nba_sweep_seconds: float = 900.0
