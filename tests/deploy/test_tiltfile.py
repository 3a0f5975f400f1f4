"""The Tiltfile, run by a Starlark interpreter (starlark-pyo3) with stubbed Tilt builtins.

The stubs record every call; helm() runs the real `helm template` and drops
templates/tests/ as Tilt does. The test then assembles Tilt's resources the
way Tilt does (one per workload, Services attached by selector, other objects
by `objects=` fragments) and checks them against the chart.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from deploy_helpers import ROOT, WORKLOAD_KINDS, containers, import_tool, parse, pod_labels, selector_matches

from crm_common.registry import service as registered

TILT_TEST_SOURCE = re.compile(r"^# Source: .*/tests/", re.MULTILINE)


@dataclasses.dataclass
class TiltRun:
    images: list[dict] = dataclasses.field(default_factory=list)
    resources: list[dict] = dataclasses.field(default_factory=list)
    local_resources: list[dict] = dataclasses.field(default_factory=list)
    helm_calls: list[dict] = dataclasses.field(default_factory=list)
    yaml_docs: list[dict] = dataclasses.field(default_factory=list)
    settings: dict = dataclasses.field(default_factory=dict)
    failures: list[str] = dataclasses.field(default_factory=list)


def _resources_of(service: str) -> list[str]:
    """The Tilt resources a service of the registry gets: its config, api, and its migrate and
    worker when it has a database and a worker."""
    definition = registered(service)
    return [f"{service}-config", *(f"{service}-{role}" for role in definition.roles), *([f"{service}-migrate"] if definition.database else [])]


def run_tiltfile(tools, path: Path = ROOT / "Tiltfile", source: str | None = None, extra_values: Path | None = None) -> TiltRun:
    """Runs the Tiltfile (or `source` in its place); `extra_values` is a values file added to every
    helm() call and whose services the chart's values.yaml appears to declare."""
    starlark = import_tool("starlark", tools)
    run = TiltRun()
    extra = yaml.safe_load(extra_values.read_text()) if extra_values else {}

    def helm(chart, name="", namespace="", values=(), set=(), **kwargs):
        run.helm_calls.append({"chart": chart, "name": name, "namespace": namespace, "values": list(values), "set": list(set), **kwargs})
        cmd = [tools.helm, "template", name or "chart", str(ROOT / chart)]
        if namespace:
            cmd += ["--namespace", namespace]
        for v in values:
            cmd += ["--values", str(ROOT / v)]
        if extra_values:
            cmd += ["--values", str(extra_values)]
        for s in set:
            cmd += ["--set", s]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        kept = [chunk for chunk in out.split("---\n") if not TILT_TEST_SOURCE.search(chunk)]
        return "---\n".join(kept)

    def k8s_yaml(blob, allow_duplicates=False):
        run.yaml_docs.extend(parse(blob).docs)

    def k8s_resource(
        workload="",
        new_name="",
        port_forwards=(),
        resource_deps=(),
        objects=(),
        labels=(),
        trigger_mode=0,
        auto_init=True,
        links=(),
        pod_readiness="",
        extra_pod_selectors=(),
        discovery_strategy="",
    ):
        run.resources.append(
            {
                "workload": workload,
                "name": new_name or workload,
                "port_forwards": list(port_forwards),
                "resource_deps": list(resource_deps),
                "objects": list(objects),
                "labels": list(labels),
                "trigger_mode": trigger_mode,
            }
        )

    def docker_build(ref, context, dockerfile="Dockerfile", build_args=None, target="", live_update=(), only=(), ignore=(), **kwargs):
        run.images.append(
            {
                "ref": ref,
                "context": context,
                "dockerfile": dockerfile,
                "build_args": dict(build_args or {}),
                "target": target,
                "live_update": list(live_update),
                "only": list(only),
                "ignore": list(ignore),
            }
        )

    def local_resource(name, cmd="", deps=(), labels=(), resource_deps=(), **kwargs):
        run.local_resources.append({"name": name, "cmd": cmd, "deps": list(deps), "labels": list(labels), "resource_deps": list(resource_deps)})

    def fail(message):
        run.failures.append(message)
        raise RuntimeError(message)

    def read_yaml(p, default=None):
        data = yaml.safe_load((ROOT / p).read_text())
        if p.endswith("/values.yaml"):
            data["services"].update(extra.get("services", {}))
        return data

    builtins = {
        "helm": helm,
        "k8s_yaml": k8s_yaml,
        "k8s_resource": k8s_resource,
        "docker_build": docker_build,
        "local_resource": local_resource,
        "sync": lambda local, remote: {"step": "sync", "local": local, "remote": remote},
        "run": lambda cmd, trigger=(): {"step": "run", "cmd": cmd, "trigger": trigger},
        "fall_back_on": lambda files: {"step": "fall_back_on", "files": [files] if isinstance(files, str) else files},
        "port_forward": lambda local_port, container_port=None, name="", link_path="", host="": {
            "local": local_port,
            "container": container_port or local_port,
            "name": name,
        },
        "read_yaml": read_yaml,
        "decode_yaml_stream": lambda blob: [d for d in yaml.safe_load_all(blob) if d],
        "update_settings": lambda **kw: run.settings.update(kw),
        "watch_settings": lambda ignore=(): run.settings.update(watch_ignore=ignore),
        "fail": fail,
    }
    module = starlark.Module()
    for name, fn in builtins.items():
        module.add_callable(name, fn)
    module["TRIGGER_MODE_AUTO"] = 0
    module["TRIGGER_MODE_MANUAL"] = 1
    ast = starlark.parse("Tiltfile", source if source is not None else path.read_text(), starlark.Dialect.extended())
    starlark.eval(module, ast, starlark.Globals.standard())
    return run


