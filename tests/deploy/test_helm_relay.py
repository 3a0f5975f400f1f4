"""The relay process in the chart: by default (`relay.separate: true`) every API pod of a service
with a database carries a `relay` container (`crm-<service> relay`) and the API runs with
RELAY_IN_API=false; switched off, the API relays, seals and cleans up on its own threads again."""

from __future__ import annotations

import pytest
from deploy_helpers import RELEASE, SCENARIOS, container, containers, pod_spec

from crm_common.registry import service as registered


def env_of(c: dict) -> dict:
    return {e["name"]: e for e in c.get("env", [])}


def metrics_ingress_ports(r, service: str) -> set[int]:
    policy = r.get("NetworkPolicy", f"{RELEASE}-{service}-api")
    return {p["port"] for rule in policy["spec"]["ingress"] if rule.get("from") != [] for p in rule["ports"]} - {50051}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_api_pod_carries_the_relay_container(rendered, services, scenario, chart_values):
    r = rendered[scenario]
    prefix = ["crm-dev-reload", "--"] if scenario == "dev" else []
    shutdown, grpc = chart_values["shutdown"], chart_values["grpc"]
    for service in services:
        assert registered(service).database
        deployment = r.get("Deployment", f"{RELEASE}-{service}-api")
        assert [c["name"] for c in containers(deployment)] == ["api", "relay"]
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
        # It relays what the draining API still commits, then has the margin to finish its batch.
        drain = int(data["GRPC_DRAIN_SECONDS"])
        relay_sleep = shutdown["preStopSleepSeconds"] + drain + grpc["graceSeconds"]
        assert relay["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", str(relay_sleep)]
        assert pod_spec(deployment)["terminationGracePeriodSeconds"] == relay_sleep + shutdown["marginSeconds"]
        service_ports = {p["name"]: p for p in r.get("Service", f"{RELEASE}-{service}")["spec"]["ports"]}
        assert service_ports["relay-metrics"]["targetPort"] == "relay-metrics" and service_ports["relay-metrics"]["port"] == 9466
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
    assert [c["name"] for c in containers(lead)] == ["api"]
    data = r.get("ConfigMap", f"{RELEASE}-lead")["data"]
    assert data["RELAY_IN_API"] == "true" and "RELAY_METRICS_PORT" not in data
    assert "relay-metrics" not in {p["name"] for p in r.get("Service", f"{RELEASE}-lead")["spec"]["ports"]}
    assert [e["port"] for e in r.get("ServiceMonitor", f"{RELEASE}-lead-api")["spec"]["endpoints"]] == ["metrics"]
    assert metrics_ingress_ports(r, "lead") == {9464}
    # The other services keep theirs.
    account = r.get("Deployment", f"{RELEASE}-account-api")
    assert [c["name"] for c in containers(account)] == ["api", "relay"]
    assert r.get("ConfigMap", f"{RELEASE}-account")["data"]["RELAY_IN_API"] == "false"


def test_separate_false_for_every_service_and_a_relay_port_of_its_own(render, services):
    off = render(sets=["serviceDefaults.relay.separate=false"])
    for service in services:
        assert [c["name"] for c in containers(off.get("Deployment", f"{RELEASE}-{service}-api"))] == ["api"]
    moved = render(sets=["metrics.relayPort=9476"])
    relay = container(moved.get("Deployment", f"{RELEASE}-lead-api"), "relay")
    assert relay["ports"][0]["containerPort"] == 9476
    assert moved.get("ConfigMap", f"{RELEASE}-lead")["data"]["RELAY_METRICS_PORT"] == "9476"
    assert metrics_ingress_ports(moved, "lead") == {9464, 9476}


def test_a_service_without_a_database_has_no_relay(render):
    """database: false: no outbox, no audit log, no janitor work, so no relay container and no setting."""
    r = render(sets=["services.opportunity.database=false"])
    assert [c["name"] for c in containers(r.get("Deployment", f"{RELEASE}-opportunity-api"))] == ["api"]
    data = r.get("ConfigMap", f"{RELEASE}-opportunity")["data"]
    assert "RELAY_IN_API" not in data and "RELAY_METRICS_PORT" not in data
