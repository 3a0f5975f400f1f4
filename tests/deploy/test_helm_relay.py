"""The relay process in the chart: by default (`relay.separate: true`) every API pod of a service
with a database carries a `relay` container (`crm-<service> relay`) and the API runs with
RELAY_IN_API=false; switched off, the API relays, seals and cleans up on its own threads again.
The relay container is a native sidecar (an init container with restartPolicy: Always, no pre-stop
sleep) on Kubernetes 1.29+ or with nativeSidecars=true, a regular container with a pre-stop sleep
before 1.29 or with nativeSidecars=false."""

from __future__ import annotations

import pytest
import yaml
from deploy_helpers import KUBE_BEFORE_SIDECARS, KUBE_NATIVE_SIDECARS, RELEASE, SCENARIOS, container, pod_spec

from crm_common.registry import service as registered


def env_of(c: dict) -> dict:
    return {e["name"]: e for e in c.get("env", [])}


def layout(deployment: dict) -> tuple[list[str], list[str]]:
    """Names of the init containers and of the containers of a pod-owning object."""
    spec = pod_spec(deployment)
    return [c["name"] for c in spec.get("initContainers", [])], [c["name"] for c in spec["containers"]]


def native_expected(scenario: str, kube: str, chart_values: dict) -> bool:
    """What nativeSidecars (the scenario's, else the chart's) gives for Kubernetes `kube`."""
    mode = chart_values["nativeSidecars"]
    for path in SCENARIOS[scenario]:
        mode = (yaml.safe_load(path.read_text()) or {}).get("nativeSidecars", mode)
    if isinstance(mode, bool):
        return mode
    assert mode == "auto"
    return tuple(int(n) for n in kube.split(".")[:2]) >= (1, 29)


def assert_relay_layout(deployment: dict, native: bool, relay_sleep: int) -> None:
    """Native: the relay alone in initContainers, restartPolicy Always, no pre-stop hook; else a
    regular container after the API whose pre-stop sleep outlasts the API's drain."""
    relay = container(deployment, "relay")
    if native:
        assert layout(deployment) == (["relay"], ["api"])
        assert relay["restartPolicy"] == "Always"
        assert "lifecycle" not in relay, "the kubelet stops it after the API: no pre-stop sleep"
    else:
        assert layout(deployment) == ([], ["api", "relay"])
        assert "restartPolicy" not in relay
        assert relay["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", str(relay_sleep)]


def metrics_ingress_ports(r, service: str) -> set[int]:
    policy = r.get("NetworkPolicy", f"{RELEASE}-{service}-api")
    return {p["port"] for rule in policy["spec"]["ingress"] if rule.get("from") != [] for p in rule["ports"]} - {50051}


