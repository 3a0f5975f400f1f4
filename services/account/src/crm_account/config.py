"""The account service's settings: the shared ones with its own ports, all from environment variables."""

from __future__ import annotations

from pydantic import Field

from crm_account.service import SERVICE
from crm_common.settings import ServiceSettings


class AccountSettings(ServiceSettings):
    service_name: str = SERVICE.name
    grpc_port: int = SERVICE.grpc_port
    metrics_port: int = SERVICE.metrics_port
    worker_metrics_port: int = SERVICE.worker_metrics_port
    relay_metrics_port: int = SERVICE.relay_metrics_port
    # How often the API marks verifications whose periodic review is due EXPIRED.
    kyc_expiry_sweep_seconds: float = 60.0
    # Assets under management (VND) from which the derived value tier is AFFLUENT, PRIVATE.
    tier_affluent_aum_vnd: int = 1_000_000_000
    tier_private_aum_vnd: int = 25_000_000_000
    # The sanctions/PEP list the bank supplies (.csv or .jsonl, domain/screening.py); empty:
    # accounts are not screened. Read at start: roll the pods out to load a new list.
    account_watchlist_file: str = ""
    # The services that hold copies of a person's data: an erasure completes when each has
    # published ErasureConfirmed (comma-separated). Unset: every other service of the suite
    # that holds a person's data (the registry's `pii` services, or CRM_PII_SERVICES).
    account_erasure_services: str | None = None
    # How long a merge can be undone (UnmergeAccounts), in days; 0: merges are final.
    account_unmerge_window_days: int = Field(default=30, ge=0)
    # The services that relink their records of a merged-away account (AccountsMerged), named
    # in a merge's dry-run plan (comma-separated). Unset: the installed registry's services
    # that consume AccountsMerged; set it where only this service is installed (a Kubernetes
    # image). Relinking itself is event-driven and does not read this.
    account_relink_services: str | None = None
