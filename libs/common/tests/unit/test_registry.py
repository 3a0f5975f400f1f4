"""The service registry (crm_common.registry) and what reads it: the role table, `crm-<svc>`'s
subcommands, `make up`'s databases. Made-up services only: libs/common names none of ours."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from crm_common.auth.roles import PII_READ, PLATFORM_GRANTS, role_table
from crm_common.cli import ServiceCommand
from crm_common.devstack import local_database_url
from crm_common.registry import Permission, RegistryError, ServiceDefinition, services, validate


def definition(name: str = "order", port: int = 50061, **fields: object) -> ServiceDefinition:
    values: dict[str, object] = dict(
        name=name,
        package=f"crm_{name}",
        grpc_port=port,
        metrics_port=port + 1000,
        worker_metrics_port=port + 2000,
        relay_metrics_port=port + 3000,
        grpc_service=f"crm.{name}.v1.{name.title()}Service",
        settings=f"crm_{name}.config:Settings",
        bootstrap=f"crm_{name}.bootstrap:bootstrap",
        migrations=f"crm_{name}:migrations",
        worker_class=f"crm_{name}.entrypoints.worker:Worker",
    )
    values.update(fields)
    return ServiceDefinition(**values)  # type: ignore[arg-type]


def test_a_definition_is_consistent_with_itself() -> None:
    with pytest.raises(RegistryError, match="database=True needs migrations"):
        definition(migrations="")
    with pytest.raises(RegistryError, match="worker_class given but worker=False"):
        definition(worker=False)
    with pytest.raises(RegistryError, match="package 'orders' should be a Python name starting crm_"):
        definition(package="orders")
    with pytest.raises(RegistryError, match="package 'crm_order-book' should be"):
        definition(package="crm_order-book")
    assert definition(package="crm_orders").package == "crm_orders"  # a shorter package is fine
    with pytest.raises(RegistryError, match=r"role 'clerk' is granted \['orders.delete'\]"):
        definition(permissions=(Permission("orders.read", "read orders"),), grants={"clerk": frozenset({"orders.read", "orders.delete"})})
    gateway = definition("gateway", database=False, migrations="", worker=False, worker_class="")
    assert gateway.roles == ("api",) and definition().roles == ("api", "worker")
    # The relay process runs where there is an outbox (a database); it is a container of the API pod, not a workload.
    assert gateway.processes == ("api",) and definition().processes == ("api", "relay", "worker")
    assert definition(worker=False, worker_class="").processes == ("api", "relay")


def test_names_and_ports_are_unique_and_the_registry_is_sorted() -> None:
    assert [d.name for d in validate([definition("order"), definition("billing", 50062)])] == ["billing", "order"]
    with pytest.raises(RegistryError, match="'order' is registered 2 times"):
        validate([definition("order"), definition("order", 50062)])
    with pytest.raises(RegistryError, match="port 50061 is used by order and billing"):
        validate([definition("order"), definition("billing", 50062, grpc_port=50061)])
    with pytest.raises(RegistryError, match="uses one port twice"):
        validate([definition(metrics_port=50061)])
    with pytest.raises(RegistryError, match="port 53061 is used by order and billing"):
        validate([definition("order"), definition("billing", 50062, relay_metrics_port=53061)])


def test_the_role_table_is_the_platform_grants_and_each_services() -> None:
    order = definition(permissions=(Permission("orders.read", "read orders"),), grants={"rm": frozenset({"orders.read"})})
    billing = definition(
        "billing",
        50062,
        permissions=(Permission("bills.pay", "pay bills"),),
        grants={"rm": frozenset({"bills.pay"}), "cashier": frozenset({"bills.pay"})},
    )
    table = role_table([order, billing])
    assert table["rm"] == {"orders.read", "bills.pay", PII_READ}
    assert table["cashier"] == {"bills.pay"}
    assert all(PII_READ in table[role] for role in PLATFORM_GRANTS)
    thief = definition("thief", 50063, permissions=(Permission("orders.read", "mine now"),))
    with pytest.raises(RegistryError, match=r"orders\.read is declared by order and by thief"):
        role_table([order, thief])
    with pytest.raises(RegistryError, match=r"pii\.read is declared by the platform"):
        role_table([definition(permissions=(Permission(PII_READ, "again"),))])


def test_the_command_offers_only_what_the_service_has(capsys: pytest.CaptureFixture[str]) -> None:
    gateway = ServiceCommand.from_definition(definition("gateway", database=False, migrations="", worker=False, worker_class=""))
    for missing in ("migrate", "relay", "worker", "dlq", "pii"):
        with pytest.raises(SystemExit) as exited:
            gateway.parser().parse_args([missing] + (["list"] if missing in ("dlq", "pii") else []))
        assert exited.value.code == 2
        assert "invalid choice" in capsys.readouterr().err
    full = ServiceCommand.from_definition(definition(pii=True, pii_maintenance="crm_order.adapters.pii_maintenance"))
    assert full.parser().parse_args(["pii", "reindex"]).action == "reindex"
    assert full.parser().parse_args(["migrate"]).command == "migrate"
    assert full.parser().parse_args(["relay"]).command == "relay"


def test_make_up_gives_each_service_its_own_database(tmp_path: Path) -> None:
    var = tmp_path / "var"
    assert local_database_url("order", {}, var) == f"sqlite:///{var.resolve()}/order.db"
    server = "postgresql+psycopg://crm:pw@db.local:5432/postgres"
    assert local_database_url("order", {"DATABASE_URL": server}, var) == "postgresql+psycopg://crm:pw@db.local:5432/crm_order"
    assert local_database_url("order", {"DATABASE_URL": "postgresql+psycopg://crm@db/{service}_dev"}, var) == "postgresql+psycopg://crm@db/order_dev"
    assert local_database_url("order", {"DATABASE_URL": "sqlite:////data/suite.db"}, var) == "sqlite:////data/crm_order.db"
    own = {"DATABASE_URL": server, "ORDER_DATABASE_URL": "sqlite:////tmp/o.db"}
    assert local_database_url("order", own, var) == "sqlite:////tmp/o.db"


def test_service_definitions_and_the_api_process_import_light() -> None:
    """Every process reads the registry; the API of a service without a database or a worker
    needs neither sqlalchemy nor nameko."""
    probe = """