@pytest.mark.parametrize("kube", [KUBE_BEFORE_SIDECARS, KUBE_NATIVE_SIDECARS])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_api_pod_carries_the_relay_container(rendered_by_kube, services, scenario, kube, chart_values):
    r = rendered_by_kube[kube][scenario]
    prefix = ["crm-dev-reload", "--"] if scenario == "dev" else []
    shutdown, grpc = chart_values["shutdown"], chart_values["grpc"]
    native = native_expected(scenario, kube, chart_values)
    for service in services:
        assert registered(service).database
        deployment = r.get("Deployment", f"{RELEASE}-{service}-api")
        api, relay = container(deployment, "api"), container(deployment, "relay")
        assert relay["command"] == [*prefix, f"crm-{service}", "relay"]
        assert relay["image"] == api["image"] and relay["imagePullPolicy"] == api["imagePullPolicy"]
        assert relay["ports"] == [{"name": "relay-metrics", "containerPort": 9466, "protocol": "TCP"}]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert relay[probe]["httpGet"] == {"path": "/metrics", "port": "relay-metrics"}, probe
        # The same settings, Secret and hardening as the API; its own telemetry identity.
        assert relay["envFrom"] == api["envFrom"]
        assert {k: v for k, v in env_of(relay).items() if k not in ("OTEL_RESOURCE_ATTRIBUTES",)} == {
            k: v for k, v in env_of(api).items() if k not in ("OTEL_RESOURCE_ATTRIBUTES",) and not k.endswith("_FILE")
        }
        assert "crm.component=relay" in env_of(relay)["OTEL_RESOURCE_ATTRIBUTES"]["value"]
        assert relay["securityContext"] == api["securityContext"]
        assert relay["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}], "no rule files: it reads none"
        data = r.get("ConfigMap", f"{RELEASE}-{service}")["data"]
        assert (data["RELAY_IN_API"], data["RELAY_METRICS_PORT"]) == ("false", "9466")
        # It relays what the draining API still commits (a native sidecar: until the API has exited),
        # then has the margin to finish its batch; the grace period is the same either way.
        drain = int(data["GRPC_DRAIN_SECONDS"])
        relay_sleep = shutdown["preStopSleepSeconds"] + drain + grpc["graceSeconds"]
        assert_relay_layout(deployment, native, relay_sleep)
        assert pod_spec(deployment)["terminationGracePeriodSeconds"] == relay_sleep + shutdown["marginSeconds"]
        service_ports = {p["name"]: p for p in r.get("Service", f"{RELEASE}-{service}")["spec"]["ports"]}
        assert service_ports["relay-metrics"]["targetPort"] == 9466 and service_ports["relay-metrics"]["port"] == 9466
        assert metrics_ingress_ports(r, service) == {9464, 9466}


def test_relay_resources_come_from_values(rendered, chart_values):
    relay = container(rendered["default"].get("Deployment", f"{RELEASE}-lead-api"), "relay")
    assert relay["resources"] == chart_values["serviceDefaults"]["relay"]["resources"]


def test_the_relay_metrics_are_scraped_through_the_service_monitor(rendered, services):
    r = rendered["production"]
    for service in services:
        monitor = r.get("ServiceMonitor", f"{RELEASE}-{service}-api")
        assert [e["port"] for e in monitor["spec"]["endpoints"]] == ["metrics", "relay-metrics"]
        assert all(e["path"] == "/metrics" for e in monitor["spec"]["endpoints"])
        metrics_from = r.get("NetworkPolicy", f"{RELEASE}-{service}-api")["spec"]["ingress"]
        relay_rule = next(rule for rule in metrics_from if rule["ports"] == [{"protocol": "TCP", "port": 9466}])
        assert relay_rule["from"], "only the monitoring namespace scrapes it"


def test_separate_false_keeps_the_relay_in_the_api(render):
    r = render(sets=["services.lead.relay.separate=false", "serviceMonitor.enabled=true"])
    lead = r.get("Deployment", f"{RELEASE}-lead-api")
    assert layout(lead) == ([], ["api"])
    data = r.get("ConfigMap", f"{RELEASE}-lead")["data"]
    assert data["RELAY_IN_API"] == "true" and "RELAY_METRICS_PORT" not in data
    assert "relay-metrics" not in {p["name"] for p in r.get("Service", f"{RELEASE}-lead")["spec"]["ports"]}
    assert [e["port"] for e in r.get("ServiceMonitor", f"{RELEASE}-lead-api")["spec"]["endpoints"]] == ["metrics"]
    assert metrics_ingress_ports(r, "lead") == {9464}
    # The other services keep theirs.
    account = r.get("Deployment", f"{RELEASE}-account-api")
    assert layout(account) == (["relay"], ["api"])
    assert r.get("ConfigMap", f"{RELEASE}-account")["data"]["RELAY_IN_API"] == "false"


def test_separate_false_for_every_service_and_a_relay_port_of_its_own(render, services):
    off = render(sets=["serviceDefaults.relay.separate=false"])
    for service in services:
        assert layout(off.get("Deployment", f"{RELEASE}-{service}-api")) == ([], ["api"])
    moved = render(sets=["metrics.relayPort=9476"])
    relay = container(moved.get("Deployment", f"{RELEASE}-lead-api"), "relay")
    assert relay["ports"][0]["containerPort"] == 9476
    assert moved.get("ConfigMap", f"{RELEASE}-lead")["data"]["RELAY_METRICS_PORT"] == "9476"
    relay_port = next(p for p in moved.get("Service", f"{RELEASE}-lead")["spec"]["ports"] if p["name"] == "relay-metrics")
    assert relay_port["port"] == relay_port["targetPort"] == 9476
    assert metrics_ingress_ports(moved, "lead") == {9464, 9476}


def test_a_service_without_a_database_has_no_relay(render):
    """database: false: no outbox, no audit log, no janitor work, so no relay container and no setting."""
    r = render(sets=["services.opportunity.database=false"])
    assert layout(r.get("Deployment", f"{RELEASE}-opportunity-api")) == ([], ["api"])
    data = r.get("ConfigMap", f"{RELEASE}-opportunity")["data"]
    assert "RELAY_IN_API" not in data and "RELAY_METRICS_PORT" not in data


@pytest.mark.parametrize(
    ("sets", "kube", "native"),
    [
        (["nativeSidecars=true"], KUBE_BEFORE_SIDECARS, True),
        (["nativeSidecars=false"], "1.32.0", False),
        ([], "v1.29.3-eks-ae9a62a", True),
        ([], "1.28.9-gke.1000000", False),
    ],
    ids=["forced-on-1.28", "forced-off-1.32", "auto-eks-1.29", "auto-gke-1.28"],
)
def test_native_sidecars_follow_the_value_then_the_kube_version(render, chart_values, sets, kube, native):
    """true/false win over the version Helm renders for; auto reads it, vendor suffixes included."""
    r = render(sets=sets, kube_version=kube)
    shutdown, grpc = chart_values["shutdown"], chart_values["grpc"]
    relay_sleep = shutdown["preStopSleepSeconds"] + grpc["drainSeconds"] + grpc["graceSeconds"]
    for service in ("lead", "account"):
        deployment = r.get("Deployment", f"{RELEASE}-{service}-api")
        assert_relay_layout(deployment, native, relay_sleep)
        relay = container(deployment, "relay")
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert relay[probe]["httpGet"] == {"path": "/metrics", "port": "relay-metrics"}, probe
        # The API keeps its own pre-stop sleep and probes; the worker never has an init container.
        api = container(deployment, "api")
        assert api["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", str(shutdown["preStopSleepSeconds"])]
        assert api["startupProbe"]["grpc"] == {"port": 50051}
        assert layout(r.get("Deployment", f"{RELEASE}-{service}-worker")) == ([], ["worker"])
    # The Service targets the port by number: Endpoints resolve a native sidecar's named ports only
    # from about Kubernetes 1.32 (kubernetes#127976), and a regular container's number is the same.
    ports = {p["name"]: p["targetPort"] for p in r.get("Service", f"{RELEASE}-lead")["spec"]["ports"]}
    assert ports["relay-metrics"] == container(r.get("Deployment", f"{RELEASE}-lead-api"), "relay")["ports"][0]["containerPort"]


def test_a_native_relay_is_the_same_container_as_a_regular_one(render):
    """Only where it is declared, restartPolicy and the pre-stop hook differ between the two modes."""
    before = container(render(kube_version=KUBE_BEFORE_SIDECARS).get("Deployment", f"{RELEASE}-lead-api"), "relay")
    native = container(render(kube_version=KUBE_NATIVE_SIDECARS).get("Deployment", f"{RELEASE}-lead-api"), "relay")
    assert native.pop("restartPolicy") == "Always"
    assert before.pop("lifecycle")["preStop"]
    assert native == before
