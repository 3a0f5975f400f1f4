"""Fixtures of the opportunity service's tests: its live API on each database backend."""

from __future__ import annotations

import pytest

from crm.opportunity.v1 import opportunity_service_pb2_grpc
from crm_common.testing import LiveService, live_fixtures
from crm_opportunity.adapters.orm import metadata
from crm_opportunity.service import SERVICE

live, api = live_fixtures(SERVICE, metadata)


@pytest.fixture
def stub(api: LiveService) -> opportunity_service_pb2_grpc.OpportunityServiceStub:
    return opportunity_service_pb2_grpc.OpportunityServiceStub(api.channel)
