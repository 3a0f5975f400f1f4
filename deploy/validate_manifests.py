"""Validates rendered Helm output against Kubernetes JSON schemas, offline.

Run by deploy/check.sh with the tools venv (kubernetes-validate ships the
schemas of every Kubernetes minor it knows). Every object is checked in strict
mode (unknown fields rejected) against the given Kubernetes versions (`latest`:
the newest the package knows), by default the oldest the chart supports
(Chart.yaml kubeVersion) and the newest. Prometheus Operator objects have no
schema there; they get a structural check of the fields the chart relies on
instead.

Usage: python deploy/validate_manifests.py [--kube-version X.Y.Z|latest ...] FILE...
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

import yaml
from kubernetes_validate import utils as kv

# The definitions file of a version is several MB: load each schema file once.
kv.schema_contents = functools.lru_cache(maxsize=None)(kv.schema_contents)

MONITORING_REQUIRED = {
    "ServiceMonitor": ("selector", "endpoints"),
    "PodMonitor": ("selector", "podMetricsEndpoints"),
    "PrometheusRule": ("groups",),
}


def _check_monitoring(doc: dict) -> list[str]:
    kind = doc.get("kind")
    spec = doc.get("spec") or {}
    errors = []
    if kind not in MONITORING_REQUIRED:
        return [f"unknown monitoring.coreos.com kind {kind}"]
    for field in MONITORING_REQUIRED[kind]:
        if not spec.get(field):
            errors.append(f"spec.{field} is missing or empty")
    for endpoint in spec.get("endpoints", []) + spec.get("podMetricsEndpoints", []):
        if not isinstance(endpoint.get("port"), str):
            errors.append("every endpoint needs a named port")
    for group in spec.get("groups", []):
        if not group.get("name") or not isinstance(group.get("rules"), list):
            errors.append("every rule group needs a name and a list of rules")
    return errors


def validate_file(path: Path, versions: list[str]) -> tuple[int, list[str]]:
    count, errors = 0, []
    for doc in yaml.safe_load_all(path.read_text()):
        if not doc:
            continue
        count += 1
        name = f"{path.name}: {doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"
        if str(doc.get("apiVersion", "")).startswith("monitoring.coreos.com/"):
            errors += [f"{name}: {e}" for e in _check_monitoring(doc)]
            continue
        for version in versions:
            try:
                kv.validate(doc, version, strict=True)
            except kv.ValidationError as e:
                where = ".".join(str(p) for p in e.path)
                errors.append(f"{name} (k8s {e.version}): {where}: {e.message}")
            except kv.SchemaNotFoundError as e:
                errors.append(f"{name}: {e.message}")
    return count, errors


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kube-version", action="append", dest="versions")
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    versions = [kv.latest_version() if v == "latest" else v for v in args.versions or ["1.25.0", "latest"]]
    total, failures = 0, []
    for path in args.files:
        count, errors = validate_file(path, versions)
        total += count
        failures += errors
    for line in failures:
        print(f"ERROR {line}")
    status = "FAILED" if failures else "ok"
    print(f"kubernetes schemas ({', '.join(versions)}, strict): {total} objects, {len(failures)} errors: {status}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
