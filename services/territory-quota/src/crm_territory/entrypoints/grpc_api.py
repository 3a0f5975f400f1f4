"""The gRPC API: thin servicers that parse requests, call a use case and map the result. The
service is large, so its servicer is composed of two halves, one per capability area."""

from __future__ import annotations

from crm.territory.v1 import territory_service_pb2_grpc
from crm_common.auth import Access
from crm_territory.entrypoints.assignment_api import ASSIGNMENT_PERMISSIONS, AssignmentApi
from crm_territory.entrypoints.quota_api import QUOTA_PERMISSIONS, QuotaApi
from crm_territory.service_layer.use_cases import TerritoryUseCases

# The permission and data scope each RPC needs: the server refuses to start while an RPC is missing here.
PERMISSIONS: dict[str, Access] = {**ASSIGNMENT_PERMISSIONS, **QUOTA_PERMISSIONS}


class TerritoryServicer(AssignmentApi, QuotaApi, territory_service_pb2_grpc.TerritoryServiceServicer):
    def __init__(self, use_cases: TerritoryUseCases) -> None:
        self.use_cases = use_cases
