"""Helpers shared by the deployment tests (rendering, selectors, tool imports)."""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "crm"
RELEASE = "crm"
NAMESPACE = "crm"
SCENARIOS = {
    "default": [],
    "dev": [CHART / "ci" / "dev-values.yaml"],
    "production": [CHART / "ci" / "production-values.yaml"],
    "config-files": [CHART / "ci" / "config-files-values.yaml"],
}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod", "ReplicaSet"}
# Kubernetes versions the chart is rendered for (helm template --kube-version), so that no test depends on
# the helm binary's built-in default: native sidecars are on by default from 1.29 (nativeSidecars: auto
# then makes the relay an init container), and 1.28 is the last version without.
KUBE_NATIVE_SIDECARS = "1.29.0"
KUBE_BEFORE_SIDECARS = "1.28.0"
# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion), as deploy/check.sh validates.
KUBE_OLDEST = "1.25.0"
# The version of the `rendered` and `render` fixtures unless a test asks for another.
KUBE_VERSION = KUBE_NATIVE_SIDECARS


def registered_services() -> list[str]:
    """The suite's services as the registry declares them (the `crm.services` entry points of
    services/*/pyproject.toml, read by scripts/services.py as the Makefile does)."""
    spec = importlib.util.spec_from_file_location("crm_services_script", ROOT / "scripts" / "services.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.declared_services(ROOT))


SERVICES = registered_services()


@dataclasses.dataclass(frozen=True)
class Tools:
    helm: str
    python: str


def import_tool(module: str, tools: Tools):
    """Imports a module from the repo venv, else from the tools venv (appended to sys.path)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        site = subprocess.run(
            [tools.python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        if site not in sys.path:
            sys.path.append(site)
        return importlib.import_module(module)


@dataclasses.dataclass
class Rendered:
    """Objects of one `helm template` run, hooks and tests included."""

    docs: list[dict]

    def of_kind(self, kind: str) -> list[dict]:
        return [d for d in self.docs if d["kind"] == kind]

    def get(self, kind: str, name: str) -> dict:
        matches = [d for d in self.docs if d["kind"] == kind and d["metadata"]["name"] == name]
        assert len(matches) == 1, f"expected one {kind}/{name}, found {len(matches)}"
        return matches[0]

    def pod_owners(self) -> list[dict]:
        return [d for d in self.docs if d["kind"] in WORKLOAD_KINDS]


def helm_template(
    tools: Tools, values=(), sets=(), check: bool = True, extra=(), kube_version: str | None = KUBE_VERSION
) -> subprocess.CompletedProcess:
    """`helm template` of the chart for `kube_version` (None: helm's built-in default, as Tilt renders)."""
    cmd = [tools.helm, "template", RELEASE, str(CHART), "--namespace", NAMESPACE]
    if kube_version:
        cmd += ["--kube-version", kube_version]
    for path in values:
        cmd += ["--values", str(path)]
    for item in sets:
        cmd += ["--set", item]
    cmd += list(extra)
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"helm template failed:\n{result.stderr}")
    return result


def parse(text: str) -> Rendered:
    return Rendered([d for d in yaml.safe_load_all(text) if d])


def pod_spec(doc: dict) -> dict:
    if doc["kind"] == "Pod":
        return doc["spec"]
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return doc["spec"]["template"]["spec"]


def containers(doc: dict) -> list[dict]:
    """All containers (init containers included) of a pod-owning object."""
    spec = pod_spec(doc)
    return spec.get("initContainers", []) + spec["containers"]


def container(doc: dict, name: str) -> dict:
    """The container called `name` of a pod-owning object (api, relay, worker, migrate...)."""
    (found,) = [c for c in containers(doc) if c["name"] == name]
    return found


def pod_labels(doc: dict) -> dict:
    if doc["kind"] == "Pod":
        return doc["metadata"].get("labels", {})
    return doc["spec"]["template"]["metadata"].get("labels", {})


def selector_matches(selector: dict, labels: dict) -> bool:
    """matchLabels / matchExpressions (In, NotIn, Exists, DoesNotExist) against a label set."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True
