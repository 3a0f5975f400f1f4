"""Fixtures of the account service's tests: its live API on each database backend."""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

import pytest
from account_participants import FakeParticipants

from crm.account.v1 import account_service_pb2_grpc
from crm_account.adapters.orm import metadata
from crm_account.service import SERVICE
from crm_account.service_layer.use_cases import AccountUseCases
from crm_common.testing import BACKENDS, LiveService, live_service

PARTICIPANTS = FakeParticipants()


@pytest.fixture(scope="session", params=BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    """The account API on loopback over a migrated database, once per backend and session."""
    adapters = {"personal_data": PARTICIPANTS}
    with live_service(request.param, tmp_path_factory.mktemp("account"), SERVICE, metadata=metadata, adapters=adapters) as service:
        yield service


@pytest.fixture
def api(live: LiveService) -> LiveService:
    """The live API with every table emptied first."""
    live.reset()
    PARTICIPANTS.reset()
    return live


@pytest.fixture
def participants(api: LiveService) -> FakeParticipants:
    return PARTICIPANTS


@pytest.fixture
def stub(api: LiveService) -> account_service_pb2_grpc.AccountServiceStub:
    return account_service_pb2_grpc.AccountServiceStub(api.channel)


@pytest.fixture
def use_cases(api: LiveService) -> AccountUseCases:
    """The service layer the live API serves, for paths no RPC reaches (event handling)."""
    return cast(AccountUseCases, api.app.use_cases)