import importlib, sys
from crm_common.registry import services
import crm_common.app, crm_common.cli, crm_common.grpc.server
for d in services():
    importlib.import_module(d.package + ".service")
heavy = sorted(m for m in ("sqlalchemy", "alembic", "psycopg", "nameko", "eventlet", "kombu", "pika") if m in sys.modules)
print(" ".join(heavy) or "light")
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "light"
    definitions_only = "import sys\nfrom crm_common.registry import services\nservices()\nprint('grpc' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", definitions_only], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_the_installed_registry_is_valid() -> None:
    installed = services()
    assert installed == validate(list(installed))
    role_table(installed)


def test_a_service_joins_data_subject_rights_by_its_pii_flag_alone() -> None:
    """The coordinator's participants and the confirmations its worker consumes follow from the
    `pii` services (of the registry, or of CRM_PII_SERVICES in a pod that has only its own entry)."""
    from crm_common.registry import ConsumedEvent, consumed_events, privacy_participants

    with pytest.raises(RegistryError, match="privacy_coordinator needs pii=True and a worker"):
        definition("customer", privacy_coordinator=True)
    assert privacy_participants("customer", ("billing", "customer", "service-case")) == ("billing", "service-case")
    plain = definition(consumes=(ConsumedEvent("billing", "InvoicePaid"),))
    assert consumed_events(plain) == plain.consumes
    # The installed suite: its coordinator hears every other pii service.
    [coordinator] = [d for d in services() if d.privacy_coordinator]
    expected = {ConsumedEvent(d.name, "ErasureConfirmed") for d in services() if d.pii and d is not coordinator}
    assert expected and expected <= set(consumed_events(coordinator))
    assert not {c for c in coordinator.consumes if c.message == "ErasureConfirmed"}, "declared by the registry, not by hand"
