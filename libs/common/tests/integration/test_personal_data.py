"""crm.privacy.v1.PersonalDataService as the platform serves and calls it: participants behind the
real server (auth, validation), the coordinator's client forwarding the caller's token, and an
export that fails as a whole, naming the participant, when one does not answer in time."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from crm.account.v1 import events_pb2 as account_events
from crm_common.auth import Principal, use_principal
from crm_common.errors import Unavailable
from crm_common.events.envelope import new_event
from crm_common.grpc.personal_data import PersonalDataClient, participant_targets, personal_data_binding
from crm_common.grpc.server import GrpcServer
from crm_common.privacy import PersonIdentifiers
from crm_common.settings import ConfigError, ServiceSettings, load_settings
from crm_common.testing import bearer


def officer(subject: str, role: str) -> Principal:
    """A caller as the server's interceptor sets it, with the bearer token it came with."""
    token = dict(bearer(subject, [role]))["authorization"].removeprefix("Bearer ")
    return Principal(subject, (role,), token=token)


PERSON = PersonIdentifiers(account_ids=("acc-1", "acc-0", "acc-1", ""), phone_indexes=("p1",), email_indexes=("e1", "e1"))


class Provider:
    def __init__(self, name: str, delay: float = 0.0) -> None:
        self.name, self.delay = name, delay
        self.asked: list[PersonIdentifiers] = []
        self.release = threading.Event()

    def export_personal_data(self, person: PersonIdentifiers) -> dict[str, Any]:
        self.asked.append(person)
        if self.delay:
            self.release.wait(self.delay)
        return {"service": self.name, "accounts": list(person.account_ids)}


@pytest.fixture
def participants() -> Iterator[dict[str, tuple[Provider, str]]]:
    running: dict[str, tuple[Provider, str]] = {}
    servers = []
    for name, delay in (("billing", 0.0), ("service-case", 5.0)):
        provider = Provider(name, delay)
        settings = load_settings(ServiceSettings, service_name=name, crm_env="test", grpc_host="127.0.0.1", grpc_port=0)
        server = GrpcServer(settings, [personal_data_binding(name, provider)])
        server.start()
        servers.append((server, provider))
        running[name] = (provider, f"127.0.0.1:{server.port}")
    yield running
    for server, provider in servers:
        provider.release.set()
        server.stop(grace=0)


def test_identifiers_are_unique_and_read_from_an_erasure_request() -> None:
    assert PERSON.account_ids == ("acc-1", "acc-0") and PERSON.email_indexes == ("e1",)
    assert PersonIdentifiers.from_proto(PERSON.to_proto()) == PERSON
    assert (PERSON.account_id, PERSON.merged_account_ids) == ("acc-1", ("acc-0",))
    event = new_event(account_events.ErasureRequested, "account", "", datetime.now(UTC), erasure_id="e", account_id="acc-9", lead_ids=["l-1"])
    assert PersonIdentifiers.from_erasure_request(event) == PersonIdentifiers(("acc-9",), ("l-1",))
    event.person.CopyFrom(PERSON.to_proto())
    assert PersonIdentifiers.from_erasure_request(event).account_ids == ("acc-9", "acc-1", "acc-0")


def test_the_client_gathers_every_section_with_the_callers_token(participants: dict[str, tuple[Provider, str]]) -> None:
    billing, target = participants["billing"]
    client = PersonalDataClient({"billing": target})
    with use_principal(officer("dpo-1", "privacy_officer")):
        assert client.export(PERSON) == {"billing": {"service": "billing", "accounts": ["acc-1", "acc-0"]}}
    assert billing.asked == [PERSON]
    # Without the officer's token the participant refuses, and the export says who.
    with use_principal(officer("rm-1", "rm")), pytest.raises(Unavailable, match=r"no section from billing \(PERMISSION_DENIED"):
        client.export(PERSON)
    client.close()


def test_a_participant_that_does_not_answer_in_time_fails_the_export(participants: dict[str, tuple[Provider, str]]) -> None:
    targets = {name: target for name, (_provider, target) in participants.items()}
    client = PersonalDataClient(targets, timeout_seconds=0.5)
    with use_principal(officer("dpo-1", "privacy_officer")), pytest.raises(Unavailable, match=r"service-case \(DEADLINE_EXCEEDED") as failed:
        client.export(PERSON)
    assert "billing" not in str(failed.value)
    client.close()


def test_every_participant_needs_an_address() -> None:
    assert participant_targets(("billing",), {"BILLING_GRPC_TARGET": "billing:50051"}) == {"billing": "billing:50051"}
    with pytest.raises(ConfigError, match="SERVICE_CASE_GRPC_TARGET"):
        participant_targets(("service-case",), {})
