"""What a service's composition root returns: one wired application, whichever process asks.

Every service has `crm_<name>/bootstrap.py` with

    def bootstrap(settings, *, serve=False, **adapters) -> Application

settings in, the application out. The API process (`crm_common.grpc.server.run`), the event
worker (`crm_common.events.consumer.ServiceHandlers`), the CLI and the tests all call it, so
they read the same settings the same way. With `serve=True` (the API process only) it also
builds the gRPC bindings and the background helpers; gRPC is imported there alone, because
the nameko/eventlet worker must never import it (FACTS.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

from crm_common.settings import ServiceSettings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from crm_common.grpc.server import ServiceBinding
    from crm_common.lifecycle import Background

U = TypeVar("U")


@dataclass
class Application(Generic[U]):
    settings: ServiceSettings
    # None for a service without a database.
    engine: Engine | None
    # The service layer: the use cases the servicer and the worker call.
    use_cases: U
    # API process only (serve=True): the gRPC services to expose and what runs beside them.
    bindings: list[ServiceBinding] = field(default_factory=list)
    background: list[Background] = field(default_factory=list)

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()
