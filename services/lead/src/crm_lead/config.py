"""The lead service's settings: the shared ones plus its own, all from environment variables."""

from __future__ import annotations

from crm_common.settings import ServiceSettings
from crm_lead.service import SERVICE


class LeadSettings(ServiceSettings):
    service_name: str = SERVICE.name
    grpc_port: int = SERVICE.grpc_port
    metrics_port: int = SERVICE.metrics_port
    worker_metrics_port: int = SERVICE.worker_metrics_port
    relay_metrics_port: int = SERVICE.relay_metrics_port

    account_grpc_target: str = "127.0.0.1:50052"
    opportunity_grpc_target: str = "127.0.0.1:50053"
    # JSON file of scoring rules; empty uses the defaults shipped with the service.
    lead_scoring_rules_file: str = ""
    # First-contact SLA: hot leads (score >= LEAD_HOT_SCORE) must be contacted sooner.
    lead_first_contact_sla_minutes: int = 240
    lead_hot_first_contact_sla_minutes: int = 30
    lead_hot_score: int = 60
    # How often the API process resumes conversions a caller abandoned midway.
    lead_conversion_recovery_seconds: float = 30.0
