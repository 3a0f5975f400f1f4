"""The suite's services, each declared once in its own package and found here.

A service declares itself in `crm_<name>/service.py`:

    SERVICE = ServiceDefinition(name="lead", package="crm_lead", grpc_port=50051, ...)

and registers that object under the `crm.services` entry-point group of its pyproject.toml:

    [project.entry-points."crm.services"]
    lead = "crm_lead.service:SERVICE"

Everything that lists services (the Makefile, `make up` and the end-to-end harness, `crmctl`,
the role table, the deploy tests) reads `services()`; nothing in libs/common names one. The
definition module must stay light (no grpc, sqlalchemy or nameko import): reading the registry
imports every service's definition, in every process.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from typing import Any

ENTRY_POINT_GROUP = "crm.services"


class RegistryError(RuntimeError):
    """The installed services contradict each other (a name or a port twice) or themselves."""


@dataclass(frozen=True)
class Permission:
    """A permission a service checks (`<resource>.<verb>`) and what it lets a caller do."""

    name: str
    meaning: str


@dataclass(frozen=True)
class ConsumedEvent:
    """An event a service's worker consumes: the producing service (or outside system, whose
    exchange is `<producer>.events`) and the protobuf message's short name."""

    producer: str
    message: str


@dataclass(frozen=True)
class ServiceDefinition:
    """What the platform needs to know about a service. Dotted paths are `module:attribute`
    (a module alone for `pii_maintenance`) and are imported only when used."""

    name: str  # short name: lead, account, ... (command crm-<name>, exchange <name>.events)
    package: str  # import name: crm_<name>
    # Local defaults (`make up`, crmctl); in Kubernetes every pod uses 50051/9464/9465/9466.
    grpc_port: int
    metrics_port: int
    worker_metrics_port: int
    # /metrics of `crm-<name> relay` (the outbox relay, audit sealer and janitor off the API process).
    relay_metrics_port: int
    grpc_service: str  # full name of the gRPC service, its readiness name: crm.lead.v1.LeadService
    settings: str  # "crm_lead.config:LeadSettings"
    bootstrap: str  # "crm_lead.bootstrap:bootstrap", settings in, crm_common.app.Application out
    description: str = ""
    # Owns tables: has migrations (`crm-<name> migrate`), a DatabaseHealth and a database in `make up`.
    database: bool = True
    migrations: str = ""  # "crm_lead:migrations"
    # Consumes events: runs `crm-<name> worker`.
    worker: bool = True
    worker_class: str = ""  # "crm_lead.entrypoints.worker:LeadWorker"
    # Holds a person's data: takes part in data-subject export and erasure (crm_common.privacy):
    # serves crm.privacy.v1.PersonalDataService (its section of an export), anonymises what the
    # coordinator's ErasureRequested names and confirms with ErasureConfirmed.
    pii: bool = False
    # Coordinates data-subject rights (the account service): exports and erasures start there, and
    # it gathers every other `pii` service's section and confirmation, whichever are installed.
    privacy_coordinator: bool = False
    # Stores encrypted PII: module with reencrypt(engine, cipher) and reindex(engine, cipher, index).
    pii_maintenance: str = ""
    permissions: tuple[Permission, ...] = ()
    # Role -> the permissions of this service the role grants (roles are the bank's; the
    # platform's own grants, such as pii.read, are in crm_common.auth.roles).
    grants: Mapping[str, frozenset[str]] = field(default_factory=dict)
    consumes: tuple[ConsumedEvent, ...] = ()
    # Environment variables naming files the service reads (rule files, lists); the chart mounts them.
    config_files: tuple[str, ...] = ()
    # Settings that speed the service up in the end-to-end suite (crm_common.testing_e2e), e.g.
    # a recovery loop's interval.
    e2e_env: Mapping[str, str] = field(default_factory=dict)
    # `crmctl <name> ...`: module with add_arguments(parser) and run(args, ctl).
    ctl: str = ""

    def __post_init__(self) -> None:
        problems = []
        # Usually crm_<name>; a longer name may keep a shorter package (territory-quota: crm_territory).
        if not (self.package.startswith("crm_") and self.package.isidentifier()):
            problems.append(f"package {self.package!r} should be a Python name starting crm_")
        if self.database != bool(self.migrations):
            problems.append("database=True needs migrations, and only then" if self.database else "migrations given but database=False")
        if self.worker != bool(self.worker_class):
            problems.append("worker=True needs worker_class, and only then" if self.worker else "worker_class given but worker=False")
        if self.privacy_coordinator and not (self.pii and self.worker):
            problems.append("privacy_coordinator needs pii=True and a worker (it consumes the confirmations)")
        if self.pii_maintenance and not (self.pii and self.database):
            problems.append("pii_maintenance needs pii=True and a database")
        declared = {p.name for p in self.permissions}
        if len(declared) != len(self.permissions):
            problems.append("a permission is declared twice")
        for role, granted in self.grants.items():
            unknown = sorted(set(granted) - declared)
            if unknown:
                problems.append(f"role {role!r} is granted {unknown}, which this service does not declare")
        if problems:
            raise RegistryError(f"service {self.name!r}: " + "; ".join(problems))

    @property
    def ports(self) -> tuple[int, int, int, int]:
        """gRPC, API metrics, worker metrics and relay metrics ports on loopback."""
        return (self.grpc_port, self.metrics_port, self.worker_metrics_port, self.relay_metrics_port)

    @property
    def command(self) -> str:
        return f"crm-{self.name}"

    @property
    def roles(self) -> tuple[str, ...]:
        """The workloads (Deployments) the service runs: api, and worker when it consumes events."""
        return ("api", "worker") if self.worker else ("api",)

    @property
    def processes(self) -> tuple[str, ...]:
        """Its commands that run as long-lived processes: api, relay when it has a database (the
        outbox relay, audit sealer and janitor; a sidecar of the API pod), worker when it
        consumes events."""
        return ("api", *(("relay",) if self.database else ()), *(("worker",) if self.worker else ()))


