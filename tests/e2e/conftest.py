"""The suite as it runs in production, on one machine: every service of the registry
(crm_common.registry) as separate processes (API, and a worker when it consumes events), each
with its own PostgreSQL database when it has one, talking over gRPC and a real RabbitMQ (a
vhost of its own, deleted afterwards). `suite.<service>` is the stub of that service's API.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import grpc
import pytest

from crm_common.devstack import ServiceSpec, Stack, free_port
from crm_common.registry import service, services
from crm_common.testing import postgres_database, rabbitmq_vhost, stub_class

SERVICES = tuple(definition.name for definition in services())


class Suite:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.specs = {spec.name: spec for spec in stack.specs}
        self.channels = {name: grpc.insecure_channel(spec.target) for name, spec in self.specs.items()}
        self.stubs = {name: stub_class(service(name))(channel) for name, channel in self.channels.items()}

    def __getattr__(self, name: str) -> Any:
        """`suite.lead`: the stub of the lead API."""
        stubs = self.__dict__.get("stubs", {})
        if name in stubs:
            return stubs[name]
        raise AttributeError(name)

    @property
    def amqp_uri(self) -> str:
        return self.stack.amqp_uri

    def env(self, service: str) -> dict[str, str]:
        return self.specs[service].environment(self.stack.amqp_uri, self.stack.peers)

    def close(self) -> None:
        for channel in self.channels.values():
            channel.close()


@pytest.fixture(scope="session")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    with ExitStack() as resources:
        amqp_uri = resources.enter_context(rabbitmq_vhost("e2e"))
        specs = [
            ServiceSpec(
                name,
                free_port(),
                free_port(),
                free_port(),
                resources.enter_context(postgres_database(f"e2e_{name}")) if service(name).database else "",
                # Fast retries so poison messages reach their dead-letter queue in seconds.
                env={
                    "EVENT_MAX_ATTEMPTS": "3",
                    "EVENT_RETRY_BASE_MS": "100",
                    "RELAY_POLL_SECONDS": "0.2",
                    "LEAD_CONVERSION_RECOVERY_SECONDS": "1",
                    "EVENT_DLQ_DEPTH_SECONDS": "1",
                },
            )
            for name in SERVICES
        ]
        stack = Stack(specs, amqp_uri, Path(tmp_path_factory.mktemp("e2e-run")))
        resources.callback(stack.stop)
        stack.start()
        running = Suite(stack)
        resources.callback(running.close)
        yield running
