"""The service registry (crm_common.registry) against everything that keeps its own list: the
chart's `services:` map, the Tiltfile's SERVICES, the Makefile's reading of the pyproject files,
and each service's own code (settings, worker, contract)."""

from __future__ import annotations

import subprocess
import tomllib

import pytest
import yaml
from deploy_helpers import CHART, RELEASE, ROOT, SERVICES, container
from test_tiltfile import run_tiltfile

from crm_common.registry import ServiceDefinition, consumed_events, load, services
from crm_common.testing import stub_class

DEFINITIONS = {d.name: d for d in services()}


@pytest.fixture(scope="module")
def tilt(tools):
    return run_tiltfile(tools)


def test_one_list_of_services(services):
    assert list(DEFINITIONS) == SERVICES, "installed registry vs services/*/pyproject.toml: run `make setup`"
    assert services == SERVICES, "the chart's services: map must match the registry"
    make = subprocess.run(
        ["make", "-s", "--no-print-directory", "-f", "Makefile", "-f", "-", "print-services"],
        cwd=ROOT,
        input="print-services:\n\t@echo $(SERVICES)\n",
        capture_output=True,
        text=True,
        check=True,
    )
    assert make.stdout.split() == SERVICES


def test_every_service_lives_where_its_name_says():
    for name, definition in DEFINITIONS.items():
        pyproject = tomllib.loads((ROOT / "services" / name / "pyproject.toml").read_text())["project"]
        assert pyproject["entry-points"]["crm.services"] == {name: f"{definition.package}.service:SERVICE"}
        assert pyproject["scripts"][definition.command] == f"{definition.package}.entrypoints.cli:main"
        assert (ROOT / "services" / name / "src" / definition.package / "service.py").is_file()


def test_tiltfile_ports_are_the_registry_ports(tilt):
    for name, definition in DEFINITIONS.items():
        forwards = {r["name"]: {pf["name"]: pf["local"] for pf in r["port_forwards"]} for r in tilt.resources}
        relay = {"relay-metrics": definition.relay_metrics_port} if definition.database else {}
        assert forwards[f"{name}-api"] == {"grpc": definition.grpc_port, "metrics": definition.metrics_port, **relay}
        if definition.worker:
            assert forwards[f"{name}-worker"] == {"metrics": definition.worker_metrics_port}
        else:
            assert f"{name}-worker" not in forwards
    packages = {image["build_args"]["SERVICE"]: image["build_args"]["PACKAGE"] for image in tilt.images}
    assert packages == {name: definition.package for name, definition in DEFINITIONS.items()}, "live_update syncs the registry's package"


def test_chart_health_service_and_flags_match_the_registry(rendered, chart_values):
    defaults = chart_values["serviceDefaults"]
    pii = ",".join(name for name, d in DEFINITIONS.items() if d.pii)
    for name, definition in DEFINITIONS.items():
        values = {**defaults, **(chart_values["services"][name] or {})}
        assert values["pii"] == definition.pii, name
        assert values["database"] == definition.database, name
        assert {**defaults["worker"], **values["worker"]}["enabled"] == definition.worker, name
        for scenario in rendered.values():
            api = container(scenario.get("Deployment", f"{RELEASE}-{name}-api"), "api")
            assert api["readinessProbe"]["grpc"]["service"] == definition.grpc_service
            data = scenario.get("ConfigMap", f"{RELEASE}-{name}")["data"]
            assert data["CRM_PII_SERVICES"] == pii
            if definition.pii:
                # Each reaches the others' PersonalDataService (a person's export, crm_common.privacy).
                for other in pii.split(","):
                    if other != name:
                        assert data[f"{other.upper().replace('-', '_')}_GRPC_TARGET"] == f"{RELEASE}-{other}:50051", (name, other)


def test_ci_values_name_only_registered_services():
    for path in (CHART / "ci").glob("*-values.yaml"):
        assert set((yaml.safe_load(path.read_text()) or {}).get("services") or {}) <= set(DEFINITIONS), path.name


@pytest.mark.parametrize("definition", DEFINITIONS.values(), ids=list(DEFINITIONS))
def test_the_service_code_agrees_with_its_entry(definition: ServiceDefinition):
    settings_cls = load(definition.settings)
    defaults = settings_cls.model_fields
    assert defaults["service_name"].default == definition.name
    ports = ("grpc_port", "metrics_port", "worker_metrics_port", "relay_metrics_port")
    assert tuple(defaults[port].default for port in ports) == definition.ports
    for variable in definition.config_files:
        assert variable.lower() in defaults, f"{definition.name}: {variable} is not a setting"
    assert callable(load(definition.bootstrap))
    if definition.database:
        # The relay process (crm_common.relay_process) publishes on the exchange of the registry name.
        assert load(f"{definition.package}.adapters.events:PRODUCER") == definition.name
    assert stub_class(definition).__name__ == definition.grpc_service.rpartition(".")[2] + "Stub"
    if definition.worker:
        from nameko.containers import get_container_cls
        from nameko.events import EventHandler

        container = get_container_cls({})(load(definition.worker_class), {"AMQP_URI": "memory://"})
        consumed = {(e.source_service, e.event_type) for e in container.entrypoints if isinstance(e, EventHandler)}
        assert consumed == {(c.producer, c.message) for c in consumed_events(definition)}
    if definition.pii and not definition.privacy_coordinator:
        # A participant in data-subject rights hears the coordinator's erasures (crm_common.privacy).
        coordinators = {d.name for d in DEFINITIONS.values() if d.privacy_coordinator}
        assert definition.worker and {(c, "ErasureRequested") for c in coordinators} <= consumed, definition.name
