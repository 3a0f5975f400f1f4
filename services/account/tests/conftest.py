"""Fixtures of the account service's tests: its live API on each database backend."""

from __future__ import annotations

from typing import cast

import pytest
from account_participants import FakeParticipants

from crm.account.v1 import account_service_pb2_grpc
from crm_account.adapters.orm import metadata
from crm_account.service import SERVICE
from crm_account.service_layer.use_cases import AccountUseCases
from crm_common.testing import LiveService, live_fixtures

PARTICIPANTS = FakeParticipants()

live, api = live_fixtures(SERVICE, metadata, adapters={"personal_data": PARTICIPANTS}, on_reset=PARTICIPANTS.reset)


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
