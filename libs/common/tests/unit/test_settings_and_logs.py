"""Settings fail fast with the variable's name; logs are JSON lines carrying the trace id."""

from __future__ import annotations

import base64
import json
import logging
import os

import pytest
from opentelemetry import trace

from crm_common.observability.logs import JsonFormatter
from crm_common.observability.tracing import configure_tracing
from crm_common.pii import DEV_PII_INDEX_KEY, DEV_PII_KEYS
from crm_common.settings import ConfigError, ServiceSettings, load_settings


def _real_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_a_bad_variable_stops_the_process_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRPC_PORT", "not-a-port")
    monkeypatch.setenv("JWT_ALGORITHM", "none")
    with pytest.raises(ConfigError) as err:
        load_settings(ServiceSettings)
    message = str(err.value)
    assert "GRPC_PORT" in message and "JWT_ALGORITHM" in message


def test_production_refuses_the_dev_key_and_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_ENV", "production")
    with pytest.raises(ConfigError, match="JWT_KEY"):
        load_settings(ServiceSettings)
    monkeypatch.setenv("JWT_KEY", "a-real-key-from-a-secret-0123456789abcdef")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///x.db")
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        load_settings(ServiceSettings)
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://crm@db/crm_lead")
    monkeypatch.setenv("PII_KEYS", f"k1:{_real_key()}")
    monkeypatch.setenv("PII_INDEX_KEY", _real_key())
    assert load_settings(ServiceSettings).crm_env == "production"


def test_production_refuses_the_dev_pii_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_ENV", "production")
    monkeypatch.setenv("JWT_KEY", "a-real-key-from-a-secret-0123456789abcdef")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://crm@db/crm_lead")
    with pytest.raises(ConfigError, match="PII_KEYS must be set to real keys when CRM_ENV=production"):
        load_settings(ServiceSettings)
    # The dev key kept as an old (decrypt-only) key is refused too.
    monkeypatch.setenv("PII_KEYS", f"k1:{_real_key()},{DEV_PII_KEYS}")
    with pytest.raises(ConfigError, match="PII_KEYS must be set"):
        load_settings(ServiceSettings)
    monkeypatch.setenv("PII_KEYS", f"k1:{_real_key()}")
    with pytest.raises(ConfigError, match="PII_INDEX_KEY must be set to a real key when CRM_ENV=production"):
        load_settings(ServiceSettings)
    # Re-encoded as urlsafe base64 without padding it is still the dev key.
    monkeypatch.setenv("PII_INDEX_KEY", base64.urlsafe_b64encode(base64.b64decode(DEV_PII_INDEX_KEY)).decode().rstrip("="))
    with pytest.raises(ConfigError, match="PII_INDEX_KEY must be set"):
        load_settings(ServiceSettings)
    monkeypatch.setenv("PII_INDEX_KEY", _real_key())
    assert load_settings(ServiceSettings).crm_env == "production"


def test_dev_pii_keys_are_the_default_outside_production() -> None:
    settings = load_settings(ServiceSettings)
    assert settings.pii_keys == DEV_PII_KEYS and settings.pii_index_key == DEV_PII_INDEX_KEY


def test_a_malformed_pii_key_stops_the_process_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    short_key = base64.b64encode(b"sixteen-byte-key").decode()
    monkeypatch.setenv("PII_KEYS", f"k1:{short_key}")
    monkeypatch.setenv("PII_INDEX_KEY", "not base64!")
    with pytest.raises(ConfigError) as err:
        load_settings(ServiceSettings)
    message = str(err.value)
    assert "PII_KEYS" in message and "32 bytes" in message
    assert "PII_INDEX_KEY" in message and "base64" in message
    assert short_key not in message and "not base64!" not in message


def test_log_lines_are_json_with_the_current_trace_id() -> None:
    configure_tracing("crm-test")
    formatter = JsonFormatter("lead")
    record = logging.LogRecord("crm.lead", logging.WARNING, __file__, 1, "lead %s rejected", ("l-1",), None)
    record.fields = {"lead_id": "l-1"}
    with trace.get_tracer("test").start_as_current_span("CreateLead") as span:
        line = json.loads(formatter.format(record))
    assert line["message"] == "lead l-1 rejected" and line["level"] == "WARNING" and line["service"] == "lead"
    assert line["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert line["lead_id"] == "l-1"
