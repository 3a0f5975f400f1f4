"""Session fixtures of the deployment tests: the tools, and the chart rendered once per scenario.

Helm and the tools venv come from deploy/check.sh, which installs them into
.tools/ on first use.
"""

from __future__ import annotations

import subprocess

import pytest
import yaml
from deploy_helpers import (
    CHART,
    KUBE_BEFORE_SIDECARS,
    KUBE_NATIVE_SIDECARS,
    KUBE_VERSION,
    ROOT,
    SCENARIOS,
    Rendered,
    Tools,
    helm_template,
    parse,
)


@pytest.fixture(scope="session")
def tools() -> Tools:
    """Helm and the tools venv's python, installed by deploy/check.sh when missing."""
    out = subprocess.run(
        ["bash", str(ROOT / "deploy" / "check.sh"), "tools"],
        check=True,
        capture_output=True,
        text=True,
        timeout=900,
    ).stdout
    found = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return Tools(helm=found["HELM"], python=found["TOOLS_PYTHON"])


@pytest.fixture(scope="session")
def render(tools):
    """Renders the chart with extra values files / --set arguments, for KUBE_VERSION unless told."""

    def _render(values=(), sets=(), extra=(), kube_version: str = KUBE_VERSION) -> Rendered:
        return parse(helm_template(tools, values, sets, extra=extra, kube_version=kube_version).stdout)

    return _render


@pytest.fixture(scope="session")
def rendered_by_kube(render) -> dict[str, dict[str, Rendered]]:
    """Every values scenario rendered for Kubernetes 1.28 and 1.29 (the relay container regular, then native)."""
    kubes = (KUBE_BEFORE_SIDECARS, KUBE_NATIVE_SIDECARS)
    return {kube: {name: render(values, kube_version=kube) for name, values in SCENARIOS.items()} for kube in kubes}


@pytest.fixture(scope="session")
def rendered(rendered_by_kube) -> dict[str, Rendered]:
    """The chart rendered with the default, dev, production and config-files values, for KUBE_VERSION."""
    return rendered_by_kube[KUBE_VERSION]


@pytest.fixture(scope="session")
def chart_values() -> dict:
    """The chart's values.yaml."""
    return yaml.safe_load((CHART / "values.yaml").read_text())


@pytest.fixture(scope="session")
def services(chart_values) -> list[str]:
    """Service names of the chart's `services:` map."""
    return sorted(chart_values["services"])
