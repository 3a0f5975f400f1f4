"""The suite as it runs in production, on one machine, for end-to-end tests (a pytest plugin,
loaded by the root pyproject's addopts so `tests/e2e` and every `services/<name>/tests/e2e`
share one running suite).

Every service of the registry (crm_common.registry) runs as separate processes (API, and a
worker when it consumes events), each with its own PostgreSQL database when it has one, talking
over gRPC and a real RabbitMQ (a vhost of its own, deleted afterwards). `suite.<service>` is the
stub of that service's API. `E2E_SERVICES=a,b` starts only those services (the scaffold's check
runs a new service alone).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import grpc
import pytest

from crm_common.devstack import ServiceSpec, Stack, free_port
from crm_common.registry import ServiceDefinition, service, services
from crm_common.testing import postgres_database, rabbitmq_vhost, stub_class

# Fast retries so poison messages reach their dead-letter queue in seconds, and a relay that
# polls often; each service adds its own fast settings (ServiceDefinition.e2e_env).
PLATFORM_ENV = {
    "EVENT_MAX_ATTEMPTS": "3",
    "EVENT_RETRY_BASE_MS": "100",
    "RELAY_POLL_SECONDS": "0.2",
    "EVENT_DLQ_DEPTH_SECONDS": "1",
}


def suite_services() -> list[ServiceDefinition]:
    """The registry's services, or those E2E_SERVICES names."""
    wanted = [name.strip() for name in os.environ.get("E2E_SERVICES", "").split(",") if name.strip()]
    return [service(name) for name in wanted] if wanted else list(services())


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
                definition.name,
                free_port(),
                free_port(),
                free_port(),
                resources.enter_context(postgres_database(f"e2e_{definition.package}")) if definition.database else "",
                env={**PLATFORM_ENV, **definition.e2e_env},
            )
            for definition in suite_services()
        ]
        stack = Stack(specs, amqp_uri, Path(tmp_path_factory.mktemp("e2e-run")))
        resources.callback(stack.stop)
        stack.start()
        running = Suite(stack)
        resources.callback(running.close)
        yield running
