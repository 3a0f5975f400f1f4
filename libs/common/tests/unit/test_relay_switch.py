"""RELAY_IN_API: where the outbox relay, the audit sealer and the platform janitor run. True (the
default): threads of the API process. False: the relay process (`crm-<svc> relay`) runs them, and
every service's API starts none, through the shared factories, with no branch of its own."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine

from crm_common.audit.trail import AuditSealer
from crm_common.db import make_engine, new_metadata
from crm_common.events.relay import OutboxRelay, outbox_relay, separate_outbox_relay
from crm_common.grpc.server import service_audit_trail
from crm_common.lifecycle import RunsElsewhere
from crm_common.registry import ServiceDefinition, load, services
from crm_common.relay_process import RelayProcess
from crm_common.retention import PlatformJanitor, platform_janitor
from crm_common.settings import ServiceSettings, load_settings


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    # No connection is made: nothing here touches the database.
    return make_engine(f"sqlite:///{tmp_path}/switch.db")


def settings(**overrides: object) -> ServiceSettings:
    return load_settings(ServiceSettings, service_name="order", crm_env="test", **overrides)


def test_the_relay_runs_in_the_api_by_default(engine: Engine) -> None:
    assert settings().relay_in_api is True
    relay, wakeup = outbox_relay(settings(), engine, new_metadata(), "order")
    assert isinstance(relay, OutboxRelay) and relay.idle_check is False and relay.drain_on_stop is True
    assert wakeup.listeners, "commits wake the relay"
    assert isinstance(platform_janitor(settings(), engine, new_metadata()), PlatformJanitor)
    trail = service_audit_trail(settings(), engine)
    assert trail is not None and trail.sealing


def test_relay_in_api_false_leaves_the_api_without_relay_sealer_or_janitor(engine: Engine) -> None:
    off = settings(relay_in_api=False)
    relay, wakeup = outbox_relay(off, engine, new_metadata(), "order")
    assert isinstance(relay, RunsElsewhere) and wakeup.listeners == []
    wakeup.notify()  # a commit still signals; nobody listens
    assert isinstance(platform_janitor(off, engine, new_metadata()), RunsElsewhere)
    trail = service_audit_trail(off, engine)
    assert trail is not None and not trail.sealing
    trail.start()
    try:
        running = {thread.name for thread in threading.enumerate()}
        assert "audit-writer" in running, "the API still writes its buffered audit rows"
        assert "audit-sealer" not in running
    finally:
        trail.stop()


def test_the_relay_setting_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_IN_API", "false")
    monkeypatch.setenv("RELAY_IDLE_POLL_MS", "50")
    monkeypatch.setenv("RELAY_METRICS_PORT", "19466")
    read = settings()
    assert (read.relay_in_api, read.relay_idle_poll_ms, read.relay_metrics_port) == (False, 50, 19466)
    assert settings(relay_in_api=True).relay_poll_seconds == 0.5, "the in-process poll keeps its meaning"


def test_the_relay_process_runs_the_three_and_polls(engine: Engine) -> None:
    process = RelayProcess(settings(relay_in_api=False, relay_idle_poll_ms=20, database_url=str(engine.url)), "order")
    try:
        kinds = [type(helper) for helper in process.helpers]
        assert kinds == [OutboxRelay, AuditSealer, PlatformJanitor]
        relay = process.helpers[0]
        assert isinstance(relay, OutboxRelay)
        assert (relay.idle_check, relay.drain_on_stop, relay.poll_seconds, relay.coalesce_seconds) == (True, False, 0.02, 0.0)
        assert separate_outbox_relay(settings(), engine, new_metadata(), "order").publisher.exchange == "order.events"
    finally:
        process.engine.dispose()
    no_audit = RelayProcess(settings(audit_enabled=False, database_url=str(engine.url)), "order")
    assert [type(helper) for helper in no_audit.helpers] == [OutboxRelay, PlatformJanitor]
    no_audit.engine.dispose()


@pytest.mark.parametrize("definition", [d for d in services() if d.database], ids=lambda d: d.name)
def test_no_service_api_starts_them_with_relay_in_api_false(definition: ServiceDefinition, tmp_path: Path) -> None:
    """Every installed service, through its own composition root, unchanged."""
    url = f"sqlite:///{tmp_path}/{definition.name}.db"
    for relay_in_api in (True, False):
        service_settings = load_settings(load(definition.settings), database_url=url, crm_env="test", relay_in_api=relay_in_api)
        app = load(definition.bootstrap)(service_settings, serve=True)
        try:
            kinds = {type(item) for item in app.background}
            if relay_in_api:
                assert {OutboxRelay, PlatformJanitor} <= kinds, definition.name
            else:
                assert not {OutboxRelay, PlatformJanitor} & kinds, definition.name
                assert sum(isinstance(item, RunsElsewhere) for item in app.background) == 2, definition.name
        finally:
            app.close()