@pytest.fixture(scope="module")
def tilt(tools) -> TiltRun:
    return run_tiltfile(tools)


def workload_resources(tilt):
    return [r for r in tilt.resources if r["workload"]]


def object_id(doc):
    return (doc["metadata"]["name"], doc["kind"].lower())


def assemble(tilt):
    """Tilt's grouping: resource name -> objects; raises on unknown or ambiguous names."""
    docs = tilt.yaml_docs
    workloads = {d["metadata"]["name"]: d for d in docs if d["kind"] in WORKLOAD_KINDS}
    groups, assigned = {}, {}
    for res in tilt.resources:
        members = []
        if res["workload"]:
            assert res["workload"] in workloads, f"k8s_resource({res['workload']!r}) names no workload"
            members.append(workloads[res["workload"]])
        for fragment in res["objects"]:
            parts = fragment.split(":")
            matches = [d for d in docs if d["metadata"]["name"] == parts[0] and (len(parts) < 2 or d["kind"].lower() == parts[1].lower())]
            assert len(matches) == 1, f"objects fragment {fragment!r} matches {len(matches)} objects"
            members.append(matches[0])
        groups[res["name"]] = members
    for name, members in groups.items():
        for doc in members:
            assert object_id(doc) not in assigned, f"{object_id(doc)} in both {assigned.get(object_id(doc))} and {name}"
            assigned[object_id(doc)] = name
    # Services follow the workload whose pods they select.
    for svc in (d for d in docs if d["kind"] == "Service"):
        owners = [
            n
            for n, members in groups.items()
            for m in members
            if m["kind"] in WORKLOAD_KINDS and selector_matches({"matchLabels": svc["spec"]["selector"]}, pod_labels(m))
        ]
        if owners and object_id(svc) not in assigned:
            assigned[object_id(svc)] = owners[0]
    return groups, assigned


def test_tiltfile_runs(tilt):
    assert not tilt.failures
    assert tilt.settings["max_parallel_updates"] == 2


def test_services_match_the_chart(tilt, services):
    built = sorted(image["build_args"]["SERVICE"] for image in tilt.images)
    assert built == services
    names = {r["name"] for r in tilt.resources}
    for service in services:
        assert set(_resources_of(service)) <= names


def test_helm_renders_the_chart_with_the_dev_values(tilt):
    (call,) = tilt.helm_calls
    assert call["chart"] == "deploy/helm/crm"
    assert call["values"] == ["deploy/helm/crm/ci/dev-values.yaml"]
    assert call["name"] == "crm"


def test_every_rendered_object_belongs_to_a_resource(tilt):
    _groups, assigned = assemble(tilt)
    unassigned = [object_id(d) for d in tilt.yaml_docs if object_id(d) not in assigned]
    assert not unassigned, f"objects Tilt would show as 'uncategorized': {unassigned}"
    for res in workload_resources(tilt):
        assert res["labels"], f"{res['name']} has no label"


def test_every_workload_has_a_named_resource(tilt):
    workload_names = {d["metadata"]["name"] for d in tilt.yaml_docs if d["kind"] in WORKLOAD_KINDS}
    assert workload_names == {r["workload"] for r in workload_resources(tilt)}


