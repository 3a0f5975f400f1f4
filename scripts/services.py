"""The suite's service names for the Makefile, before any virtualenv exists.

Reads the `crm.services` entry points that each `services/*/pyproject.toml` declares (the
registry's source, crm_common.registry) with the standard library only, and prints the names
sorted, space-separated. Installed, the registry itself is the authority; a test checks the
two agree.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GROUP = "crm.services"


def declared_services(root: Path = ROOT) -> dict[str, Path]:
    """Service name -> its directory, from every services/*/pyproject.toml that registers one."""
    found: dict[str, Path] = {}
    for pyproject in sorted(root.glob("services/*/pyproject.toml")):
        entry_points = tomllib.loads(pyproject.read_text())["project"].get("entry-points", {}).get(GROUP, {})
        for name in entry_points:
            if name in found:
                sys.exit(f"service {name!r} is registered by {found[name]} and {pyproject.parent}")
            found[name] = pyproject.parent
    return dict(sorted(found.items()))


if __name__ == "__main__":
    print(" ".join(declared_services()))
