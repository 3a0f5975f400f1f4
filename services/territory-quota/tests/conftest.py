"""Fixtures of the territory-quota service's tests: its live API on each database backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crm_common.testing import BACKENDS, LiveService, live_service
from crm_territory.adapters.orm import metadata
from crm_territory.service import SERVICE


@pytest.fixture(scope="session", params=BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    """The territory-quota API on loopback over a migrated database, once per backend and session."""
    with live_service(request.param, tmp_path_factory.mktemp("territory-quota"), SERVICE, metadata=metadata) as service:
        yield service


@pytest.fixture
def api(live: LiveService) -> LiveService:
    """The live API with every table emptied first."""
    live.reset()
    return live
