"""The service image's Dockerfile, parsed with dockerfile-parse, and the commands the chart runs in it."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import tomllib
import zipfile

import pytest
from deploy_helpers import ROOT, SERVICES, containers, import_tool

from crm_common.registry import service as registered

DOCKERFILES = sorted({*ROOT.glob("Dockerfile*"), *(ROOT / "deploy" / "docker").glob("Dockerfile*")})
PINNED_PYTHON = re.compile(r"^python:3\.11\.\d+-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?$")
BUILD_TOOLS = re.compile(
    r"\b(gcc|g\+\+|cc|clang|make|build-essential|[\w.+-]+-dev|pip\s+install|apt-get\s+install|"
    r"--mount=type=cache)\b"
)
SUBCOMMANDS = {"api", "relay", "worker", "migrate", "health"}


@dataclasses.dataclass
class Stage:
    name: str
    parent: str
    instructions: list[dict]


def stages_of(path, tools) -> tuple[list[Stage], dict[str, str]]:
    parser = import_tool("dockerfile_parse", tools).DockerfileParser(path=str(path))
    global_args, stages = {}, []
    for item in parser.structure:
        instruction, value = item["instruction"], item["value"]
        if instruction == "FROM":
            image, _, name = value.partition(" AS ") if " AS " in value else value.partition(" as ")
            image = re.sub(r"\$\{?(\w+)\}?", lambda m: global_args.get(m.group(1), m.group(0)), image.strip())
            stages.append(Stage(name.strip() or str(len(stages)), image, []))
        elif not stages and instruction == "ARG" and "=" in value:
            key, _, default = value.partition("=")
            global_args[key.strip()] = default.strip().strip('"')
        elif stages and instruction != "COMMENT":
            stages[-1].instructions.append(item)
    return stages, global_args


def chain(stages: list[Stage], stage: Stage) -> list[Stage]:
    """The stage and the stages it is built FROM, nearest first."""
    by_name = {s.name: s for s in stages}
    out = [stage]
    while out[-1].parent in by_name:
        out.append(by_name[out[-1].parent])
    return out


@pytest.fixture(scope="module", params=DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def dockerfile(request, tools):
    stages, args = stages_of(request.param, tools)
    return request.param, stages, args


def test_there_is_one_shared_dockerfile():
    assert [p.relative_to(ROOT).as_posix() for p in DOCKERFILES] == ["Dockerfile"]


def test_base_image_is_pinned(dockerfile):
    _, stages, _ = dockerfile
    names = {s.name for s in stages}
    external = {s.parent for s in stages if s.parent not in names}
    assert external, "no external base image"
    for image in external:
        assert PINNED_PYTHON.match(image), f"base image {image!r} is not a pinned slim Python 3.11 release"


def test_final_stage_is_the_production_runtime(dockerfile):
    _, stages, _ = dockerfile
    final_chain = [s.name for s in chain(stages, stages[-1])]
    assert "dev" not in final_chain, "building without --target must never give the dev image"
    assert "build" not in final_chain


def test_final_stage_runs_as_non_root(dockerfile):
    _, stages, _ = dockerfile
    users = [i["value"].strip() for s in chain(stages, stages[-1]) for i in s.instructions if i["instruction"] == "USER"]
    assert users, "no USER instruction: the image would run as root"
    user = users[0].split(":")[0]  # nearest stage first
    assert user not in ("0", "root"), user
    assert user.isdigit(), "numeric UID so that runAsNonRoot can be verified by the kubelet"


def test_final_stage_has_no_build_tools_or_caches(dockerfile):
    _, stages, _ = dockerfile
    for stage in chain(stages, stages[-1]):
        for item in stage.instructions:
            if item["instruction"] == "RUN":
                assert not BUILD_TOOLS.search(item["value"]), f"{stage.name}: {item['value'][:80]}"
            if item["instruction"] in ("COPY", "ADD"):
                assert item["value"].startswith("--from=build "), f"{stage.name} copies from the context: {item['value']}"
    env = " ".join(i["value"] for s in chain(stages, stages[-1]) for i in s.instructions if i["instruction"] == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env and "PYTHONUNBUFFERED=1" in env


def test_build_stage_installs_pinned_deps_into_a_venv(dockerfile):
    _, stages, _ = dockerfile
    build = next(s for s in stages if s.name == "build")
    runs = " ".join(i["value"] for i in build.instructions if i["instruction"] == "RUN")
    copies = [i["value"] for i in build.instructions if i["instruction"] == "COPY"]
    assert "python -m venv /opt/venv" in runs
    assert re.search(r"pip install -c constraints\.txt \./libs/protos \./libs/common \./services/\$\{SERVICE\}", runs)
    assert "constraints.txt ./" in copies and "libs/protos libs/protos" in copies, "generated proto package included"
    runtime = next(s for s in stages if s.name == "runtime")
    assert "--from=build /opt/venv /opt/venv" in [i["value"] for i in runtime.instructions if i["instruction"] == "COPY"]


def test_dockerignore_keeps_the_context_small():
    lines = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert lines[0] == "*", "whitelist: everything is excluded unless listed"
    assert {"!constraints.txt", "!libs/", "!services/", "!deploy/docker/"} <= set(lines)
    assert {"**/tests/", "**/__pycache__/", "**/.venv/"} <= set(lines)


def chart_commands(rendered) -> dict[str, set[str]]:
    """Console script -> subcommands, over every container the chart runs (any scenario)."""
    commands: dict[str, set[str]] = {}
    for r in rendered.values():
        for doc in r.pod_owners():
            for c in containers(doc):
                argv = [a for a in c.get("command", []) if a not in ("crm-dev-reload", "--")]
                if argv and argv[0].startswith("crm-"):
                    commands.setdefault(argv[0], set()).add(argv[1])
    return commands


def test_chart_runs_one_console_script_per_service(rendered, services):
    commands = chart_commands(rendered)
    assert set(commands) == {f"crm-{s}" for s in services}
    for script, subcommands in commands.items():
        assert subcommands == SUBCOMMANDS, script


@pytest.mark.parametrize("service", SERVICES)
def test_chart_commands_are_console_scripts_of_the_service(rendered, service):
    pyproject = ROOT / "services" / service / "pyproject.toml"
    if not pyproject.exists():
        pytest.skip(f"{pyproject.relative_to(ROOT)} does not exist yet")
    project = tomllib.loads(pyproject.read_text())["project"]
    script = f"crm-{service}"
    assert script in project.get("scripts", {}), f"[project.scripts] of services/{service} lacks {script}"
    assert script in chart_commands(rendered)
    # When the service is installed in the repo venv, its CLI must list the subcommands the chart runs.
    installed = ROOT / ".venv" / "bin" / script
    if installed.exists():
        result = subprocess.run([str(installed), "--help"], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        for sub in SUBCOMMANDS:
            assert re.search(rf"\b{sub}\b", result.stdout), f"`{script} --help` does not list {sub}"


@pytest.mark.parametrize("service", SERVICES)
def test_build_context_has_what_the_dockerfile_copies(service):
    if not (ROOT / "services" / service).exists():
        pytest.skip(f"services/{service} does not exist yet")
    for path in ("constraints.txt", "libs/protos", "libs/common", f"services/{service}", "deploy/docker/dev_reload.py"):
        assert (ROOT / path).exists(), path


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    """Wheels of what the image's `pip install` installs non-editably (built offline from the repo venv's setuptools)."""
    if not (ROOT / "services").exists():
        pytest.skip("services/ does not exist yet")
    out = tmp_path_factory.mktemp("wheels")
    packages = ["libs/protos", "libs/common", *(f"services/{s}" for s in SERVICES)]
    subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "python"),
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(out),
            *(str(ROOT / p) for p in packages),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return {w.name.split("-")[0]: zipfile.ZipFile(w) for w in out.glob("*.whl")}


@pytest.mark.parametrize("service", SERVICES)
def test_installed_service_carries_its_migrations_and_command(wheels, service):
    package = registered(service).package
    # Wheels are named by distribution (crm-<name>), which may differ from the package.
    wheel = wheels["crm_" + service.replace("-", "_")]
    names = set(wheel.namelist())
    source = ROOT / "services" / service / "src" / package / "migrations"
    expected = {f"{package}/migrations/{p.relative_to(source).as_posix()}" for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert expected <= names, f"missing from the installed package: {sorted(expected - names)}"
    assert any(n.startswith(f"{package}/migrations/versions/") and n.endswith(".py") and not n.endswith("__init__.py") for n in names), (
        "no migration revision ships"
    )
    entry_points = next(wheel.read(n).decode() for n in names if n.endswith("entry_points.txt"))
    assert re.search(rf"^crm-{service}\s*=", entry_points, re.MULTILINE)


def test_installed_protos_carry_the_generated_code(wheels):
    names = set(wheels["crm_protos"].namelist())
    for service in SERVICES:
        contract = registered(service).grpc_service.rpartition(".")[0].replace(".", "/")  # crm/lead/v1
        assert any(n.startswith(f"{contract}/") and n.endswith("_pb2_grpc.py") for n in names), service


def test_installed_common_carries_the_platform_migrations(wheels):
    """Every service's `migrate` applies the platform's history (outbox, inbox, ...) from crm_common."""
    names = set(wheels["crm_common"].namelist())
    source = ROOT / "libs" / "common" / "src" / "crm_common" / "platform_migrations"
    expected = {f"crm_common/platform_migrations/{p.relative_to(source).as_posix()}" for p in source.rglob("*.py") if "__pycache__" not in p.parts}
    assert any(n.startswith("crm_common/platform_migrations/versions/platform_") for n in expected)
    assert expected <= names, f"missing from the installed package: {sorted(expected - names)}"
