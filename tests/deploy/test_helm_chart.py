"""Promises of the Helm chart, read off the rendered manifests (default, dev and production values)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml
from deploy_helpers import CHART, RELEASE, container, containers, pod_labels, pod_spec, selector_matches
from deploy_helpers import SCENARIOS as SCENARIO_VALUES

from crm_common.registry import service as registered

SCENARIOS = ["default", "dev", "production", "config-files"]
PII_ENV = {"PII_KEYS": "PII_KEYS", "PII_INDEX_KEY": "PII_INDEX_KEY"}  # variable -> key in the Secret (default names)
SECRET_ENV = {"DATABASE_URL", "AMQP_URI", "JWT_KEY", *PII_ENV}
RELEASE_LABELS = {"app.kubernetes.io/name": "crm", "app.kubernetes.io/instance": RELEASE}
CREDENTIALS_IN_URL = re.compile(r"://[^/\s:@]+:[^/\s@]+@")


def service_owners(r, service):
    return [d for d in r.pod_owners() if pod_labels(d).get("crm/service") == service]


def env_of(container):
    return {e["name"]: e for e in container.get("env", [])}


def service_workloads(r, service):
    """(where, container) of every container of the API (its relay container too), the worker
    and the migration Job of a service."""
    for kind, suffix in (("Deployment", "api"), ("Deployment", "worker"), ("Job", "migrate")):
        for c in containers(r.get(kind, f"{RELEASE}-{service}-{suffix}")):
            yield f"{kind}/{RELEASE}-{service}-{suffix}/{c['name']}", c


def is_hook(doc, hook):
    hooks = (doc["metadata"].get("annotations") or {}).get("helm.sh/hook", "")
    return hook in hooks.split(",")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_object_carries_the_standard_labels(rendered, scenario):
    for doc in rendered[scenario].docs:
        labels = doc["metadata"].get("labels", {})
        for key in (
            "app.kubernetes.io/name",
            "app.kubernetes.io/instance",
            "app.kubernetes.io/version",
            "app.kubernetes.io/managed-by",
            "helm.sh/chart",
            "app.kubernetes.io/part-of",
        ):
            assert key in labels, f"{doc['kind']}/{doc['metadata']['name']} lacks label {key}"
        assert doc["metadata"].get("namespace") == "crm", f"{doc['kind']}/{doc['metadata']['name']} has no namespace"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_container_runs_unprivileged(rendered, scenario):
    for doc in rendered[scenario].pod_owners():
        spec = pod_spec(doc)
        where = f"{scenario}: {doc['kind']}/{doc['metadata']['name']}"
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", where
        assert spec["automountServiceAccountToken"] is False, where
        assert spec.get("serviceAccountName") not in (None, "", "default"), where
        for c in containers(doc):
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] is True, where
            assert sc["runAsUser"] > 0, where
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["capabilities"]["drop"] == ["ALL"] and not sc["capabilities"].get("add"), where
            assert sc["seccompProfile"]["type"] == "RuntimeDefault", where
            if scenario != "dev":
                assert sc["readOnlyRootFilesystem"] is True, where
            mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
            assert "/tmp" in mounts, f"{where}: no writable /tmp"
            for key in ("hostNetwork", "hostPID", "hostIPC"):
                assert not spec.get(key), where


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_container_has_requests_and_limits(rendered, scenario):
    for doc in rendered[scenario].pod_owners():
        for c in containers(doc):
            res = c["resources"]
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(res.get(part, {})), f"{doc['metadata']['name']}: {part}"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_long_running_containers_have_probes(rendered, scenario):
    for doc in rendered[scenario].of_kind("Deployment"):
        for c in containers(doc):
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                assert probe in c, f"{doc['metadata']['name']} lacks {probe}"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_api_uses_native_grpc_health_probes(rendered, services, scenario):
    for service in services:
        api = rendered[scenario].get("Deployment", f"{RELEASE}-{service}-api")
        c = container(api, "api")
        assert c["livenessProbe"]["grpc"] == {"port": 50051}
        assert c["startupProbe"]["grpc"] == {"port": 50051}
        health_name = registered(service).grpc_service
        assert c["readinessProbe"]["grpc"] == {"port": 50051, "service": health_name}
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        assert ports == {"grpc": 50051, "metrics": 9464}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_workloads_run_the_service_console_script(rendered, services, scenario):
    prefix = ["crm-dev-reload", "--"] if scenario == "dev" else []
    for service in services:
        r = rendered[scenario]
        for component in ("api", "worker"):
            c = container(r.get("Deployment", f"{RELEASE}-{service}-{component}"), component)
            assert c["command"] == [*prefix, f"crm-{service}", component]
            assert c["image"].startswith(f"crm-{service}:") or c["image"].startswith(f"crm-{service}@")
        # The relay process beside the API, from the same image (tests/deploy/test_helm_relay.py).
        api = r.get("Deployment", f"{RELEASE}-{service}-api")
        relay = container(api, "relay")
        assert relay["command"] == [*prefix, f"crm-{service}", "relay"]
        assert relay["image"] == container(api, "api")["image"]
        (c,) = containers(r.get("Job", f"{RELEASE}-{service}-migrate"))
        assert c["command"] == [f"crm-{service}", "migrate"]


@pytest.mark.parametrize("scenario", ["default", "production"])
def test_every_service_has_its_migration_hook(rendered, services, scenario):
    r = rendered[scenario]
    for service in services:
        job = r.get("Job", f"{RELEASE}-{service}-migrate")
        annotations = job["metadata"]["annotations"]
        assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
        assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
        (c,) = containers(job)
        secret_ref = env_of(c)["DATABASE_URL"]["valueFrom"]["secretKeyRef"]
        api = container(r.get("Deployment", f"{RELEASE}-{service}-api"), "api")
        assert secret_ref == env_of(api)["DATABASE_URL"]["valueFrom"]["secretKeyRef"], "same database as the API"
        # A pre-install hook runs before ordinary objects exist: everything it uses is a hook
        # with a lower weight, or external (the Secret).
        sa = r.get("ServiceAccount", pod_spec(job)["serviceAccountName"])
        assert is_hook(sa, "pre-install") and is_hook(sa, "pre-upgrade")
        assert int(sa["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(annotations["helm.sh/hook-weight"])
        assert "envFrom" not in c, "the settings ConfigMap does not exist yet at pre-install"
        assert env_of(c)["CRM_ENV"]["value"] == "production"


def test_dev_migrations_are_plain_jobs_ordered_by_tilt(rendered, services):
    for service in services:
        job = rendered["dev"].get("Job", f"{RELEASE}-{service}-migrate")
        assert "helm.sh/hook" not in (job["metadata"].get("annotations") or {})


@pytest.mark.parametrize("scenario", ["default", "production"])
def test_no_secret_is_rendered_outside_dev(rendered, scenario):
    assert rendered[scenario].of_kind("Secret") == []


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_secrets_are_only_referenced(rendered, scenario):
    r = rendered[scenario]
    for doc in r.pod_owners():
        for c in containers(doc):
            for env in c.get("env", []):
                if env["name"] in SECRET_ENV:
                    assert "value" not in env, f"{doc['metadata']['name']}: {env['name']} inlined"
                    assert "secretKeyRef" in env["valueFrom"]
                else:
                    assert not CREDENTIALS_IN_URL.search(str(env.get("value", ""))), env
    for cm in r.of_kind("ConfigMap"):
        data = cm.get("data", {})
        assert not SECRET_ENV & set(data), f"ConfigMap {cm['metadata']['name']} holds a secret"
        for value in data.values():
            assert not CREDENTIALS_IN_URL.search(value), cm["metadata"]["name"]


def test_dev_secrets_exist_only_with_dev_enabled(rendered, services):
    from crm_common.pii import DEV_PII_INDEX_KEY, DEV_PII_KEYS

    dev = rendered["dev"]
    for service in services:
        secret = dev.get("Secret", f"{RELEASE}-{service}")
        assert secret["metadata"]["labels"]["app.kubernetes.io/component"] == "dev"
        assert secret["stringData"]["DATABASE_URL"].endswith("/crm_" + service.replace("-", "_")), "one database per service"
        # Exactly the code's dev keys: dev pods and local runs read each other's data.
        assert secret["stringData"]["PII_KEYS"] == DEV_PII_KEYS, service
        assert secret["stringData"]["PII_INDEX_KEY"] == DEV_PII_INDEX_KEY, service
        # Every key the workloads reference is in the dev Secret, or the pods never start.
        for _, c in service_workloads(dev, service):
            for env in c.get("env", []):
                ref = (env.get("valueFrom") or {}).get("secretKeyRef")
                if ref and ref["name"] == secret["metadata"]["name"]:
                    assert ref["key"] in secret["stringData"], (service, ref["key"])
    for scenario in ("default", "production"):
        names = {d["metadata"]["name"] for d in rendered[scenario].docs}
        assert not names & {f"{RELEASE}-postgresql", f"{RELEASE}-rabbitmq"}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_workload_reads_the_pii_keys_from_the_secret(rendered, services, scenario):
    """Every service refuses to start in production without real PII_KEYS and PII_INDEX_KEY,
    and migrations encrypt existing rows (account 0003): API, worker and migration Job all get them."""
    r = rendered[scenario]
    for service in services:
        for where, c in service_workloads(r, service):
            env = env_of(c)
            secret = env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"]
            for name, key in PII_ENV.items():
                assert name in env, f"{scenario}: {where} lacks {name}"
                assert "value" not in env[name], f"{scenario}: {where}: {name} inlined"
                assert env[name]["valueFrom"]["secretKeyRef"] == {"name": secret, "key": key}, f"{scenario}: {where}"
            assert "PII_ENCRYPTION_KEY" not in env, f"{scenario}: {where} still gets the retired variable"


def test_pii_secret_keys_are_renamable(render):
    r = render(sets=["secrets.keys.piiKeys=pii-keys", "secrets.keys.piiIndexKey=pii-index-key", "services.account.existingSecret=vault-account"])
    for where, c in service_workloads(r, "account"):
        env = env_of(c)
        assert env["PII_KEYS"]["valueFrom"]["secretKeyRef"] == {"name": "vault-account", "key": "pii-keys"}, where
        assert env["PII_INDEX_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "vault-account", "key": "pii-index-key"}, where


@pytest.mark.parametrize("scenario", ["default", "production"])
def test_secret_name_defaults_and_overrides(rendered, chart_values, services, scenario):
    for service in services:
        api = container(rendered[scenario].get("Deployment", f"{RELEASE}-{service}-api"), "api")
        name = env_of(api)["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"]
        expected = f"{RELEASE}-{service}" if scenario == "default" else f"crm-{service}-credentials"
        assert name == expected


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_a_network_policy_selects_every_pod(rendered, scenario):
    r = rendered[scenario]
    policies = r.of_kind("NetworkPolicy")
    for doc in r.pod_owners():
        labels = pod_labels(doc)
        selecting = [p for p in policies if selector_matches(p["spec"]["podSelector"], labels)]
        assert selecting, f"no NetworkPolicy selects {doc['kind']}/{doc['metadata']['name']}"
        for p in selecting:
            assert set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}


@pytest.mark.parametrize("scenario", ["default", "production"])
def test_network_policies_allow_only_the_suites_traffic(rendered, chart_values, services, scenario):
    r = rendered[scenario]
    for service in services:
        api = r.get("NetworkPolicy", f"{RELEASE}-{service}-api")
        grpc_rule = next(i for i in api["spec"]["ingress"] if {"protocol": "TCP", "port": 50051} in i["ports"])
        assert grpc_rule["from"] == [{"podSelector": {"matchLabels": RELEASE_LABELS}}], "internal services: release only"
        for component in ("api", "worker", "migrate"):
            policy = r.get("NetworkPolicy", f"{RELEASE}-{service}-{component}")
            egress_ports = {(p["protocol"], p["port"]) for rule in policy["spec"]["egress"] for p in rule["ports"]}
            allowed = {("UDP", 53), ("TCP", 53), ("TCP", 5432), ("TCP", 6432), ("TCP", 5671), ("TCP", 5672), ("TCP", 50051), ("TCP", 4317)}
            assert egress_ports <= allowed, f"{component}: unexpected egress {egress_ports - allowed}"
            for rule in policy["spec"]["egress"]:
                assert rule.get("to"), f"{component}: egress rule without destination allows everything"
        migrate = r.get("NetworkPolicy", f"{RELEASE}-{service}-migrate")
        assert migrate["spec"]["ingress"] == []
        ports = {p["port"] for rule in migrate["spec"]["egress"] for p in rule["ports"]}
        assert 5672 not in ports and 5671 not in ports and 50051 not in ports, "migrations reach only DNS and PostgreSQL"


def test_database_and_broker_egress_is_configurable(rendered):
    policy = rendered["production"].get("NetworkPolicy", f"{RELEASE}-lead-api")
    cidrs = {b["ipBlock"]["cidr"] for rule in policy["spec"]["egress"] for b in rule["to"] if "ipBlock" in b}
    assert cidrs == {"10.20.30.0/24", "10.20.31.0/24"}


def test_adding_a_service_is_one_values_block(render, tools):
    """A gateway-like service needs nothing but its block; `exposed` opens it to outside callers."""
    r = render(sets=["services.gateway.exposed=true", "services.gateway.peers={lead,account}", "networkPolicy.exposedFrom=null"])
    names = {(d["kind"], d["metadata"]["name"]) for d in r.docs}
    for kind, suffix in (
        ("Deployment", "-api"),
        ("Deployment", "-worker"),
        ("Service", ""),
        ("ConfigMap", ""),
        ("ServiceAccount", ""),
        ("Job", "-migrate"),
        ("NetworkPolicy", "-api"),
        ("PodDisruptionBudget", "-api"),
        ("Pod", "-test-health"),
    ):
        assert (kind, f"{RELEASE}-gateway{suffix}") in names, (kind, suffix)
    config = r.get("ConfigMap", f"{RELEASE}-gateway")["data"]
    assert config["LEAD_GRPC_TARGET"] == f"{RELEASE}-lead:50051"
    policy = r.get("NetworkPolicy", f"{RELEASE}-gateway-api")
    grpc_rule = next(i for i in policy["spec"]["ingress"] if {"protocol": "TCP", "port": 50051} in i["ports"])
    assert "from" not in grpc_rule, "exposed: reachable from outside the release"
    c = container(r.get("Deployment", f"{RELEASE}-gateway-api"), "api")
    assert c["readinessProbe"]["grpc"]["service"] == "crm.gateway.v1.GatewayService"


def test_no_gateway_is_rendered_yet(rendered):
    for scenario in SCENARIOS:
        assert not [d for d in rendered[scenario].docs if "gateway" in d["metadata"]["name"]]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_services_expose_grpc_as_h2c_and_metrics(rendered, services, scenario):
    r = rendered[scenario]
    for service in services:
        svc = r.get("Service", f"{RELEASE}-{service}")
        ports = {p["name"]: p for p in svc["spec"]["ports"]}
        assert ports["grpc"]["port"] == 50051 and ports["grpc"]["appProtocol"] == "kubernetes.io/h2c"
        assert ports["metrics"]["port"] == 9464
        api = r.get("Deployment", f"{RELEASE}-{service}-api")
        assert selector_matches({"matchLabels": svc["spec"]["selector"]}, pod_labels(api))
        worker = r.get("Deployment", f"{RELEASE}-{service}-worker")
        assert not selector_matches({"matchLabels": svc["spec"]["selector"]}, pod_labels(worker))


def test_peers_point_at_the_other_services(rendered):
    data = rendered["default"].get("ConfigMap", f"{RELEASE}-lead")["data"]
    assert data["ACCOUNT_GRPC_TARGET"] == f"{RELEASE}-account:50051"
    assert data["OPPORTUNITY_GRPC_TARGET"] == f"{RELEASE}-opportunity:50051"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_settings_configmap(rendered, services, scenario):
    for service in services:
        data = rendered[scenario].get("ConfigMap", f"{RELEASE}-{service}")["data"]
        keys = ("CRM_ENV", "LOG_LEVEL", "JWT_ALGORITHM", "JWT_ISSUER", "JWT_AUDIENCE", "GRPC_DRAIN_SECONDS", "GRPC_GRACE_SECONDS", "GRPC_MAX_WORKERS")
        for key in keys:
            assert key in data, (service, key)
        assert data["OTEL_SERVICE_NAME"] == f"crm-{service}"
        # Every pod uses the same ports; the services' local defaults differ, so all are explicit.
        assert data["GRPC_HOST"] == "0.0.0.0", "the kubelet probes and the Service reach the pod IP"
        assert (data["GRPC_PORT"], data["METRICS_PORT"], data["WORKER_METRICS_PORT"]) == ("50051", "9464", "9465")
        worker = rendered[scenario].get("Deployment", f"{RELEASE}-{service}-worker")
        assert {p["containerPort"] for p in containers(worker)[0]["ports"]} == {int(data["WORKER_METRICS_PORT"])}
    if scenario == "production":
        assert data["OTEL_EXPORTER_OTLP_ENDPOINT"].endswith(":4317")


def test_account_settings_go_through_the_shared_configmap(render):
    """The account's plain settings (KYC sweep, tier thresholds, erasure services) are services.account.env:
    one ConfigMap read by the API and the worker, inlined into the migration Job; the chart sets no defaults
    of its own for them (the code's apply)."""
    default = render()
    data = default.get("ConfigMap", f"{RELEASE}-account")["data"]
    for key in ("KYC_EXPIRY_SWEEP_SECONDS", "TIER_AFFLUENT_AUM_VND", "TIER_PRIVATE_AUM_VND", "ACCOUNT_ERASURE_SERVICES", "ACCOUNT_WATCHLIST_FILE"):
        assert key not in data, key
    sets = {
        "KYC_EXPIRY_SWEEP_SECONDS": "300",
        "TIER_AFFLUENT_AUM_VND": "2000000000",
        "TIER_PRIVATE_AUM_VND": "50000000000",
        "ACCOUNT_ERASURE_SERVICES": "lead,opportunity",
    }
    r = render(sets=[f"services.account.env.{k}={v.replace(',', chr(92) + ',')}" for k, v in sets.items()])
    data = r.get("ConfigMap", f"{RELEASE}-account")["data"]
    assert {k: data[k] for k in sets} == sets
    for suffix in ("api", "worker"):
        for c in containers(r.get("Deployment", f"{RELEASE}-account-{suffix}")):
            assert {"configMapRef": {"name": f"{RELEASE}-account"}} in c["envFrom"]
    (job,) = containers(r.get("Job", f"{RELEASE}-account-migrate"))
    assert {e["name"]: e.get("value") for e in job["env"]}["TIER_PRIVATE_AUM_VND"] == "50000000000"
    assert "TIER_AFFLUENT_AUM_VND" not in r.get("ConfigMap", f"{RELEASE}-lead")["data"]


def test_env_numbers_from_a_values_file_keep_their_digits(render, tmp_path):
    """YAML numbers reach the templates as float64; 1000000000 must not become "1e+09" (no int parses that)."""
    values = tmp_path / "account.yaml"
    values.write_text(
        "services:\n  account:\n    env:\n"
        "      TIER_AFFLUENT_AUM_VND: 1000000000\n      TIER_PRIVATE_AUM_VND: 25000000000\n"
        "      KYC_EXPIRY_SWEEP_SECONDS: 0.5\n      NEGATIVE: -2000000\n      FLAG: true\n"
    )
    data = render(values=[values]).get("ConfigMap", f"{RELEASE}-account")["data"]
    assert data["TIER_AFFLUENT_AUM_VND"] == "1000000000"
    assert data["TIER_PRIVATE_AUM_VND"] == "25000000000"
    assert (data["KYC_EXPIRY_SWEEP_SECONDS"], data["NEGATIVE"], data["FLAG"]) == ("0.5", "-2000000", "true")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_termination_grace_covers_the_grpc_drain(rendered, services, scenario, chart_values):
    """The kubelet waits for the pre-stop sleep, the drain window (NOT_SERVING, still serving)
    and the in-flight grace before it kills: grace > drain + GRPC_GRACE_SECONDS."""
    r = rendered[scenario]
    shutdown = chart_values["shutdown"]
    for service in services:
        data = r.get("ConfigMap", f"{RELEASE}-{service}")["data"]
        grace, drain = int(data["GRPC_GRACE_SECONDS"]), int(data["GRPC_DRAIN_SECONDS"])
        assert drain >= 1  # NOT_SERVING is observable before the server refuses calls
        for component in ("api", "worker"):
            deployment = r.get("Deployment", f"{RELEASE}-{service}-{component}")
            total = pod_spec(deployment)["terminationGracePeriodSeconds"]
            assert total == shutdown["preStopSleepSeconds"] + drain + grace + shutdown["marginSeconds"]
            assert total > drain + grace
            c = container(deployment, component)
            assert c["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", str(shutdown["preStopSleepSeconds"])]


def test_rollouts_keep_capacity(rendered, services):
    for service in services:
        for component in ("api", "worker"):
            d = rendered["default"].get("Deployment", f"{RELEASE}-{service}-{component}")
            assert d["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
            pdb = rendered["default"].get("PodDisruptionBudget", f"{RELEASE}-{service}-{component}")
            assert pdb["spec"]["selector"]["matchLabels"] == d["spec"]["selector"]["matchLabels"]
            keys = [t["topologyKey"] for t in pod_spec(d)["topologySpreadConstraints"]]
            assert keys == ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]


def test_autoscaling_leaves_replicas_to_the_hpa(rendered, services):
    r = rendered["production"]
    for service in services:
        api = r.get("Deployment", f"{RELEASE}-{service}-api")
        assert "replicas" not in api["spec"]
        hpa = r.get("HorizontalPodAutoscaler", f"{RELEASE}-{service}-api")
        assert hpa["spec"]["scaleTargetRef"]["name"] == api["metadata"]["name"]
        assert r.get("Deployment", f"{RELEASE}-{service}-worker")["spec"]["replicas"] == 2


def test_monitors_only_when_enabled_and_they_match(rendered, services):
    assert not rendered["default"].of_kind("ServiceMonitor") and not rendered["default"].of_kind("PodMonitor")
    r = rendered["production"]
    for service in services:
        sm = r.get("ServiceMonitor", f"{RELEASE}-{service}-api")
        assert sm["metadata"]["labels"]["release"] == "kube-prometheus-stack"
        svc = r.get("Service", f"{RELEASE}-{service}")
        assert selector_matches(sm["spec"]["selector"], svc["metadata"]["labels"])
        # The relay container's metrics come through the same Service (tests/deploy/test_helm_relay.py).
        assert [e["port"] for e in sm["spec"]["endpoints"]] == ["metrics", "relay-metrics"]
        pm = r.get("PodMonitor", f"{RELEASE}-{service}-worker")
        worker = r.get("Deployment", f"{RELEASE}-{service}-worker")
        assert selector_matches(pm["spec"]["selector"], pod_labels(worker))
        assert "metrics" in {p["name"] for p in containers(worker)[0]["ports"]}


def test_alert_rules_hook_renders_extra_groups(render):
    r = render(
        sets=[
            "observability.alerts.enabled=true",
            "observability.alerts.extraGroups[0].name=site",
            "observability.alerts.extraGroups[0].rules[0].alert=CrmDown",
            "observability.alerts.extraGroups[0].rules[0].expr=up == 0",
        ]
    )
    (rule,) = r.of_kind("PrometheusRule")
    groups = {g["name"]: g for g in rule["spec"]["groups"]}
    assert groups["site"]["rules"][0]["alert"] == "CrmDown"
    # The rules shipped in files/alerts come along, Prometheus templates untouched.
    shipped = {a["alert"]: a for g in groups.values() for a in g["rules"]}
    assert {"CrmGrpcInternalErrors", "CrmDatabaseUnreachable", "CrmOutboxLagging", "CrmDeadLetters"} <= set(shipped)
    assert "{{ $labels.queue }}" in shipped["CrmDeadLetters"]["annotations"]["summary"]


def test_shipped_alerts_and_dashboards_use_only_metrics_the_services_export():
    """An alert on a metric nobody exports never fires, a panel stays empty: every name must exist."""
    import json
    import re
    from pathlib import Path

    import yaml
    from prometheus_client import REGISTRY

    import crm_common.observability.metrics  # noqa: F401  (registers the metrics)

    # Family names: a counter's family is named without its _total suffix.
    families = {family.name for family in REGISTRY.collect()}
    queries = [
        (f"{path.name}: {rule['alert']}", rule["expr"])
        for path in Path("deploy/helm/crm/files/alerts").glob("*.yaml")
        for group in yaml.safe_load(path.read_text())
        for rule in group["rules"]
    ]
    for path in Path("deploy/helm/crm/files/dashboards").glob("*.json"):
        dashboard = json.loads(path.read_text())
        queries += [(f"{path.name}: {p['title']}", t["expr"]) for p in dashboard["panels"] for t in p.get("targets", [])]
    assert queries
    for where, expr in queries:
        for name in re.findall(r"\b((?:crm|grpc_server)_[a-z_]+)\b", expr):
            family = re.sub(r"_(total|bucket|sum|count)$", "", name)
            assert family in families, f"{where} uses {name}, which no service exports"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_helm_test_checks_every_service_health(rendered, services, scenario):
    pods = {p["metadata"]["name"]: p for p in rendered[scenario].of_kind("Pod")}
    for service in services:
        pod = pods[f"{RELEASE}-{service}-test-health"]
        assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
        assert pod["spec"]["restartPolicy"] == "Never"
        (c,) = containers(pod)
        assert c["command"] == [f"crm-{service}", "health", "--target", f"{RELEASE}-{service}:50051"]


def test_image_digest_pins_the_image(render):
    digest = "sha256:" + "a" * 64
    r = render(sets=[f"services.lead.image.digest={digest}", "image.registry=localhost:5001/crm"])
    for c in containers(r.get("Deployment", f"{RELEASE}-lead-api")):
        assert c["image"] == f"localhost:5001/crm/crm-lead@{digest}", c["name"]
    annotations = r.get("Deployment", f"{RELEASE}-lead-api")["metadata"]["annotations"]
    assert not any(v.startswith("CKV_K8S_43") for v in annotations.values()), "no digest suppression once pinned"


def test_values_yaml_documents_every_key():
    """Line 1 is the schema modeline and every key has a one-line comment above it."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    assert lines[0] == "# yaml-language-server: $schema=values.schema.json"
    key = re.compile(r"^(\s*)([A-Za-z0-9_.-]+):")
    list_item_indent = None
    for i, line in enumerate(lines):
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if list_item_indent is not None and stripped and indent <= list_item_indent and not stripped.startswith("#"):
            list_item_indent = None
        if stripped.startswith("- "):
            list_item_indent = indent if list_item_indent is None else list_item_indent
            continue
        if list_item_indent is not None:
            continue  # keys inside list items are Kubernetes objects, not chart settings
        if key.match(line):
            assert lines[i - 1].strip().startswith("#"), f"values.yaml:{i + 1}: no comment above {stripped}"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_notes_render(tools, tmp_path, services, scenario):
    """NOTES.txt renders (helm shows it only at install time, so wrap it in a ConfigMap of a chart copy)."""
    chart = tmp_path / "crm"
    shutil.copytree(CHART, chart)
    notes = (chart / "templates" / "NOTES.txt").read_text()
    (chart / "templates" / "_notes_check.tpl").write_text('{{- define "notes-check" -}}\n' + notes + "{{- end }}\n")
    wrapper = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: {{ include "notes-check" . | toJson }}\n'
    (chart / "templates" / "notes-check.yaml").write_text(wrapper)
    cmd = [tools.helm, "template", RELEASE, str(chart), "-n", "crm", "--show-only", "templates/notes-check.yaml"]
    cmd += [arg for path in SCENARIO_VALUES[scenario] for arg in ("--values", str(path))]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    text = yaml.safe_load(result.stdout)["data"]["notes"]
    for service in services:
        assert f"{RELEASE}-{service}.crm.svc:50051" in text
    assert f"helm test {RELEASE}" in text
    assert ("DEV MODE" in text) is (scenario == "dev")
