"""Runs services of the suite as local processes: `make up` and the end-to-end tests.

Each service runs from its one command, as in Kubernetes: `crm-<svc> migrate` when it has a
database, then `crm-<svc> api`, `crm-<svc> relay` beside it when it has a database (the outbox
relay, audit sealer and janitor, as the chart's sidecar; the API gets RELAY_IN_API=false) and,
when it consumes events, `crm-<svc> worker` (its registry entry says which). RELAY_IN_API=true in
the environment keeps them in the API process instead, with no relay process. Ports and
databases come from the caller.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from crm_common.registry import service, services


def default_ports() -> dict[str, tuple[int, int, int, int]]:
    """Each service's local gRPC, API metrics, worker metrics and relay metrics ports (its registry
    entry); in Kubernetes every pod uses 50051/9464/9465/9466 instead."""
    return {definition.name: definition.ports for definition in services()}


def local_database_url(name: str, environ: Mapping[str, str], var_dir: Path) -> str:
    """Where `make up` keeps service `name`'s data:

    - `<NAME>_DATABASE_URL` when set, as is;
    - else `DATABASE_URL` when set, one server for the suite: `{service}` in it is replaced by the
      name, otherwise each service gets its own database `crm_<name>` on that server (for
      SQLite, the file `crm_<name>.db` beside the one named);
    - else a SQLite file `<var_dir>/<name>.db`.
    """
    own = environ.get(f"{name.upper().replace('-', '_')}_DATABASE_URL")
    if own:
        return own
    shared = environ.get("DATABASE_URL")
    if not shared:
        return f"sqlite:///{var_dir.resolve()}/{name}.db"
    if "{service}" in shared:
        return shared.replace("{service}", name)
    from sqlalchemy import make_url

    url = make_url(shared)
    database = f"crm_{name.replace('-', '_')}"
    if url.get_backend_name() == "sqlite":
        folder = Path(url.database).parent if url.database and url.database != ":memory:" else var_dir
        return url.set(database=str(folder / f"{database}.db")).render_as_string(hide_password=False)
    return url.set(database=database).render_as_string(hide_password=False)


def ensure_database(database_url: str) -> bool:
    """Creates a PostgreSQL database that does not exist yet (reached through the server's
    `postgres` database); True when it was created. Other backends create their files on use."""
    from sqlalchemy import create_engine, make_url, text
    from sqlalchemy.pool import NullPool

    url = make_url(database_url)
    if url.get_backend_name() != "postgresql" or not url.database:
        return False
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": url.database}).first():
                return False
            conn.execute(text(f'CREATE DATABASE "{url.database}"'))
            return True
    finally:
        admin.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServiceSpec:
    name: str
    grpc_port: int
    metrics_port: int
    worker_metrics_port: int
    relay_metrics_port: int
    database_url: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def relay_separate(self) -> bool:
        """Whether the relay process runs beside the API (RELAY_IN_API=false, the default here)."""
        return self.environment("", {})["RELAY_IN_API"].strip().lower() in ("false", "0", "no", "off")

    def environment(self, amqp_uri: str, peers: dict[str, str]) -> dict[str, str]:
        env = dict(os.environ)
        # As in the chart: the relay process relays, seals and cleans up; the caller may say otherwise.
        env.setdefault("RELAY_IN_API", "false")
        env.update(
            {
                "DATABASE_URL": self.database_url,
                "AMQP_URI": amqp_uri,
                "GRPC_HOST": "127.0.0.1",
                "GRPC_PORT": str(self.grpc_port),
                "METRICS_PORT": str(self.metrics_port),
                "WORKER_METRICS_PORT": str(self.worker_metrics_port),
                "RELAY_METRICS_PORT": str(self.relay_metrics_port),
                "GRPC_GRACE_SECONDS": "5",
                # Nothing routes to local processes: a short drain keeps `make down` quick.
                "GRPC_DRAIN_SECONDS": "1",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update({f"{peer.upper()}_GRPC_TARGET": target for peer, target in peers.items()})
        env.update(self.env)
        return env


@dataclass
class RunningProcess:
    service: str
    role: str  # api | relay | worker
    pid: int
    log: str


def _command(service: str, *args: str) -> list[str]:
    """`crm-<svc>` from the same virtualenv as the running interpreter."""
    return [str(Path(sys.executable).with_name(f"crm-{service}")), *args]


class Stack:
    def __init__(self, specs: list[ServiceSpec], amqp_uri: str, run_dir: Path) -> None:
        self.specs = specs
        self.amqp_uri = amqp_uri
        self.run_dir = run_dir
        self.processes: list[RunningProcess] = []

    @property
    def peers(self) -> dict[str, str]:
        return {spec.name: spec.target for spec in self.specs}

    def start(self, wait_seconds: float = 60.0) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for spec in self.specs:
            definition = service(spec.name)
            if definition.database:
                env = spec.environment(self.amqp_uri, self.peers)
                migrate = subprocess.run(_command(spec.name, "migrate"), env=env, capture_output=True, text=True)
                if migrate.returncode != 0:
                    raise RuntimeError(f"crm-{spec.name} migrate failed:\n{migrate.stderr[-2000:]}")
            for role in definition.processes:
                if role != "relay" or spec.relay_separate:
                    self.start_process(spec, role)
        self.save()
        for spec in self.specs:
            self.wait_healthy(spec, wait_seconds)

    def start_process(self, spec: ServiceSpec, role: str) -> RunningProcess:
        """Starts `crm-<svc> <role>` (api, relay or worker), logging to the run directory."""
        log_path = self.run_dir / f"{spec.name}-{role}.log"
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                _command(spec.name, role),
                env=spec.environment(self.amqp_uri, self.peers),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        running = RunningProcess(spec.name, role, proc.pid, str(log_path))
        self.processes = [p for p in self.processes if (p.service, p.role) != (spec.name, role)] + [running]
        return running

    def process(self, service: str, role: str) -> RunningProcess:
        return next(p for p in self.processes if (p.service, p.role) == (service, role))

    def wait_healthy(self, spec: ServiceSpec, wait_seconds: float) -> None:
        deadline = time.monotonic() + wait_seconds
        env = spec.environment(self.amqp_uri, self.peers)
        while time.monotonic() < deadline:
            for proc in self.processes:
                if proc.service == spec.name and not _alive(proc.pid):
                    raise RuntimeError(f"crm-{spec.name} {proc.role} exited; see {proc.log}:\n{_tail(proc.log)}")
            check = subprocess.run(_command(spec.name, "health", "--target", spec.target, "--timeout", "1"), env=env, capture_output=True)
            if check.returncode == 0:
                return
            time.sleep(0.3)
        raise RuntimeError(f"crm-{spec.name} api not healthy at {spec.target} after {wait_seconds}s")

    def save(self) -> None:
        state = {"amqp_uri": self.amqp_uri, "specs": [asdict(s) for s in self.specs], "processes": [asdict(p) for p in self.processes]}
        (self.run_dir / "stack.json").write_text(json.dumps(state, indent=2))

    @classmethod
    def load(cls, run_dir: Path) -> Stack | None:
        path = run_dir / "stack.json"
        if not path.exists():
            return None
        state = json.loads(path.read_text())
        # A stack started before the relay process existed has no relay port: 0 (none to probe).
        stack = cls([ServiceSpec(**{"relay_metrics_port": 0, **s}) for s in state["specs"]], state["amqp_uri"], run_dir)
        stack.processes = [RunningProcess(**p) for p in state["processes"]]
        return stack

    def stop_process(self, proc: RunningProcess, timeout: float = 15.0) -> None:
        """SIGTERM (graceful drain), then SIGKILL if it does not exit in time."""
        if not _alive(proc.pid):
            return
        os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)

    def stop(self) -> None:
        for proc in reversed(self.processes):
            self.stop_process(proc)
        state = self.run_dir / "stack.json"
        if state.exists():
            state.unlink()


def _alive(pid: int) -> bool:
    try:
        waited, _status = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass  # not our child (a stack loaded from disk): ask the kernel instead
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _tail(path: str, lines: int = 20) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
