"""The account service's settings: the shared ones with its own ports, all from environment variables."""

from __future__ import annotations

from crm_common.settings import ServiceSettings


class AccountSettings(ServiceSettings):
    service_name: str = "account"
    grpc_port: int = 50052
    metrics_port: int = 9472
    worker_metrics_port: int = 9482
    # How often the API marks verifications whose periodic review is due EXPIRED.
    kyc_expiry_sweep_seconds: float = 60.0
    # Assets under management (VND) from which the derived value tier is AFFLUENT, PRIVATE.
    tier_affluent_aum_vnd: int = 1_000_000_000
    tier_private_aum_vnd: int = 25_000_000_000
    # The sanctions/PEP list the bank supplies (.csv or .jsonl, domain/screening.py); empty:
    # accounts are not screened. Read at start: roll the pods out to load a new list.
    account_watchlist_file: str = ""
    # The services that hold copies of a person's data: an erasure completes when each has
    # published ErasureConfirmed (comma-separated).
    account_erasure_services: str = "lead,opportunity"
