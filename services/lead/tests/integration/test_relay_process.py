"""`crm-lead relay` as real processes beside `crm-lead api` (RELAY_IN_API=false), over PostgreSQL
and RabbitMQ of their own: the API only writes its outbox and audit rows; two relay processes
(replicas, as two pods' sidecars) publish every event once, seal the audit log into one whole
chain, serve their metrics, and end on SIGTERM with exit 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pika
import pytest
from sqlalchemy import func, select

from crm.common.v1 import common_pb2
from crm.lead.v1 import events_pb2, lead_pb2
from crm.lead.v1 import lead_service_pb2 as lead_svc
from crm_common.audit.chain import AUDIT_LOG
from crm_common.db import make_engine, new_metadata
from crm_common.devstack import ServiceSpec, Stack, free_port
from crm_common.events import exchange_name
from crm_common.testing import bearer, postgres_database, rabbitmq_vhost, scrape_metric, stub_class, wait_until
from crm_lead.service import SERVICE

MARKETING = bearer("mkt-1", ["marketing"])
LEADS = 12
QUEUE = "relay-test.lead-events"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """migrate, then `crm-lead api` (RELAY_IN_API=false), `crm-lead relay` and the worker, as `make up` runs them."""
    with rabbitmq_vhost("relay") as amqp_uri, postgres_database("crm_test_relay_process") as database_url:
        with pika.BlockingConnection(pika.URLParameters(amqp_uri)) as connection:
            # Before anything publishes: the same declaration as the publishers' (crm_common.events.publisher).
            channel = connection.channel()
            channel.exchange_declare(exchange_name(SERVICE.name), exchange_type="topic", durable=True)
            channel.queue_declare(QUEUE, durable=True)
            channel.queue_bind(QUEUE, exchange_name(SERVICE.name), routing_key="#")
        spec = ServiceSpec(
            SERVICE.name,
            free_port(),
            free_port(),
            free_port(),
            free_port(),
            database_url,
            env={"RELAY_IN_API": "false", "AUDIT_SEAL_SECONDS": "0.2", "GRPC_DRAIN_SECONDS": "0"},
        )
        running = Stack([spec], amqp_uri, tmp_path_factory.mktemp("relay-run"))
        try:
            running.start()
            yield running
        finally:
            running.stop()


def second_relay(stack: Stack, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Another `crm-lead relay` on the same database and vhost, with its own metrics port."""
    (spec,) = stack.specs
    port = free_port()
    env = {**spec.environment(stack.amqp_uri, stack.peers), "RELAY_METRICS_PORT": str(port)}
    with open(log, "ab") as out:
        process = subprocess.Popen([str(Path(sys.executable).with_name("crm-lead")), "relay"], env=env, stdout=out, stderr=subprocess.STDOUT)
    return process, port


def serves_metrics(port: int) -> bool:
    try:
        scrape_metric(port, "crm_outbox_pending_events")
    except OSError:  # not listening yet
        return False
    return True


def captured_on_the_broker(amqp_uri: str) -> list[events_pb2.LeadCaptured]:
    found = []
    with pika.BlockingConnection(pika.URLParameters(amqp_uri)) as connection:
        channel = connection.channel()
        while True:
            method, properties, body = channel.basic_get(QUEUE, auto_ack=True)
            if method is None:
                return found
            if properties.type == "LeadCaptured":
                found.append(events_pb2.LeadCaptured.FromString(body))


def test_the_relay_processes_publish_seal_serve_metrics_and_stop_cleanly(stack: Stack, tmp_path: Path) -> None:
    (spec,) = stack.specs
    processes = {p.role for p in stack.processes}
    assert processes == {"api", "relay", "worker"}
    other, other_port = second_relay(stack, tmp_path / "relay-2.log")
    engine = make_engine(spec.database_url, pool_size=2)
    outbox = new_metadata().tables["outbox"]
    channel = grpc.insecure_channel(spec.target)
    try:
        wait_until(lambda: serves_metrics(other_port), what="the second relay's /metrics")
        lead = stub_class(SERVICE)(channel)
        created = set()
        for i in range(LEADS):
            reply = lead.CreateLead(
                lead_svc.CreateLeadRequest(
                    request_id=str(uuid.uuid4()),
                    lead=lead_pb2.LeadInput(
                        contact=lead_pb2.ContactInput(
                            full_name=f"Nguyễn Văn Relay {i}", phone=f"0977 {100 + i:03d} 555", email=f"relay{i}@example.com"
                        ),
                        product_interest=common_pb2.PRODUCT_TYPE_CREDIT_CARD,
                        source=lead_pb2.LeadSource(channel=lead_pb2.CHANNEL_LANDING_PAGE, campaign_id="cmp-relay"),
                    ),
                ),
                metadata=MARKETING,
                timeout=10,
            )
            created.add(reply.lead.lead_id)

        # Every LeadCaptured reaches the broker once (SKIP LOCKED: two relays, no batch twice).
        seen: list[events_pb2.LeadCaptured] = []

        def all_published() -> bool:
            seen.extend(captured_on_the_broker(stack.amqp_uri))
            return len(seen) >= LEADS

        wait_until(all_published, timeout=20, what="every LeadCaptured on the broker")
        assert sorted(e.lead.lead_id for e in seen) == sorted(created)
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(outbox)).scalar_one() == 0

        # The API wrote audit rows; the relay processes sealed them (nobody else seals here).
        def all_sealed() -> bool:
            with engine.connect() as conn:
                total = conn.execute(select(func.count()).select_from(AUDIT_LOG)).scalar_one()
                unsealed = conn.execute(select(func.count()).select_from(AUDIT_LOG).where(AUDIT_LOG.c.seal_seq.is_(None))).scalar_one()
            return total >= LEADS and unsealed == 0

        wait_until(all_sealed, timeout=20, what="the audit rows sealed by the relay processes")
        verify = subprocess.run(
            [str(Path(sys.executable).with_name("crm-lead")), "audit", "verify"],
            env=spec.environment(stack.amqp_uri, stack.peers),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert verify.returncode == 0 and "audit log OK" in verify.stdout, verify.stdout + verify.stderr

        # Their metrics: what each published and sealed adds up; the API's relay metrics stay untouched.
        ports = (spec.relay_metrics_port, other_port)
        assert sum(scrape_metric(p, "crm_events_published_total", event_type="LeadCaptured") for p in ports) == LEADS
        assert sum(scrape_metric(p, "crm_audit_sealed_rows_total") for p in ports) >= LEADS
        assert scrape_metric(spec.metrics_port, "crm_events_published_total") == 0.0
        assert scrape_metric(spec.metrics_port, "crm_audit_sealed_rows_total") == 0.0

        # SIGTERM: each ends on its own with exit 0.
        other.send_signal(signal.SIGTERM)
        assert other.wait(timeout=20) == 0
        relay = stack.process(SERVICE.name, "relay")
        os.kill(relay.pid, signal.SIGTERM)
        _, status = os.waitpid(relay.pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert "relay process stopped" in Path(relay.log).read_text()
    finally:
        channel.close()
        if other.poll() is None:
            other.kill()
            other.wait()
        engine.dispose()
