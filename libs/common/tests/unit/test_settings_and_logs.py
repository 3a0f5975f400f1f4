"""Settings fail fast with the variable's name; logs are JSON lines carrying the trace id."""

from __future__ import annotations

import json
import logging

import pytest
from opentelemetry import trace

from crm_common.observability.logs import JsonFormatter
from crm_common.observability.tracing import configure_tracing
from crm_common.settings import ConfigError, ServiceSettings, load_settings


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
    assert load_settings(ServiceSettings).crm_env == "production"


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
