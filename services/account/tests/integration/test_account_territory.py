"""The territory service's AccountTerritoryAssigned recorded on the account: territory and owner,
AccountUpdated naming them, once per event."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from nameko.testing.services import worker_factory

from crm.account.v1 import account_service_pb2, events_pb2
from crm.account.v1.account_service_pb2_grpc import AccountServiceStub
from crm.territory.v1 import events_pb2 as territory_events
from crm.territory.v1 import territory_pb2
from crm_account.entrypoints.worker import AccountWorker
from crm_account.service_layer.use_cases import AccountUseCases
from crm_common.auth import Principal, use_principal
from crm_common.db import new_id
from crm_common.events.envelope import new_event
from crm_common.testing import LiveService, bearer, delivery

RM = bearer("rm-1", ["rm"])
# The account leaves rm-1's book once assigned to rm-a: read it bank-wide.
SERVICE = bearer("service:test", ["service"])
CONSUMER = "account.on_account_territory_assigned"


def assigned(account_id: str, territory_id: str, owner_id: str) -> territory_events.AccountTerritoryAssigned:
    assignment = territory_pb2.AccountAssignment(account_id=account_id, territory_id=territory_id, owner_id=owner_id, rule_id="R-HN")
    return new_event(territory_events.AccountTerritoryAssigned, "territory-quota", "", datetime.now(UTC), assignment=assignment)


@pytest.fixture
def worker(use_cases: AccountUseCases) -> AccountWorker:
    service: AccountWorker = worker_factory(AccountWorker, use_cases=use_cases)
    return service


def test_the_account_records_its_territory_and_rm(api: LiveService, stub: AccountServiceStub, worker: AccountWorker) -> None:
    request = account_service_pb2.ResolvePersonAccountRequest(request_id=new_id(), full_name="Trần Thị Bình", phone="0912345678")
    account_id = stub.ResolvePersonAccount(request, metadata=RM).account.account_id
    event = assigned(account_id, "VN.NORTH.HN.HN01", "rm-a")
    with use_principal(Principal("service:territory-quota", ("service",))):
        assert worker.on_account_territory_assigned(delivery(event, CONSUMER)) == "recorded territory_id, owner_id"
        assert worker.on_account_territory_assigned(delivery(event, CONSUMER)) == "duplicate"
        assert worker.on_account_territory_assigned(delivery(assigned(account_id, "VN.NORTH.HN.HN01", "rm-a"), CONSUMER)) == "unchanged"
        assert worker.on_account_territory_assigned(delivery(assigned("no-such-account", "VN", "rm-a"), CONSUMER)) == "unknown account"
    account = stub.GetAccount(account_service_pb2.GetAccountRequest(account_id=account_id), metadata=SERVICE).account
    assert (account.territory_id, account.owner_id) == ("VN.NORTH.HN.HN01", "rm-a")
    updates = [e for e in api.events(events_pb2.AccountUpdated) if e.account.account_id == account_id]
    assert list(updates[-1].changed_fields) == ["territory_id", "owner_id"]
