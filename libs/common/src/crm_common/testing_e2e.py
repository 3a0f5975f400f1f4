"""The suite as it runs in production, on one machine, for end-to-end tests (a pytest plugin,
loaded by the root pyproject's addopts so `tests/e2e` and every `services/<name>/tests/e2e`
share one running suite).

Every service of the registry (crm_common.registry) runs as separate processes (API, the relay
process beside it when it has a database, as the chart's sidecar, and a worker when it consumes
events), each with its own PostgreSQL database when it has one, talking
over gRPC and a real RabbitMQ (a vhost of its own, deleted afterwards). `suite.<service>` is the
stub of that service's API. `E2E_SERVICES=a,b` starts only those services (the scaffold's check
runs a new service alone). `suite.tap` holds a copy of every message published on the
suite's exchanges during the run (declared before any service starts), for tests that inspect
what travelled over the broker (tests/e2e/test_no_plaintext_pii.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pika
import pytest

from crm_common.devstack import ServiceSpec, Stack, free_port
from crm_common.events import exchange_name
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


@dataclass(frozen=True)
class TappedMessage:
    exchange: str
    routing_key: str
    headers: dict[str, Any]
    body: bytes


class MessageTap:
    """A queue bound with '#' to every exchange the suite publishes on (each service's, and those
    of the outside systems its workers listen to), declared before any service starts: it keeps
    a copy of every message published during the run. Named and not exclusive, so it outlives
    the short connections that declare and drain it (the vhost is deleted after the run)."""

    QUEUE = "e2e.tap"

    def __init__(self, amqp_uri: str, producers: list[str]) -> None:
        self.amqp_uri = amqp_uri
        self.exchanges = sorted({exchange_name(p) for p in producers})
        self.seen: list[TappedMessage] = []
        with self._channel() as channel:
            channel.queue_declare(self.QUEUE, durable=True)
            for exchange in self.exchanges:
                # The same declaration as the publishers' (crm_common.events.publisher).
                channel.exchange_declare(exchange, exchange_type="topic", durable=True)
                channel.queue_bind(self.QUEUE, exchange, routing_key="#")

    @classmethod
    def for_services(cls, amqp_uri: str, definitions: list[ServiceDefinition]) -> MessageTap:
        producers = [d.name for d in definitions] + [event.producer for d in definitions for event in d.consumes]
        return cls(amqp_uri, producers)

    @contextmanager
    def _channel(self) -> Iterator[Any]:
        connection = pika.BlockingConnection(pika.URLParameters(self.amqp_uri))
        try:
            yield connection.channel()
        finally:
            connection.close()

    def messages(self) -> list[TappedMessage]:
        """Every message tapped so far, in the order the broker queued them."""
        with self._channel() as channel:
            while True:
                method, properties, body = channel.basic_get(self.QUEUE, auto_ack=True)
                if method is None:
                    break
                self.seen.append(TappedMessage(method.exchange, method.routing_key, dict(properties.headers or {}), bytes(body)))
        return list(self.seen)


class Suite:
    def __init__(self, stack: Stack, tap: MessageTap | None = None) -> None:
        self.stack = stack
        self.tap = tap
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
        definitions = suite_services()
        # Before any process starts, so no message of the run escapes it.
        tap = MessageTap.for_services(amqp_uri, definitions)
        specs = [
            ServiceSpec(
                definition.name,
                free_port(),
                free_port(),
                free_port(),
                free_port(),
                resources.enter_context(postgres_database(f"e2e_{definition.package}")) if definition.database else "",
                env={**PLATFORM_ENV, **definition.e2e_env},
            )
            for definition in definitions
        ]
        stack = Stack(specs, amqp_uri, Path(tmp_path_factory.mktemp("e2e-run")))
        resources.callback(stack.stop)
        stack.start()
        running = Suite(stack, tap)
        resources.callback(running.close)
        yield running
