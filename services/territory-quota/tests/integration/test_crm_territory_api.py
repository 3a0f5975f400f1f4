"""The territory-quota API on a real server and database: serving, discoverable, schema at head."""

from __future__ import annotations

from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from crm_common.testing import LiveService, schema_drift
from crm_territory.adapters.orm import metadata
from crm_territory.service import SERVICE


def test_readiness_is_serving(api: LiveService) -> None:
    health = health_pb2_grpc.HealthStub(api.channel)
    for name in ("", SERVICE.grpc_service):
        reply = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_service(api: LiveService) -> None:
    reflection = reflection_pb2_grpc.ServerReflectionStub(api.channel)
    replies = reflection.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5)
    names = {s.name for reply in replies for s in reply.list_services_response.service}
    assert SERVICE.grpc_service in names


def test_the_migrated_schema_matches_the_tables(api: LiveService) -> None:
    assert schema_drift(api.database_url, metadata) == []