def test_resource_deps_exist_and_order_infra_first(tilt, services):
    names = {r["name"] for r in tilt.resources} | {r["name"] for r in tilt.local_resources}
    deps = {r["name"]: r["resource_deps"] for r in tilt.resources}
    for name, needs in deps.items():
        assert set(needs) <= names, f"{name} depends on unknown {set(needs) - names}"
    for service in services:
        definition = registered(service)
        if definition.database:
            assert "postgresql" in deps[f"{service}-migrate"]
        for component in definition.roles:
            assert "rabbitmq" in deps[f"{service}-{component}"]
            if definition.database:
                assert f"{service}-migrate" in deps[f"{service}-{component}"]

    def visit(node, path):
        assert node not in path, f"dependency cycle: {[*path, node]}"
        for nxt in deps.get(node, []):
            visit(nxt, [*path, node])

    for name in deps:
        visit(name, [])


def test_port_forwards_are_unique_and_reach_real_ports(tilt, services):
    groups, _ = assemble(tilt)
    locals_seen = set()
    for res in tilt.resources:
        for pf in res["port_forwards"]:
            assert pf["local"] not in locals_seen, f"local port {pf['local']} forwarded twice"
            locals_seen.add(pf["local"])
            workload = groups[res["name"]][0]
            ports = {p["containerPort"] for c in containers(workload) for p in c["ports"]}
            assert pf["container"] in ports, f"{res['name']}: container port {pf['container']} not exposed"
    for service in services:
        api = next(r for r in tilt.resources if r["name"] == f"{service}-api")
        relay = {"relay-metrics"} if registered(service).database else set()
        assert {pf["name"] for pf in api["port_forwards"]} == {"grpc", "metrics", *relay}


def test_images_are_the_ones_the_chart_runs(tilt):
    used = {
        c["image"].split(":")[0].split("@")[0]
        for d in tilt.yaml_docs
        if d["kind"] in WORKLOAD_KINDS
        for c in d["spec"]["template"]["spec"]["containers"]
    }
    refs = {image["ref"] for image in tilt.images}
    assert refs <= used, f"built but never deployed: {refs - used}"
    for image in tilt.images:
        assert image["context"] == "." and image["dockerfile"] == "Dockerfile" and image["target"] == "dev"


def test_live_update_syncs_the_service_and_common_then_restarts(tilt):
    dev_values = yaml.safe_load((ROOT / "deploy/helm/crm/ci/dev-values.yaml").read_text())
    dockerfile = (ROOT / "Dockerfile").read_text()
    for image in tilt.images:
        service = image["build_args"]["SERVICE"]
        steps = image["live_update"]
        assert steps[0]["step"] == "fall_back_on", "fall_back_on must come first"
        syncs = {s["local"]: s["remote"] for s in steps if s["step"] == "sync"}
        package = registered(service).package
        assert image["build_args"]["PACKAGE"] == package
        site = "/opt/venv/lib/python3.11/site-packages"
        assert syncs == {f"services/{service}/src/{package}": f"{site}/{package}", "libs/common/src/crm_common": f"{site}/crm_common"}
        for local in syncs:
            if (ROOT / local).parent.exists():
                assert (ROOT / local).is_dir(), f"{local} does not exist: the sync would never fire"
        assert steps[-1]["step"] == "run" and steps[-1]["cmd"] == "date > /tmp/.restart-proc"
        # The pieces the restart relies on: the dev stage's wrapper and the dev values using it.
        assert dev_values["commandPrefix"][0] == "crm-dev-reload"
        assert "COPY deploy/docker/dev_reload.py /usr/local/bin/crm-dev-reload" in dockerfile
        assert f'"{site}/${{PACKAGE:-crm_$(echo "${{SERVICE}}" | tr - _)}}"' in dockerfile and f"{site}/crm_common" in dockerfile
        # The build context holds exactly what the Dockerfile copies.
        assert sorted(image["only"]) == sorted(["constraints.txt", "libs", f"services/{service}", "deploy/docker"])


def test_live_update_reaches_the_relay_container(tilt, services):
    """Tilt syncs only into a pod's regular containers, and its helm() renders for the local helm's
    default Kubernetes (1.29+ today): the dev values keep the relay out of initContainers."""
    for service in services:
        spec = next(d for d in tilt.yaml_docs if d["kind"] == "Deployment" and d["metadata"]["name"] == f"crm-{service}-api")["spec"]
        assert not spec["template"]["spec"].get("initContainers")
        assert [c["name"] for c in spec["template"]["spec"]["containers"]] == ["api", "relay"]