def load(path: str) -> Any:
    """Imports `module:attribute` (or a module, without the colon)."""
    module, _, attribute = path.partition(":")
    loaded = importlib.import_module(module)
    return getattr(loaded, attribute) if attribute else loaded


def validate(definitions: list[ServiceDefinition]) -> tuple[ServiceDefinition, ...]:
    """Sorted by name; raises RegistryError when two services share a name or a port."""
    problems = []
    seen_names: dict[str, int] = {}
    seen_ports: dict[int, str] = {}
    for definition in definitions:
        seen_names[definition.name] = seen_names.get(definition.name, 0) + 1
        if len(set(definition.ports)) != len(definition.ports):
            problems.append(f"{definition.name} uses one port twice: {definition.ports}")
        for port in set(definition.ports):
            owner = seen_ports.setdefault(port, definition.name)
            if owner != definition.name:
                problems.append(f"port {port} is used by {owner} and {definition.name}")
    problems += [f"service {name!r} is registered {count} times" for name, count in seen_names.items() if count > 1]
    if problems:
        raise RegistryError("service registry: " + "; ".join(sorted(set(problems))))
    return tuple(sorted(definitions, key=lambda d: d.name))


@cache
def services() -> tuple[ServiceDefinition, ...]:
    """Every installed service of the suite, sorted by name."""
    found = []
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        definition = entry.load()
        if not isinstance(definition, ServiceDefinition):
            raise RegistryError(f"entry point {entry.name} = {entry.value} is not a ServiceDefinition")
        if definition.name != entry.name:
            raise RegistryError(f"entry point {entry.name} = {entry.value} declares the service {definition.name!r}")
        found.append(definition)
    return validate(found)


def names() -> list[str]:
    return [definition.name for definition in services()]


def service(name: str) -> ServiceDefinition:
    for definition in services():
        if definition.name == name:
            return definition
    raise KeyError(f"no service {name!r} is installed; the registry has {names()}")


def privacy_participants(coordinator: str, pii_services: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The services a coordinator asks for a person's data: every `pii` service but itself (of
    `pii_services` when given, e.g. CRM_PII_SERVICES in a pod that has only its own entry)."""
    names = pii_services if pii_services is not None else tuple(d.name for d in services() if d.pii)
    return tuple(name for name in names if name != coordinator)


def consumed_events(definition: ServiceDefinition) -> tuple[ConsumedEvent, ...]:
    """What the service's worker consumes: its declaration, and for the privacy coordinator the
    ErasureConfirmed of every participant, which joins by its `pii` flag alone."""
    if not definition.privacy_coordinator:
        return definition.consumes
    confirmations = tuple(ConsumedEvent(name, "ErasureConfirmed") for name in privacy_participants(definition.name))
    return definition.consumes + tuple(c for c in confirmations if c not in definition.consumes)


def main(argv: list[str] | None = None) -> int:
    """`python -m crm_common.registry [--with database|worker|pii] [NAME ...]`: the installed
    services' names (of those given), one line, for the Makefile."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m crm_common.registry", description=main.__doc__)
    parser.add_argument("--with", dest="flag", choices=["database", "worker", "pii"], help="only services with this flag")
    parser.add_argument("names", nargs="*", help="restrict to these services (default: all)")
    args = parser.parse_args(argv)
    for name in args.names:
        service(name)  # an unknown name fails loudly
    chosen = [d.name for d in services() if (not args.names or d.name in args.names) and (not args.flag or getattr(d, args.flag))]
    print(" ".join(chosen))
    return 0


if __name__ == "__main__":
    # Through the package: run as __main__, this module's classes are not the ones services import.
    from crm_common.registry import main as registry_main

    raise SystemExit(registry_main())
