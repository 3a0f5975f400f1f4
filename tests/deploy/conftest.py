"""Session fixtures of the deployment tests: the tools, and the chart rendered once per scenario.

Helm and the tools venv come from deploy/check.sh, which installs them into
.tools/ on first use.
"""

from __future__ import annotations

import subprocess

import pytest
import yaml
from deploy_helpers import CHART, ROOT, SCENARIOS, Rendered, Tools, helm_template, parse


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
    """Renders the chart with extra values files / --set arguments."""

    def _render(values=(), sets=(), extra=()) -> Rendered:
        return parse(helm_template(tools, values, sets, extra=extra).stdout)

    return _render


@pytest.fixture(scope="session")
def rendered(render) -> dict[str, Rendered]:
    """The chart rendered with the default, dev and production values."""
    return {name: render(values) for name, values in SCENARIOS.items()}


@pytest.fixture(scope="session")
def chart_values() -> dict:
    """The chart's values.yaml."""
    return yaml.safe_load((CHART / "values.yaml").read_text())


@pytest.fixture(scope="session")
def services(chart_values) -> list[str]:
    """Service names of the chart's `services:` map."""
    return sorted(chart_values["services"])
