"""Fixtures of the opportunity service's tests: its live API on each database backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crm.opportunity.v1 import opportunity_service_pb2_grpc
from crm_common.testing import BACKENDS, LiveService, live_service
from crm_opportunity.adapters.orm import metadata
from crm_opportunity.service import SERVICE


@pytest.fixture(scope="session", params=BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    """The opportunity API on loopback over a migrated database, once per backend and session."""
    with live_service(request.param, tmp_path_factory.mktemp("opportunity"), SERVICE, metadata=metadata) as service:
        yield service


@pytest.fixture
def api(live: LiveService) -> LiveService:
    """The live API with every table emptied first."""
    live.reset()
    return live


@pytest.fixture
def stub(api: LiveService) -> opportunity_service_pb2_grpc.OpportunityServiceStub:
    return opportunity_service_pb2_grpc.OpportunityServiceStub(api.channel)
