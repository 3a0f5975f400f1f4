"""`make new-service name=<name> [package=crm_x] [proto=x]`: casts a new service from the mould.

Renders scripts/service-template (copier) into the repository: the service's folder under
services/<name>/ (with its registry entry, the only place it is declared) and its contracts
under protos/crm/<proto>/v1/. Then adds what Helm and Tilt need as data of their own (the
chart's `services:` block and the Tiltfile's port line), and prints every file it wrote outside
services/<name>/. The Makefile then regenerates libs/protos and installs the package.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from crm_common.registry import services

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "scripts" / "service-template"
VALUES = Path("deploy/helm/crm/values.yaml")
TILTFILE = Path("Tiltfile")
NAME = re.compile(r"^[a-z][a-z0-9-]{1,28}[a-z0-9]$")


def next_ports() -> tuple[int, int, int, int]:
    """One past the highest local gRPC, metrics, worker-metrics and relay-metrics ports the registry holds."""
    taken = [definition.ports for definition in services()]
    if not taken:
        return (50051, 9471, 9481, 9491)
    return (max(p[0] for p in taken) + 1, max(p[1] for p in taken) + 1, max(p[2] for p in taken) + 1, max(p[3] for p in taken) + 1)


def add_values_block(root: Path, name: str, description: str, grpc_service: str) -> None:
    """Adds the service's block at the end of the chart's `services:` map in values.yaml."""
    path = root / VALUES
    lines = path.read_text().splitlines(keepends=True)
    if any(line.rstrip() == f"  {name}:" for line in lines):
        return
    end = lines.index("services:\n") + 1
    while end < len(lines) and (lines[end].startswith(" ") or not lines[end].strip()):
        end += 1
    while not lines[end - 1].strip():
        end -= 1
    block = [
        f"  # {description[:1].upper()}{description[1:]}.\n",
        f"  {name}:\n",
        "    # Readiness probe's gRPC service: the service's contract (crm.<proto>.v1.<Title>Service).\n",
        f"    healthService: {grpc_service}\n",
        "    # No event worker yet (the service consumes no events); enable it with its first consumer.\n",
        "    worker:\n",
        "      enabled: false\n",
    ]
    path.write_text("".join(lines[:end] + block + lines[end:]))


def add_tilt_line(root: Path, name: str, ports: tuple[int, int, int, int], package: str) -> None:
    """Adds `'<name>': {...}` to the Tiltfile's SERVICES map (no worker_metrics: no worker; its
    relay_metrics: the chart runs the relay container beside its API)."""
    path = root / TILTFILE
    text = path.read_text()
    if f"'{name}':" in text:
        return
    start = text.index("SERVICES = {")
    end = text.index("\n}", start)
    extra = "" if package == "crm_" + name.replace("-", "_") else f", 'package': '{package}'"
    line = f"\n    '{name}': {{'grpc': {ports[0]}, 'metrics': {ports[1]}, 'relay_metrics': {ports[3]}{extra}}},"
    path.write_text(text[:end] + line + text[end:])


def render(root: Path, answers: dict[str, object]) -> None:
    from copier import run_copy

    # A plain copy of the template: copier would otherwise read a git template at its last commit.
    with tempfile.TemporaryDirectory() as scratch:
        template = Path(scratch) / "template"
        shutil.copytree(TEMPLATE, template)
        run_copy(
            str(template),
            str(root),
            data=answers,
            defaults=True,
            overwrite=False,
            quiet=True,
            answers_file=f"services/{answers['name']}/.copier-answers.yml",
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="short name, e.g. territory-quota")
    parser.add_argument("--package", default="", help="Python package (default crm_<name>)")
    parser.add_argument("--proto", default="", help="proto package short name (default <name> without hyphens)")
    parser.add_argument("--description", default="", help="one line: what the service owns")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    root: Path = args.root
    if not NAME.match(args.name):
        parser.error("name: lowercase letters, digits and hyphens, 3-30 characters")
    if args.name in {definition.name for definition in services()} or (root / "services" / args.name).exists():
        parser.error(f"services/{args.name} exists already")
    package = args.package or f"crm_{args.name.replace('-', '_')}"
    proto = args.proto or args.name.replace("-", "")
    if (root / "protos" / "crm" / proto).exists():
        parser.error(f"protos/crm/{proto} exists already")
    ports = next_ports()
    # Class names: from the proto package when one is given (territory → Territory), else the name.
    title = "".join(part.capitalize() for part in re.split(r"[-_]", args.proto or args.name))
    description = args.description or f"the {args.name} service of the CRM suite"
    before = _changed(root)
    render(
        root,
        {
            "name": args.name,
            "package": package,
            "proto": proto,
            "title": title,
            # File stem of the service's contract: <Title>Service lives in <stem>_service.proto.
            "stem": re.sub(r"(?<!^)(?=[A-Z])", "_", title).lower(),
            "description": description,
            "grpc_port": ports[0],
            "metrics_port": ports[1],
            "worker_metrics_port": ports[2],
            "relay_metrics_port": ports[3],
        },
    )
    add_values_block(root, args.name, description, f"crm.{proto}.v1.{title}Service")
    add_tilt_line(root, args.name, ports, package)
    written = sorted(_changed(root) - before)
    outside = [path for path in written if not path.startswith(f"services/{args.name}/")]
    print(f"services/{args.name}: {len(written) - len(outside)} file(s); outside it, {len(outside)}:")
    for path in outside:
        print(f"  {path}")
    print(f"  (and `make protos` generates libs/protos/src/crm/{proto}/ from the contracts)")
    return 0


def _changed(root: Path) -> set[str]:
    """Files git sees as new or modified under root (each untracked file listed)."""
    out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=root, capture_output=True, text=True, check=True).stdout
    return {line[3:] for line in out.splitlines()}


if __name__ == "__main__":
    sys.exit(main())
