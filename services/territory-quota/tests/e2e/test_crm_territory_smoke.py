"""The territory-quota service in the running suite: its processes started from the registry, its
database migrated, its API ready and its metrics scraped."""

from __future__ import annotations

import urllib.request

from grpc_health.v1 import health_pb2, health_pb2_grpc

from crm_common.testing_e2e import Suite
from crm_territory.service import SERVICE


def test_the_api_is_ready_in_the_suite(suite: Suite) -> None:
    health = health_pb2_grpc.HealthStub(suite.channels[SERVICE.name])
    reply = health.Check(health_pb2.HealthCheckRequest(service=SERVICE.grpc_service), timeout=10)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_the_api_exports_metrics(suite: Suite) -> None:
    port = suite.specs[SERVICE.name].metrics_port
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        assert b"process_cpu_seconds_total" in reply.read()
