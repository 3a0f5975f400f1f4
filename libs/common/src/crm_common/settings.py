"""Settings from environment variables (12-factor), validated once at start.

Each service subclasses `ServiceSettings`; `load_settings` turns a validation failure into one
clear message naming the environment variables at fault, so a misconfigured pod fails at start.
"""

from __future__ import annotations

import os
from typing import Literal, TypeVar

from pydantic import ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from crm_common.pii import DEV_PII_INDEX_KEY, DEV_PII_KEYS, BlindIndex, KeyRing, PiiKeyError

# Dev-only HS256 key: `crmctl token` signs with it; refused when CRM_ENV=production.
DEV_JWT_KEY = "crm-dev-only-signing-key-never-use-in-production-0123456789"


class ConfigError(SystemExit):
    """Raised at start when the environment is unusable; the message names the variables."""


class ServiceSettings(BaseSettings):
    # hide_input_in_errors: a ValidationError must not print key material in a traceback.
    model_config = SettingsConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)

    # Set by each service subclass: the short service name (lead, account, ...).
    service_name: str = ""
    crm_env: Literal["dev", "test", "production"] = "dev"

    # SQLite file by default; PostgreSQL with postgresql+psycopg://...
    database_url: str = ""
    database_pool_size: int = 16
    # Hot single-statement writes (lead capture) arriving together share one transaction, at
    # most this many (crm_common.group_commit); 0 or 1: each commits alone (the default). It
    # trades the API's CPU for the database's: turn it on where the primary's CPU binds.
    database_group_commit_max: int = 0
    amqp_uri: str = "amqp://guest:guest@127.0.0.1:5672/%2F"

    grpc_host: str = "127.0.0.1"
    grpc_port: int = 50051
    grpc_max_workers: int = 16
    # In-flight calls above this are refused with RESOURCE_EXHAUSTED instead of queueing.
    grpc_max_concurrent_rpcs: int = 64
    # After SIGTERM, how long readiness reports NOT_SERVING while calls are still served, so load
    # balancers and Kubernetes endpoints stop routing here before the server refuses calls.
    grpc_drain_seconds: float = 5.0
    # Then, how long the server waits for in-flight calls before cancelling them.
    grpc_grace_seconds: float = 20.0
    # Largest request or reply (bulk imports are the big ones).
    grpc_max_message_mb: int = 16
    metrics_port: int = 9464
    worker_metrics_port: int = 9465
    # /metrics of the relay process (`crm-<service> relay`).
    relay_metrics_port: int = 9466

    jwt_algorithm: Literal["HS256", "RS256", "ES256"] = "HS256"
    jwt_key: str = DEV_JWT_KEY
    jwt_issuer: str = "crm-dev"
    jwt_audience: str = "crm"
    # Claims carrying the caller's teams, branches and territories (lists of ids): they widen
    # its data scope as far as its roles' reach allows (docs/security.md#data-scopes).
    jwt_teams_claim: str = "teams"
    jwt_branches_claim: str = "branches"
    jwt_territories_claim: str = "territories"

    # PII field encryption (crm_common.pii): "key_id:base64key,..." with the current key first,
    # older keys kept to decrypt until rows are re-encrypted; and the blind-index HMAC key,
    # whose rotation needs a re-index. Dev keys by default, refused when CRM_ENV=production.
    pii_keys: str = DEV_PII_KEYS
    pii_index_key: str = DEV_PII_INDEX_KEY

    log_level: str = "INFO"
    otel_service_name: str = ""
    otel_exporter_otlp_endpoint: str = ""

    # Where the outbox relay, the audit sealer and the platform janitor run: true, on threads
    # of the API process; false, in the separate relay process (`crm-<service> relay`, the
    # chart's sidecar), which keeps them off the API's GIL (docs/operations.md).
    relay_in_api: bool = True
    # Outbox relay: rows per publish batch, and the fallback poll when nothing wakes it (in the
    # API process, whose commits wake the relay at once).
    relay_batch_size: int = 500
    relay_poll_seconds: float = 0.5
    # How long a wake-up waits for more commits before publishing them together.
    relay_coalesce_ms: int = 20
    # The relay process has no wake-up from the commits: it looks at the outbox (one indexed
    # row at most) this often, and publishes when it finds rows.
    relay_idle_poll_ms: int = 20
    # Event consumers: attempts before a message is parked in its dead-letter queue.
    event_max_attempts: int = 5
    event_retry_base_ms: int = 500
    event_prefetch: int = 50
    # How long idempotency keys and inbox marks are kept: past the callers' retries and past
    # any redelivery or dead-letter replay (a replay after this may apply an event twice).
    idempotency_retention_hours: float = 168.0
    inbox_retention_days: float = 30.0
    # How often each consumer reports its dead-letter queue's depth.
    event_dlq_depth_seconds: float = 15.0
    # The audit log (crm_common.audit): off only to measure its cost, refused in production.
    audit_enabled: bool = True
    # How often calls that committed nothing are written, and committed rows are hash-chained.
    audit_flush_seconds: float = 0.2
    audit_seal_seconds: float = 1.0
    # The suite's services that hold a person's data (comma-separated). Unset: the installed
    # registry's; an image holds only its own service, so the chart sets it from its values.
    crm_pii_services: str | None = None

    @field_validator("pii_keys")
    @classmethod
    def _pii_keys_parses(cls, value: str) -> str:
        try:
            KeyRing.parse(value)
        except PiiKeyError as exc:
            raise ValueError(f"PII_KEYS is malformed: {exc}") from None
        return value

    @field_validator("pii_index_key")
    @classmethod
    def _pii_index_key_parses(cls, value: str) -> str:
        try:
            BlindIndex.from_base64(value)
        except PiiKeyError as exc:
            raise ValueError(f"PII_INDEX_KEY is malformed: {exc}") from None
        return value

    @model_validator(mode="after")
    def _production_needs_real_secrets(self) -> ServiceSettings:
        if self.crm_env == "production":
            if self.jwt_key == DEV_JWT_KEY:
                raise ValueError("JWT_KEY must be set to a real key when CRM_ENV=production")
            if not self.database_url.startswith("postgresql"):
                raise ValueError("DATABASE_URL must be a PostgreSQL URL when CRM_ENV=production")
            if not self.audit_enabled:
                raise ValueError("AUDIT_ENABLED=false is for measurements only and refused when CRM_ENV=production")
            # Compared as key bytes, so the dev key re-encoded or kept as an old key is refused too.
            dev_key = KeyRing.parse(DEV_PII_KEYS).keys["dev1"]
            if dev_key in KeyRing.parse(self.pii_keys).keys.values():
                raise ValueError("PII_KEYS must be set to real keys when CRM_ENV=production")
            # Same key bytes iff the two indexes agree (a 128-bit HMAC cannot agree by chance).
            probe = ("settings", "dev-key-check")
            if BlindIndex.from_base64(self.pii_index_key)(*probe) == BlindIndex.from_base64(DEV_PII_INDEX_KEY)(*probe):
                raise ValueError("PII_INDEX_KEY must be set to a real key when CRM_ENV=production")
        return self

    def resolved_database_url(self) -> str:
        """The configured URL, or a SQLite file under ./var for local runs."""
        if self.database_url:
            return self.database_url
        os.makedirs("var", exist_ok=True)
        return f"sqlite:///var/{self.service_name}.db"

    def suite_pii_services(self) -> tuple[str, ...]:
        """The services that take part in a person's export and erasure."""
        if self.crm_pii_services is not None:
            return tuple(name.strip() for name in self.crm_pii_services.split(",") if name.strip())
        from crm_common.registry import services

        return tuple(definition.name for definition in services() if definition.pii)

    @property
    def tracing_service_name(self) -> str:
        return self.otel_service_name or f"crm-{self.service_name}"


S = TypeVar("S", bound=ServiceSettings)


def load_settings(settings_cls: type[S], **overrides: object) -> S:
    try:
        return settings_cls(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = "_".join(str(part) for part in err["loc"]).upper() or "settings"
            problems.append(f"  {name}: {err['msg']}")
        raise ConfigError("invalid configuration:\n" + "\n".join(problems)) from None
