"""`make up` / `make down` / `make status`: the suite on loopback, SQLite files (or the server
DATABASE_URL names), local RabbitMQ. The services are the registry's (crm_common.registry)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from crm_common.devstack import ServiceSpec, Stack, ensure_database, local_database_url
from crm_common.registry import names, service
from crm_common.settings import DEV_JWT_KEY

RUN_DIR = Path("var/run")


def up(services: list[str]) -> int:
    if Stack.load(RUN_DIR) is not None:
        print("the suite is already up (make down first); `make status` shows it")
        return 1
    Path("var").mkdir(exist_ok=True)
    specs = []
    for name in services:
        definition = service(name)
        url = ""
        if definition.database:
            url = local_database_url(name, os.environ, Path("var"))
            try:
                ensure_database(url)
            except Exception as exc:
                print(f"could not create the database of {name} ({url}): {exc}", file=sys.stderr)
                return 1
        specs.append(ServiceSpec(name, *definition.ports, url))
    stack = Stack(specs, os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/%2F"), RUN_DIR)
    try:
        stack.start()
    except RuntimeError as exc:
        print(f"could not start the suite: {exc}", file=sys.stderr)
        stack.stop()
        return 1
    print("CRM suite is up (JWT: the dev key; get a token with `.venv/bin/crmctl token --role admin`):")
    for spec in specs:
        worker = f" :{spec.worker_metrics_port} (worker)" if service(spec.name).worker else ""
        relay = f" :{spec.relay_metrics_port} (relay)" if service(spec.name).database and spec.relay_separate else ""
        db = f"   db {spec.database_url}" if spec.database_url else ""
        print(f"  {spec.name:<12} gRPC {spec.target}   metrics :{spec.metrics_port} (api){relay}{worker}{db}")
    print(f"  logs in {RUN_DIR}/*.log; stop with `make down`")
    if os.environ.get("JWT_KEY", DEV_JWT_KEY) == DEV_JWT_KEY:
        print("  (dev signing key in use: never expose this setup beyond loopback)")
    return 0


def down() -> int:
    stack = Stack.load(RUN_DIR)
    if stack is None:
        print("nothing is running")
        return 0
    stack.stop()
    print("CRM suite stopped")
    return 0


def status() -> int:
    stack = Stack.load(RUN_DIR)
    if stack is None:
        print("the suite is not running (make up)")
        return 1
    from crm_common.cli import _health

    healthy = True
    for spec in stack.specs:
        healthy = _health(spec.target, 1.0) == 0 and healthy
    return 0 if healthy else 1


if __name__ == "__main__":
    command, *rest = sys.argv[1:] or ["status"]
    sys.exit({"up": lambda: up(rest or names()), "down": down, "status": status}[command]())