def test_protos_are_regenerated_by_a_local_resource(tilt):
    (protos,) = [r for r in tilt.local_resources if r["name"] == "protos"]
    assert protos["cmd"] == "make protos"
    assert protos["deps"] == ["protos"]
    for image in tilt.images:
        fall_back = image["live_update"][0]["files"]
        assert "libs/protos" in fall_back, "regenerated protos must rebuild the image"


def test_migrations_rerun_on_demand(tilt):
    for res in tilt.resources:
        if res["name"].endswith("-migrate"):
            assert res["trigger_mode"] == 1


SHAPES = Path(__file__).parent / "values" / "service-shapes.yaml"


@pytest.fixture(scope="module")
def tilt_shapes(tools) -> TiltRun:
    """The Tiltfile with the fake services of values/service-shapes.yaml added to its SERVICES (and so
    to the chart): edge (no database, no worker), quota (no worker), relay (no database)."""
    source = (ROOT / "Tiltfile").read_text()
    line = "SERVICES = {\n"
    assert source.count(line) == 1
    fakes = (
        "    'edge': {'grpc': 50061, 'metrics': 9571},\n"
        "    'quota': {'grpc': 50062, 'metrics': 9572, 'relay_metrics': 9592},\n"
        "    'relay': {'grpc': 50063, 'metrics': 9573, 'worker_metrics': 9583},\n"
    )
    return run_tiltfile(tools, source=source.replace(line, line + fakes), extra_values=SHAPES)


def test_resources_follow_what_the_chart_renders_for_each_shape(tilt_shapes, services):
    assert not tilt_shapes.failures
    names = {r["name"] for r in tilt_shapes.resources}
    expected = {
        "edge": {"edge-config", "edge-api"},
        "quota": {"quota-config", "quota-migrate", "quota-api"},
        "relay": {"relay-config", "relay-api", "relay-worker"},
        "lead": {"lead-config", "lead-migrate", "lead-api", "lead-worker"},
    }
    for service, resources in expected.items():
        assert {n for n in names if n.startswith(service + "-")} == resources, service
    deps = {r["name"]: r["resource_deps"] for r in tilt_shapes.resources}
    assert deps["edge-api"] == ["protos", "rabbitmq", "edge-config"], "nothing to migrate first"
    assert deps["relay-worker"] == ["protos", "rabbitmq", "relay-config"]
    assert deps["quota-api"] == ["protos", "rabbitmq", "quota-config", "quota-migrate"]
    built = sorted(image["build_args"]["SERVICE"] for image in tilt_shapes.images)
    assert built == sorted([*services, "edge", "quota", "relay"])


def test_every_object_of_every_shape_belongs_to_a_resource(tilt_shapes):
    _groups, assigned = assemble(tilt_shapes)
    unassigned = [object_id(d) for d in tilt_shapes.yaml_docs if object_id(d) not in assigned]
    assert not unassigned, f"objects Tilt would show as 'uncategorized': {unassigned}"
    workload_names = {d["metadata"]["name"] for d in tilt_shapes.yaml_docs if d["kind"] in WORKLOAD_KINDS}
    assert workload_names == {r["workload"] for r in workload_resources(tilt_shapes)}


def test_a_rendered_relay_container_needs_its_metrics_port(tools):
    source = (ROOT / "Tiltfile").read_text()
    line = "    'lead': {'grpc': 50051, 'metrics': 9471, 'worker_metrics': 9481, 'relay_metrics': 9491},\n"
    assert source.count(line) == 1
    with pytest.raises(Exception, match="relay_metrics"):
        run_tiltfile(tools, source=source.replace(line, "    'lead': {'grpc': 50051, 'metrics': 9471, 'worker_metrics': 9481},\n"))


def test_a_rendered_worker_needs_its_metrics_port(tools):
    source = (ROOT / "Tiltfile").read_text()
    line = "    'lead': {'grpc': 50051, 'metrics': 9471, 'worker_metrics': 9481, 'relay_metrics': 9491},\n"
    assert source.count(line) == 1
    with pytest.raises(Exception, match="worker_metrics"):
        run_tiltfile(tools, source=source.replace(line, "    'lead': {'grpc': 50051, 'metrics': 9471, 'relay_metrics': 9491},\n"))
