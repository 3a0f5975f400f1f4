"""The gRPC API: a thin servicer that parses requests, calls a use case and maps the result."""

from __future__ import annotations

from crm.territory.v1 import territory_service_pb2_grpc
from crm_territory.service_layer.use_cases import TerritoryUseCases

# The permission each RPC needs (and, once it touches customer data, its data scope): the
# server refuses to start while an RPC of the service is missing here.
PERMISSIONS: dict[str, str | None] = {}


class TerritoryServicer(territory_service_pb2_grpc.TerritoryServiceServicer):
    def __init__(self, use_cases: TerritoryUseCases) -> None:
        self.use_cases = use_cases
