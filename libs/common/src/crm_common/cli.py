"""`crm-<service>`: the one command of every service image (api, relay, worker, migrate, health,
dlq, pii, audit).

Built from the service's registry entry (crm_common.registry), so the command offers what the
service has: no `migrate`, `relay` or `audit` without a database, no `worker` and `dlq` without a
worker, `pii` only where PII is stored encrypted. A subcommand a service does not have is not offered at all
(argparse says it is an invalid choice, exit 2), rather than a no-op that could hide a
misconfigured deployment.

Imports are lazy: `worker` must monkey-patch with eventlet before anything opens a socket,
and `api` must never import eventlet at all.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import dataclass
from typing import Any

from crm_common.registry import ServiceDefinition, load


@dataclass(frozen=True)
class ServiceCommand:
    definition: ServiceDefinition

    @classmethod
    def from_definition(cls, definition: ServiceDefinition) -> ServiceCommand:
        return cls(definition)

    @property
    def name(self) -> str:
        return self.definition.name

    def parser(self) -> argparse.ArgumentParser:
        d = self.definition
        parser = argparse.ArgumentParser(prog=d.command, description=f"The {d.name} service of the CRM suite.")
        sub = parser.add_subparsers(dest="command", required=True)
        sub.add_parser("api", help="run the gRPC API" + (" (and its relay, sealer, janitor unless RELAY_IN_API=false)" if d.database else ""))
        if d.database:
            sub.add_parser("relay", help="run the outbox relay, the audit sealer and the platform janitor (the API with RELAY_IN_API=false)")
        if d.worker:
            sub.add_parser("worker", help="run the nameko event worker")
        if d.database:
            sub.add_parser("migrate", help="apply database migrations (alembic upgrade head)")
        health = sub.add_parser("health", help="exit 0 when the gRPC health check says SERVING")
        health.add_argument("--target", default="", help="host:port (default: this service's GRPC_HOST:GRPC_PORT)")
        health.add_argument("--timeout", type=float, default=3.0)
        if d.worker:
            dlq = sub.add_parser("dlq", help="dead-letter queues of this service's event consumers")
            dlq.add_argument("action", choices=["list", "replay"])
            dlq.add_argument("--event-id", default=None, help="replay only this event")
        if d.database:
            audit = sub.add_parser("audit", help="the audit log: seal pending rows, or seal and verify the hash chain (exit 1 when broken)")
            audit.add_argument("action", choices=["verify", "seal"])
            audit.add_argument("--anchor", default="", help="SEQ:HASH printed by an earlier verify: also catches deleted newest rows")
        if d.pii_maintenance:
            pii = sub.add_parser("pii", help="rotate stored PII: re-encrypt under the current key, or recompute blind indexes")
            pii.add_argument("action", choices=["reencrypt", "reindex"])
        return parser

    def main(self, argv: list[str] | None = None) -> int:
        args = self.parser().parse_args(argv)
        d = self.definition

        if args.command == "worker":
            from crm_common.events.green import prepare_worker_process

            prepare_worker_process()

        from crm_common.settings import load_settings

        settings = load_settings(load(d.settings))
        if args.command == "api":
            from crm_common.grpc import server

            server.run(settings, load(d.bootstrap))
        elif args.command == "relay":
            from crm_common import relay_process

            # The service publishes on the exchange of its registry name (`<name>.events`).
            relay_process.run(settings, d.name)
        elif args.command == "worker":
            from crm_common.events.worker import run_worker

            run_worker(settings, load(d.worker_class))
        elif args.command == "migrate":
            from crm_common.migrations import upgrade

            upgrade(d.migrations, settings.resolved_database_url())
            print(f"{d.name}: database at head")
        elif args.command == "health":
            return _health(args.target or f"{settings.grpc_host}:{settings.grpc_port}", args.timeout)
        elif args.command == "dlq":
            return self._dlq(settings, args.action, args.event_id)
        elif args.command == "pii":
            return self._pii(settings, args.action)
        elif args.command == "audit":
            return audit_command(self.name, settings, args.action, args.anchor)
        return 0

    def _pii(self, settings: Any, action: str) -> int:
        from crm_common.db import service_engine
        from crm_common.pii import load_pii

        cipher, index = load_pii(settings.pii_keys, settings.pii_index_key)
        maintenance = importlib.import_module(self.definition.pii_maintenance)
        engine = service_engine(settings)
        if action == "reencrypt":
            print(f"{self.name}: {maintenance.reencrypt(engine, cipher)} value(s) re-encrypted under the current key")
        else:
            print(f"{self.name}: {maintenance.reindex(engine, cipher, index)} row(s) reindexed")
        engine.dispose()
        return 0

    def _dlq(self, settings: Any, action: str, event_id: str | None) -> int:
        from crm_common.events.dead_letters import consumer_queues, list_dead_letters, replay_dead_letters

        queues = consumer_queues(load(self.definition.worker_class))
        if action == "list":
            letters = list_dead_letters(settings.amqp_uri, queues)
            for letter in letters:
                print(
                    f"{letter.queue}\t{letter.event_type}\t{letter.event_id}\tattempts={letter.attempts}\treplayed={letter.replayed}\t{letter.dead_lettered_at}\t{letter.error}"
                )
            print(f"{len(letters)} dead letter(s) in {len(queues)} queue(s)", file=sys.stderr)
        else:
            count = replay_dead_letters(settings.amqp_uri, queues, event_id)
            print(f"replayed {count} dead letter(s)")
        return 0


def audit_command(name: str, settings: Any, action: str, anchor: str = "") -> int:
    """`crm-<service> audit seal|verify`: verify seals what is pending first, then walks the chain."""
    from crm_common.audit import chain
    from crm_common.db import service_engine

    expected: tuple[int, str] | None = None
    if anchor:
        seq, _, digest = anchor.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            print(f"--anchor must be SEQ:HASH (a seal_seq and its 64-hex row_hash), not {anchor!r}", file=sys.stderr)
            return 2
        expected = (int(seq), digest)
    engine = service_engine(settings)
    try:
        sealed = chain.seal(engine)
        if action == "seal":
            print(f"{name}: {sealed} audit row(s) sealed")
            return 0
        result = chain.verify(engine, expected)
    finally:
        engine.dispose()
    if result.broken is None:
        # The head, to keep elsewhere and pass as --anchor later: catches deleted newest rows.
        print(f"{name}: audit log OK: {result.count} row(s) chained; anchor {result.head_seq}:{result.head_hash}")
        if result.unsealed:
            print(f"{name}: {result.unsealed} row(s) committed during the walk wait for the next seal", file=sys.stderr)
        return 0
    link = result.broken
    where = f"seal_seq {link.seal_seq}" + (f", id {link.id}" if link.id is not None else "")
    print(f"{name}: audit log BROKEN at {where}: {link.problem}: {link.detail} ({result.count} row(s) before it hold)")
    return 1


def _health(target: str, timeout: float) -> int:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    try:
        with grpc.insecure_channel(target) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout)
    except grpc.RpcError as exc:
        print(f"{target}: {exc.code().name}", file=sys.stderr)
        return 1
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    print(f"{target}: {status}")
    return 0 if reply.status == health_pb2.HealthCheckResponse.SERVING else 1
