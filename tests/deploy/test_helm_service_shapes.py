"""Services without a database (`database: false`) or without a worker (`worker.enabled: false`).

tests/deploy/values/service-shapes.yaml adds three fake services next to the suite's own:
edge (neither), quota (a database, no worker) and relay (a worker, no database). Autoscaling,
PDBs and monitors are on, so that their absence is seen too.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from deploy_helpers import KUBE_NATIVE_SIDECARS, KUBE_OLDEST, RELEASE, ROOT, container, containers, pod_labels, selector_matches

from crm_common.registry import services

SHAPES = Path(__file__).parent / "values" / "service-shapes.yaml"
DEV = ["dev.enabled=true", "config.env=dev"]
EVERYTHING_ON = ["serviceMonitor.enabled=true", "serviceDefaults.api.autoscaling.enabled=true", "serviceDefaults.worker.autoscaling.enabled=true"]

SHARED = {"ServiceAccount": "", "ConfigMap": "", "Service": "", "ServiceMonitor": "-api", "Pod": "-test-health"}
API = {"Deployment": "-api", "HorizontalPodAutoscaler": "-api", "PodDisruptionBudget": "-api", "NetworkPolicy": "-api"}
WORKER = {
    "Deployment": "-worker",
    "HorizontalPodAutoscaler": "-worker",
    "PodDisruptionBudget": "-worker",
    "NetworkPolicy": "-worker",
    "PodMonitor": "-worker",
}
MIGRATION = {"Job": "-migrate", "ServiceAccount": "-migrate", "NetworkPolicy": "-migrate"}


def objects(*groups, service):
    return {(kind, f"{RELEASE}-{service}{suffix}") for group in groups for kind, suffix in group.items()}


EXPECTED = {
    "edge": objects(SHARED, API, service="edge"),
    "quota": objects(SHARED, API, MIGRATION, service="quota"),
    "relay": objects(SHARED, API, WORKER, service="relay"),
    # A service of the suite, rendered the same way, has all of them.
    "lead": objects(SHARED, API, WORKER, MIGRATION, service="lead"),
}


@pytest.fixture(scope="module")
def shapes(render):
    return render(values=[SHAPES], sets=EVERYTHING_ON)


def of_service(r, service):
    prefix = f"{RELEASE}-{service}"
    return {(d["kind"], d["metadata"]["name"]) for d in r.docs if d["metadata"]["name"] == prefix or d["metadata"]["name"].startswith(prefix + "-")}


@pytest.mark.parametrize("service", sorted(EXPECTED))
def test_exactly_the_objects_of_the_shape(shapes, service):
    assert of_service(shapes, service) == EXPECTED[service]


def env_names(doc):
    return {e["name"] for c in containers(doc) for e in c.get("env", [])}


def test_no_database_means_no_database_url_and_no_postgresql_egress(shapes, chart_values):
    pg_ports = set(chart_values["networkPolicy"]["postgresql"]["ports"])
    for service, has_database in (("edge", False), ("relay", False), ("quota", True), ("lead", True)):
        workloads = [d for d in shapes.pod_owners() if pod_labels(d).get("crm/service") == service and d["kind"] != "Pod"]
        assert workloads
        for doc in workloads:
            assert ("DATABASE_URL" in env_names(doc)) is has_database, doc["metadata"]["name"]
            # The other secrets stay: every process talks to RabbitMQ and checks tokens and PII keys.
            assert {"AMQP_URI", "JWT_KEY", "PII_KEYS", "PII_INDEX_KEY"} <= env_names(doc), doc["metadata"]["name"]
        for component in ("api", "worker"):
            name = f"{RELEASE}-{service}-{component}"
            if ("NetworkPolicy", name) not in EXPECTED[service]:
                continue
            policy = shapes.get("NetworkPolicy", name)
            ports = {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]}
            assert bool(pg_ports & ports) is has_database, name
            assert 5671 in ports and 50051 in ports, name


def test_no_worker_means_no_worker_settings_or_monitor(shapes):
    for service, has_worker in (("edge", False), ("quota", False), ("relay", True)):
        data = shapes.get("ConfigMap", f"{RELEASE}-{service}")["data"]
        assert ("WORKER_METRICS_PORT" in data) is has_worker, service
        # The API is untouched: its Service, probes and monitor stay.
        api = shapes.get("Deployment", f"{RELEASE}-{service}-api")
        svc = shapes.get("Service", f"{RELEASE}-{service}")
        assert selector_matches({"matchLabels": svc["spec"]["selector"]}, pod_labels(api))
        assert container(api, "api")["readinessProbe"]["grpc"]["port"] == 50051
    assert shapes.get("ConfigMap", f"{RELEASE}-edge")["data"]["LEAD_GRPC_TARGET"] == f"{RELEASE}-lead:50051"


def test_dev_creates_databases_and_database_urls_only_for_services_with_a_database(render):
    r = render(values=[SHAPES], sets=DEV)
    init = r.get("ConfigMap", f"{RELEASE}-postgresql-init")["data"]["10-databases.sql"]
    databases = {line.strip().removeprefix("CREATE DATABASE ").rstrip(";") for line in init.splitlines() if line.strip()}
    assert databases == {"crm_" + d.name.replace("-", "_") for d in services() if d.database} | {"crm_quota"}
    for service, has_database in (("edge", False), ("relay", False), ("quota", True)):
        data = r.get("Secret", f"{RELEASE}-{service}")["stringData"]
        assert ("DATABASE_URL" in data) is has_database, service
        assert {"AMQP_URI", "JWT_KEY", "PII_KEYS", "PII_INDEX_KEY"} <= set(data), service


@pytest.mark.parametrize("kube", [KUBE_OLDEST, KUBE_NATIVE_SIDECARS])
def test_the_shapes_are_valid_kubernetes_objects(tools, tmp_path, kube):
    """Strict Kubernetes schemas (as deploy/check.sh runs them on the ci scenarios) for the shapes too,
    rendered for a version and checked against it and the newest."""
    out = tmp_path / "shapes.yaml"
    cmd = [tools.helm, "template", RELEASE, str(ROOT / "deploy" / "helm" / "crm"), "-n", "crm", "--values", str(SHAPES), "--kube-version", kube]
    cmd += [arg for item in EVERYTHING_ON for arg in ("--set", item)]
    out.write_text(subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=60).stdout)
    validate = [tools.python, str(ROOT / "deploy" / "validate_manifests.py"), "--kube-version", kube, "--kube-version", "latest", str(out)]
    result = subprocess.run(validate, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
